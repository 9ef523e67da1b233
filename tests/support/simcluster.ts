/** A simulated cluster for tests, in TestClock time: in process, or served over HTTP on 127.0.0.1. */
import { Effect, Layer, ManagedRuntime } from "effect";
import type { Duration } from "effect";
import { TestClock } from "effect/testing";
import { SimCluster, type SimClusterShape, type SimOptions } from "../../sim/cluster.ts";
import { SimTransport } from "../../sim/transport.ts";
import { kubeconfigFor, serveSim, type SimServer } from "../../sim/serve.ts";

/** The simulator behind KubeApi (SimTransport), on a TestClock. */
export const simRuntime = (opts: SimOptions = {}) =>
  ManagedRuntime.make(
    SimTransport.pipe(
      Layer.provideMerge(SimCluster.layer(opts)),
      Layer.provideMerge(TestClock.layer({ warningDelay: "1 hour" })),
    ),
  );

export interface SimContext {
  readonly cluster: SimClusterShape;
  readonly rt: ReturnType<typeof simRuntime>;
  /** Advances virtual time. */
  readonly advance: (d: Duration.Input) => Promise<void>;
}

/** Runs `fn` against a fresh simulated cluster, then disposes of it. */
export const withSimCluster = async (
  fn: (ctx: SimContext) => Promise<void> | void,
  opts: SimOptions = {},
) => {
  const rt = simRuntime(opts);
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    await fn({ cluster, rt, advance: (d) => rt.runPromise(TestClock.adjust(d)) });
  } finally {
    await rt.dispose();
  }
};

/** `withSimCluster`, with the cluster also served over HTTP (the kubectl facade) on 127.0.0.1:0. */
export const withSimServer = (
  fn: (ctx: SimContext & { readonly url: string; readonly sim: SimServer }) => Promise<void> | void,
  opts: SimOptions = {},
) =>
  withSimCluster(async (ctx) => {
    const sim = serveSim(ctx.cluster, { port: 0 });
    try {
      await fn({ ...ctx, url: sim.url, sim });
    } finally {
      await sim.close();
    }
  }, opts);

// deno-lint-ignore no-explicit-any
type Json = any;

/** A request to the served simulator, its status, JSON body (if any) and headers. */
export const getJson = async (
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Json; headers: Headers }> => {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
};

/** `getJson` with a JSON body. */
export const send = (url: string, method: string, body: unknown, contentType = "application/json") =>
  getJson(url, { method, body: JSON.stringify(body), headers: { "content-type": contentType } });

/** Reads newline-delimited JSON watch events until `count` arrived, then cancels the stream. */
export const readEvents = async (res: Response, count: number, timeoutMs = 3000): Promise<Json[]> => {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: Json[] = [];
  let buffer = "";
  const timer = setTimeout(() => reader.cancel(), timeoutMs);
  try {
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        events.push(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return events;
};

/**
 * A simulated cluster on the real clock, served over HTTP on 127.0.0.1, with a kubeconfig for it in a
 * temporary directory: for tests that run programs (the provider, kubectl) against it. `close` stops
 * the server and the cluster and removes the directory.
 */
export const servedSimWithKubeconfig = async (opts: SimOptions = {}) => {
  const rt = ManagedRuntime.make(SimCluster.layer(opts));
  const cluster = await rt.runPromise(Effect.service(SimCluster));
  const sim = serveSim(cluster);
  const dir = await Deno.makeTempDir({ prefix: "faas-deno-sim-" });
  const kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(kubeconfig, kubeconfigFor(sim.url));
  return {
    cluster,
    sim,
    kubeconfig,
    close: async () => {
      await sim.close();
      await rt.dispose();
      await Deno.remove(dir, { recursive: true });
    },
  };
};
