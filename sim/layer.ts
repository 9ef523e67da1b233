/**
 * The simulator as the provider's backend: KubeApi (in process, or over real
 * HTTP through sim/serve and HttpTransport) and the simulated pod network.
 */
import { Effect, Layer, type Scope } from "effect";
import { Upstream, UpstreamError } from "../src/invoke/upstream.ts";
import { KubeApi, type KubeApiShape } from "../src/kube/api.ts";
import { SimCluster, type SimClusterShape, type SimOptions } from "./cluster.ts";
import { SimTransport } from "./transport.ts";
import { type NetworkOptions, SimNetwork } from "./network.ts";
import { type FaultConfig, Faults, installFaults } from "./faults.ts";
import { serveSim } from "./serve.ts";
import { ImageCheck } from "../src/provider/imagecheck.ts";
import { InvalidRequest } from "../src/domain/errors.ts";

/** The image check against the simulator's image catalog (its registry). */
const catalogImageCheck = Layer.effect(
  ImageCheck,
  Effect.map(Effect.service(SimCluster), (cluster) =>
    ImageCheck.of({
      check: (image) =>
        cluster.catalog.lookup(image) ? Effect.void : Effect.fail(
          new InvalidRequest({ message: `image: ${image} was not found in the simulator's image catalog` }),
        ),
    })),
);

/** What the backend takes from the provider's configuration (a ProviderConfig has all of it). */
export interface SimBackendConfig {
  readonly simSeed: number;
  readonly simNodes: number;
  readonly simNodeCpu: string;
  readonly simNodeMemory: string;
  readonly functionNamespace: string;
  readonly imageCheck: boolean;
  readonly maxIdleConnsPerHost: number;
}

export interface SimBackendOptions extends SimOptions {
  readonly network?: NetworkOptions;
  /** "http": invocations go over real HTTP to the endpoint addresses (tests with a real upstream). */
  readonly upstream?: "sim" | "http";
  /**
   * "http": the provider reaches the simulator through sim/serve on 127.0.0.1, with the client that
   * `httpClient` makes for the served URL (the real HttpTransport, in tests).
   */
  readonly transport?: "in-process" | "http";
  readonly httpClient?: (serverUrl: string) => Effect.Effect<KubeApiShape, never, Scope.Scope>;
  /** Seeded fault injection on the simulator's API server (a config, or an instance the caller can switch off). */
  readonly faults?: FaultConfig | Faults;
  /**
   * Wraps this provider's own KubeApi client (in process): faults of one replica (a partition from the API
   * server, a pause) when several providers share a cluster (`simReplicaBackend`).
   */
  readonly wrapKubeApi?: (api: KubeApiShape) => KubeApiShape;
  /** Wraps this provider's simulated pod network (sim/disruptions: slow pods, a partition from the pods). */
  readonly wrapUpstream?: (upstream: Upstream["Service"], cluster: SimClusterShape) => Upstream["Service"];
}

/**
 * Real HTTP, but only to loopback addresses: simulated pod IPs (10.244.x.y) are
 * not real hosts, and a simulation must never send traffic to the network.
 */
const loopbackOnly = (config: SimBackendConfig) =>
  Layer.effect(
    Upstream,
    Effect.map(Effect.service(Upstream), (http) =>
      Upstream.of({
        webSocket: (url, protocols) => {
          if (!/^ws:\/\/(127\.|localhost[:/]|\[::1\])/.test(url)) {
            throw new UpstreamError({
              reason: "unreachable",
              message: `simulated address in ${url} is not reachable over HTTP`,
            });
          }
          return http.webSocket!(url, protocols);
        },
        fetch: (endpoint, req, timeoutMs) =>
          /^127\.|^\[?::1\]?$|^localhost$/.test(endpoint.ip)
            ? http.fetch(endpoint, req, timeoutMs)
            : Promise.reject(
              new UpstreamError({
                reason: "unreachable",
                message: `simulated address ${endpoint.ip} is not reachable over HTTP`,
              }),
            ),
      })),
  ).pipe(Layer.provide(Upstream.http({ maxIdleConnsPerHost: config.maxIdleConnsPerHost })));

/** The simulator's API served on 127.0.0.1 and used through `client` (an HTTP client for its URL). */
const overHttp = (
  faults: Faults | undefined,
  client: (serverUrl: string) => Effect.Effect<KubeApiShape, never, Scope.Scope>,
) =>
  Layer.effect(
    KubeApi,
    Effect.gen(function* () {
      const cluster = yield* SimCluster;
      const server = serveSim(cluster, { faults });
      yield* Effect.addFinalizer(() => Effect.promise(() => server.close()));
      return yield* client(server.url);
    }),
  );

/** Faults installed on the in-process API server for the life of the layer. */
const inProcessFaults = (faults: Faults) =>
  Layer.effectDiscard(Effect.gen(function* () {
    const cluster = yield* SimCluster;
    const uninstall = installFaults(cluster.api, faults);
    yield* Effect.addFinalizer(() => Effect.sync(uninstall));
  }));

export const simBackend = (config: SimBackendConfig, options: SimBackendOptions = {}) =>
  simReplicaBackend(config, options).pipe(
    Layer.provideMerge(SimCluster.layer({
      seed: config.simSeed,
      nodes: config.simNodes,
      nodeCpu: config.simNodeCpu,
      nodeMemory: config.simNodeMemory,
      functionNamespace: config.functionNamespace,
      ...options,
    })),
  );

/**
 * One provider's backend on a cluster that the caller provides (SimCluster): several provider runtimes
 * built with it share one simulated cluster, each with its own KubeApi client (see `wrapKubeApi`).
 */
export const simReplicaBackend = (config: SimBackendConfig, options: SimBackendOptions = {}) => {
  const faults = options.faults instanceof Faults
    ? options.faults
    : options.faults
    ? new Faults(options.faults)
    : undefined;
  if (options.transport === "http" && !options.httpClient) {
    throw new Error('simBackend: transport "http" needs an httpClient for the served URL');
  }
  const wrap = options.wrapKubeApi;
  const client = wrap ? Layer.effect(KubeApi, Effect.map(Effect.service(KubeApi), wrap)) : undefined;
  const inProcess = client ? client.pipe(Layer.provide(SimTransport)) : SimTransport;
  const transport = options.transport === "http"
    ? overHttp(faults, options.httpClient!)
    : faults
    ? Layer.merge(inProcess, inProcessFaults(faults))
    : inProcess;
  const wrapUp = options.wrapUpstream;
  const network = wrapUp
    ? Layer.effect(
      Upstream,
      Effect.zipWith(
        Effect.service(Upstream),
        Effect.service(SimCluster),
        (u, cluster) => wrapUp(u, cluster),
      ),
    ).pipe(
      Layer.provide(SimNetwork(options.network)),
    )
    : SimNetwork(options.network);
  return Layer.mergeAll(
    transport,
    options.upstream === "http" ? loopbackOnly(config) : network,
    config.imageCheck ? catalogImageCheck : ImageCheck.off,
  );
};
