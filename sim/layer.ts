/** The simulator as a KubeApi backend, configured from the provider's settings. */
import { Layer } from "effect";
import type { ProviderConfig } from "../src/config.ts";
import { SimCluster, type SimOptions } from "./cluster.ts";
import { SimTransport } from "./transport.ts";

export const simBackend = (config: ProviderConfig, extra: SimOptions = {}) =>
  SimTransport.pipe(
    Layer.provideMerge(SimCluster.layer({
      seed: config.simSeed,
      nodes: config.simNodes,
      nodeCpu: config.simNodeCpu,
      nodeMemory: config.simNodeMemory,
      functionNamespace: config.functionNamespace,
      ...extra,
    })),
  );
