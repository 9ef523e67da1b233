/**
 * Shared set-up for the API benchmarks: the provider on the simulator with
 * 1,000 deployed, ready functions, and a bare Hono baseline server.
 */
import { Hono } from "hono";
import { type Harness, startProvider } from "../tests/support/harness.ts";

export const FUNCTION_COUNT = 1_000;

const images = ["functions/alpine:latest", "ghcr.io/openfaas/of-echo:0.2.0", "ghcr.io/openfaas/alpine:3.19"];
const teams = ["payments", "search", "growth", "platform", "data"];
const processes = ["env", "cat", "sha512sum", "wc", "node index.js"];

/** A function deployment request that looks like a real one, varied by index. */
export const functionRequest = (i: number) => {
  const name = `fn-${String(i).padStart(4, "0")}`;
  const req: Record<string, unknown> = {
    service: name,
    image: images[i % images.length],
    envProcess: processes[i % processes.length],
    labels: {
      team: teams[i % teams.length],
      tier: i % 2 === 0 ? "frontend" : "backend",
      "com.openfaas.scale.min": "1",
      "com.openfaas.scale.max": String(5 + (i % 20)),
      ...(i % 3 === 0 ? { canary_build: "true" } : {}),
    },
    annotations: {
      "topic": `orders.${i % 7}`,
      "com.openfaas.health.http.path": "/_/health",
      ...(i % 4 === 0 ? { "some-json": '{\n  "owner": "team-' + teams[i % teams.length] + '"\n}' } : {}),
    },
    envVars: {
      write_timeout: "10s",
      read_timeout: "10s",
      exec_timeout: `${10 + (i % 50)}s`,
      LOG_LEVEL: i % 2 === 0 ? "info" : "debug",
      ...(i % 5 === 0 ? { DB_HOST: `db-${i % 10}.internal`, DB_PORT: "5432" } : {}),
    },
    limits: { memory: `${64 + 32 * (i % 4)}Mi`, cpu: `${20 + 10 * (i % 3)}m` },
    requests: { memory: `${16 + 8 * (i % 4)}Mi`, cpu: "5m" },
    readOnlyRootFilesystem: i % 2 === 0,
  };
  if (i % 10 === 0) req.constraints = ["kubernetes.io/os=linux"];
  return { name, req };
};

export interface Setup {
  readonly provider: Harness;
  readonly names: string[];
  /** One status response body (of names[0]) and the list response body, as served by the provider. */
  readonly statusBody: string;
  readonly listBody: string;
  /** Their sizes in bytes (UTF-8). */
  readonly statusBytes: number;
  readonly listBytes: number;
}

/** Starts the provider, deploys the functions through the HTTP API and waits (virtually) until all are ready. */
export const setUpProvider = async (count = FUNCTION_COUNT): Promise<Setup> => {
  // 110 pods per simulated node: give the scheduler room for every function's pod.
  const provider = await startProvider({ sim: { nodes: Math.ceil(count / 100) + 1, nodeCpu: "8" } });
  const names: string[] = [];
  const concurrency = 16;
  for (let start = 0; start < count; start += concurrency) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + concurrency); i++) {
      const { name, req } = functionRequest(i);
      names.push(name);
      batch.push(provider.call("POST", "/system/functions", req));
    }
    for (const res of await Promise.all(batch)) {
      if (res.status !== 202) throw new Error(`deploy failed: ${res.status} ${res.text}`);
    }
  }
  // Image pull, start-up and readiness probes all run on the virtual clock.
  for (let t = 0; t < 12; t++) await provider.advance(5_000);
  const list = await provider.call("GET", "/system/functions");
  if (list.status !== 200) throw new Error(`list failed: ${list.status} ${list.text}`);
  const items = JSON.parse(list.text) as { name: string; availableReplicas: number }[];
  if (items.length !== count) throw new Error(`expected ${count} functions, list has ${items.length}`);
  const notReady = items.filter((f) => f.availableReplicas < 1).length;
  if (notReady > 0) throw new Error(`${notReady} of ${count} functions have no available replica`);
  const status = await provider.call("GET", `/system/function/${names[0]}`);
  if (status.status !== 200) throw new Error(`status failed: ${status.status} ${status.text}`);
  const bytes = (s: string) => new TextEncoder().encode(s).byteLength;
  return {
    provider,
    names,
    statusBody: status.text,
    listBody: list.text,
    statusBytes: bytes(status.text),
    listBytes: bytes(list.text),
  };
};

/** Runs `fn` with console output muted (the provider logs one line per deployed function). */
export const quietly = async <A>(fn: () => Promise<A>): Promise<A> => {
  const saved = { log: console.log, info: console.info, debug: console.debug };
  console.log = console.info = console.debug = () => {};
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
};

/** A precomputed JSON string of exactly `size` bytes (UTF-8). */
export const jsonOfSize = (size: number): string => {
  const base = '{"padding":""}';
  if (size < base.length) throw new Error(`cannot build JSON of ${size} bytes`);
  return `{"padding":"${"x".repeat(size - base.length)}"}`;
};

export interface Baseline {
  readonly url: string;
  close(): Promise<void>;
}

/** A bare Hono app on Deno.serve returning precomputed JSON bodies of the given sizes. */
export const startBaseline = (statusSize: number, listSize: number): Baseline => {
  const statusJson = jsonOfSize(statusSize);
  const listJson = jsonOfSize(listSize);
  const app = new Hono();
  app.get("/status", (c) => c.body(statusJson, 200, { "Content-Type": "application/json" }));
  app.get("/list", (c) => c.body(listJson, 200, { "Content-Type": "application/json" }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
};

/** GETs a URL and consumes the body; throws on a non-200. */
export const get = async (url: string): Promise<number> => {
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return body.byteLength;
};
