/**
 * Starts the provider on the simulator, in virtual time (TestClock), behind a
 * real HTTP server on 127.0.0.1 with an ephemeral port.
 */
import { Effect, Layer, ManagedRuntime } from "effect";
import { TestClock } from "effect/testing";
import { loadConfig } from "../../src/config/load.ts";
import type { ProviderConfig } from "../../src/config/config.ts";
import { makeProvider } from "../../src/app.ts";
import { makeHttpKubeApi } from "../../src/kube/http.ts";
import type { ProxyOptions } from "../../src/invoke/proxy.ts";
import type { Credentials } from "../../src/http/middleware/basicauth.ts";
import { simBackend, type SimBackendOptions } from "../../sim/layer.ts";
import { SimCluster, type SimClusterShape } from "../../sim/cluster.ts";
import { Caches } from "../../src/kube/caches.ts";

export interface Harness {
  readonly url: string;
  readonly config: ProviderConfig;
  readonly cluster: SimClusterShape;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Requests and returns status and text, consuming the body. */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; headers: Headers }>;
  /**
   * Advances virtual time in steps (letting real I/O run in between) until `pending` settles; rejects
   * with a clear error when it has not settled after `maxMs` of virtual time (default 120 s).
   */
  advanceUntil<T>(pending: Promise<T>, stepMs?: number, maxMs?: number): Promise<T>;
  /** Advances virtual time. */
  advance(ms: number): Promise<void>;
  // deno-lint-ignore no-explicit-any
  run<A>(effect: Effect.Effect<A, any, any>): Promise<A>;
  close(): Promise<void>;
}

/** A TestClock that starts at 2026-01-01, set before anything starts sleeping on it. */
export const virtualClock = Layer.effectDiscard(TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))).pipe(
  Layer.provideMerge(TestClock.layer({ warningDelay: "1 hour" })),
);

/** Defaults for tests: the autoscaler and idler are off unless a test turns them on. */
export const testConfig = (overrides: Partial<ProviderConfig> = {}): ProviderConfig => ({
  ...loadConfig({}, []),
  scaling: false,
  ...overrides,
});

/** How much virtual time start-up gives the caches to sync (their first lists may be retried). */
export const syncTimeoutMs = 1_000_000;

/**
 * Settles like `pending`, or rejects with an error naming `what` once `advance` has moved virtual
 * time by `maxMs` in `stepMs` steps without `pending` settling (instead of waiting forever).
 */
const settleWithin = async <T>(
  what: string,
  pending: Promise<T>,
  advance: (ms: number) => Promise<void>,
  stepMs: number,
  maxMs: number,
  realDelayMs: number,
): Promise<T> => {
  let settled = false;
  pending.then(() => (settled = true), () => (settled = true));
  for (let t = 0; t < maxMs && !settled; t += stepMs) {
    await new Promise((r) => setTimeout(r, realDelayMs));
    if (settled) break;
    await advance(stepMs);
  }
  if (!settled) {
    // One last chance for I/O that the final step released.
    await new Promise((r) => setTimeout(r, realDelayMs));
    if (!settled) throw new Error(`${what} did not settle within ${maxMs} ms of virtual time`);
  }
  return await pending;
};

/** The real HTTP client (HttpTransport) for the simulator served on 127.0.0.1. */
const simOverHttp = (serverUrl: string) =>
  makeHttpKubeApi({
    server: serverUrl,
    insecureSkipTlsVerify: false,
    auth: () => Promise.resolve({}),
    source: "simulator over HTTP",
  });

export const startProvider = async (
  options: {
    config?: Partial<ProviderConfig>;
    credentials?: Credentials;
    sim?: SimBackendOptions;
    proxy?: ProxyOptions;
    /**
     * Wait (advancing virtual time) until the caches have synced before returning; default true.
     * False returns at once, e.g. to see `/healthz` before the first lists have succeeded.
     */
    waitForSync?: boolean;
    /** Virtual time start-up gives the caches to sync before it fails (default `syncTimeoutMs`). */
    syncTimeoutMs?: number;
  } = {},
): Promise<Harness> => {
  const config = testConfig(options.config);
  const provider = makeProvider(config, { credentials: options.credentials, proxy: options.proxy });
  const layer = provider.layer.pipe(
    Layer.provideMerge(simBackend(config, { ...options.sim, httpClient: simOverHttp })),
    Layer.provideMerge(virtualClock),
  );
  const runtime = ManagedRuntime.make(layer);
  if (options.waitForSync !== false) {
    // The first lists may fail under injected faults: their retries wait in virtual time.
    const syncing = runtime.runPromise(Effect.flatMap(Effect.service(Caches), (c) => c.synced));
    try {
      await settleWithin(
        "start-up: the caches' first sync",
        syncing,
        (ms) => runtime.runPromise(TestClock.adjust(ms)),
        100,
        options.syncTimeoutMs ?? syncTimeoutMs,
        0,
      );
    } catch (e) {
      await runtime.dispose();
      throw e;
    }
  }
  const cluster = await runtime.runPromise(Effect.service(SimCluster));
  const handler = await runtime.runPromise(provider.handler);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  /** Waits until the watch-fed caches stop changing (events cross a real socket). */
  const caches = await runtime.runPromise(Effect.service(Caches));
  const settleOverHttp = async () => {
    const version = () =>
      `${caches.deployments.version()}/${caches.pods.version()}/${caches.endpointSlices.version()}`;
    let last = "", stable = 0;
    for (let i = 0; i < 200 && stable < 3; i++) {
      await new Promise((r) => setTimeout(r, 2));
      const v = version();
      stable = v === last ? stable + 1 : 0;
      last = v;
    }
  };
  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method,
      redirect: "manual",
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  return {
    url,
    config,
    cluster,
    request,
    call: async (method, path, body, headers) => {
      const res = await request(method, path, body, headers);
      return { status: res.status, text: await res.text(), headers: res.headers };
    },
    advanceUntil: <T>(pending: Promise<T>, stepMs = 100, maxMs = 120_000): Promise<T> =>
      settleWithin(
        "advanceUntil: the awaited promise",
        pending,
        (ms) => runtime.runPromise(TestClock.adjust(ms)),
        stepMs,
        maxMs,
        1,
      ),
    advance: async (ms) => {
      await runtime.runPromise(TestClock.adjust(ms));
      // Let watch consumers apply what the simulator emitted (over HTTP that takes real I/O).
      for (let i = 0; i < 5; i++) await runtime.runPromise(Effect.yieldNow);
      if (options.sim?.transport === "http") await settleOverHttp();
    },
    run: (effect) => runtime.runPromise(effect),
    close: async () => {
      await server.shutdown();
      await runtime.dispose();
    },
  };
};

/** Runs `fn` against a fresh provider and always closes it. */
export const withProvider = async (
  fn: (h: Harness) => Promise<void>,
  options: Parameters<typeof startProvider>[0] = {},
) => {
  const h = await startProvider(options);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
};

/**
 * A test that runs against both ways of reaching the cluster: the simulator in process
 * (SimTransport) and over HTTP (sim/serve + HttpTransport); the name says which.
 */
export const apiTest = (
  name: string,
  fn: (h: Harness) => Promise<void>,
  options: Parameters<typeof startProvider>[0] = {},
) => {
  for (const transport of ["in-process", "http"] as const) {
    Deno.test(`${name} [${transport}]`, () =>
      withProvider(fn, { ...options, sim: { ...options.sim, transport } }));
  }
};
