/** bench/setup.ts and bench/proxy_setup.ts import the harness from here; it lives in support/harness.ts. */
export * from "./support/harness.ts";
