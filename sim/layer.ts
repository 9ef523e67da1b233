/** The simulator as the provider's backend: KubeApi in process and the simulated pod network. */
import { Effect, Layer } from "effect";
import type { ProviderConfig } from "../src/config.ts";
import { Upstream, UpstreamError } from "../src/invoke/upstream.ts";
import { SimCluster, type SimOptions } from "./cluster.ts";
import { SimTransport } from "./transport.ts";
import { type NetworkOptions, SimNetwork } from "./network.ts";

export interface SimBackendOptions extends SimOptions {
  readonly network?: NetworkOptions;
  /** "http": invocations go over real HTTP to the endpoint addresses (tests with a real upstream). */
  readonly upstream?: "sim" | "http";
}

/**
 * Real HTTP, but only to loopback addresses: simulated pod IPs (10.244.x.y) are
 * not real hosts, and a simulation must never send traffic to the network.
 */
const loopbackOnly = (config: ProviderConfig) =>
  Layer.effect(
    Upstream,
    Effect.map(Effect.service(Upstream), (http) =>
      Upstream.of({
        fetch: (endpoint, req, timeoutMs) =>
          /^127\.|^\[?::1\]?$|^localhost$/.test(endpoint.ip)
            ? http.fetch(endpoint, req, timeoutMs)
            : Promise.reject(
              new UpstreamError("unreachable", `simulated address ${endpoint.ip} is not reachable over HTTP`),
            ),
      })),
  ).pipe(Layer.provide(Upstream.http({ maxIdleConnsPerHost: config.maxIdleConnsPerHost })));

export const simBackend = (config: ProviderConfig, options: SimBackendOptions = {}) =>
  Layer.mergeAll(
    SimTransport,
    options.upstream === "http" ? loopbackOnly(config) : SimNetwork(options.network),
  ).pipe(
    Layer.provideMerge(SimCluster.layer({
      seed: config.simSeed,
      nodes: config.simNodes,
      nodeCpu: config.simNodeCpu,
      nodeMemory: config.simNodeMemory,
      functionNamespace: config.functionNamespace,
      ...options,
    })),
  );
