/** The simulator as the provider's backend: KubeApi in process and the simulated pod network. */
import { Layer } from "effect";
import type { ProviderConfig } from "../src/config.ts";
import { Upstream } from "../src/invoke/upstream.ts";
import { SimCluster, type SimOptions } from "./cluster.ts";
import { SimTransport } from "./transport.ts";
import { type NetworkOptions, SimNetwork } from "./network.ts";

export interface SimBackendOptions extends SimOptions {
  readonly network?: NetworkOptions;
  /** "http": invocations go over real HTTP to the endpoint addresses (tests with a real upstream). */
  readonly upstream?: "sim" | "http";
}

export const simBackend = (config: ProviderConfig, options: SimBackendOptions = {}) =>
  Layer.mergeAll(
    SimTransport,
    options.upstream === "http"
      ? Upstream.http({ maxIdleConnsPerHost: config.maxIdleConnsPerHost })
      : SimNetwork(options.network),
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
