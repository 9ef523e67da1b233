/**
 * API latency over real HTTP on 127.0.0.1: the provider (on the simulator, with
 * 1,000 ready functions) against a bare Hono app serving precomputed JSON of the
 * same size. Target: the provider within 2x of the baseline.
 *
 *   deno task bench         # this file (Deno.bench)
 *   deno task bench:check   # bench/run.ts: p50/p99/mean table, exits 1 above 2x
 */
import { get, quietly, setUpProvider, startBaseline } from "./setup.ts";

const setup = await quietly(() => setUpProvider());
const { provider, names } = setup;
const baseline = startBaseline(setup.statusBytes, setup.listBytes);

let next = 0;
const nextName = () => names[next++ % names.length];

Deno.bench({
  name: "baseline: bare Hono, status-sized JSON",
  group: "status",
  baseline: true,
  fn: async () => {
    await get(`${baseline.url}/status`);
  },
});

Deno.bench({
  name: "provider: GET /system/function/<name>",
  group: "status",
  fn: async () => {
    await get(`${provider.url}/system/function/${nextName()}`);
  },
});

Deno.bench({
  name: "baseline: bare Hono, list-sized JSON",
  group: "list",
  baseline: true,
  fn: async () => {
    await get(`${baseline.url}/list`);
  },
});

Deno.bench({
  name: `provider: GET /system/functions (${names.length} items)`,
  group: "list",
  fn: async () => {
    await get(`${provider.url}/system/functions`);
  },
});

// Deno.bench has no after-all hook; close the servers once the runner is done.
globalThis.addEventListener("unload", () => {
  void baseline.close();
  void provider.close();
});
