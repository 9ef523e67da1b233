/** A real function pod for proxy tests: an HTTP server on 127.0.0.1 the provider's endpoints point at. */
import assert from "node:assert/strict";
import { type Harness, type startProvider, withProvider } from "./harness.ts";
import { Kinds } from "../../sim/kinds.ts";

export type PodHandler = (req: Request) => Response | Promise<Response>;

/** A real HTTP server on 127.0.0.1 standing in for a function pod. */
export interface Upstream {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts an upstream serving `handler`; the caller closes it (`withUpstream` does both). */
export const startUpstream = (handler: PodHandler): Upstream => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return { port: server.addr.port, close: () => server.shutdown() };
};

/**
 * Runs `fn` against a fresh provider that proxies to real upstreams and an upstream serving
 * `handler` (route a function to it with `routeTo`), then closes both, whatever `fn` did.
 */
export const withUpstream = async (
  handler: PodHandler,
  fn: (h: Harness, up: Upstream) => Promise<void>,
  options: Parameters<typeof startProvider>[0] = {},
) => {
  const up = startUpstream(handler);
  try {
    await withProvider((h) => fn(h, up), { ...options, sim: { ...options.sim, upstream: "http" } });
  } finally {
    await up.close();
  }
};

/** Deploys `name` at zero replicas (no simulated pods) and points its endpoints at 127.0.0.1:port. */
export const routeTo = async (h: Harness, name: string, port: number) => {
  assert.equal(
    (await h.call("POST", "/system/functions", { service: name, image: "functions/alpine:latest" })).status,
    202,
  );
  assert.equal(
    (await h.call("POST", `/system/scale-function/${name}`, { serviceName: name, replicas: 0 })).status,
    202,
  );
  h.cluster.store.create(Kinds.EndpointSlice, "openfaas-fn", {
    metadata: { name: `${name}-real`, labels: { "kubernetes.io/service-name": name } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
    ports: [{ name: "http", port, protocol: "TCP" }],
  });
  await h.advance(1);
};

/** A pod that holds every request until its client (the proxy) aborts it, or `maxMs` passes. */
export const holdingPod = (maxMs = 10_000) => {
  let received!: () => void, aborted!: () => void;
  const gotRequest = new Promise<void>((r) => (received = r));
  const sawAbort = new Promise<void>((r) => (aborted = r));
  const handler: PodHandler = (req) => {
    received();
    return new Promise<Response>((resolve) => {
      const timer = setTimeout(() => resolve(new Response("late")), maxMs);
      req.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        aborted();
        resolve(new Response("aborted"));
      });
    });
  };
  return { handler, gotRequest, sawAbort };
};

/** Provider options for proxying to real upstreams (loopback only). */
export const realUpstream = { sim: { upstream: "http" as const } };
