/**
 * The composition root: the only module that assembles the provider (configuration, the caches over the
 * Kubernetes API, the use cases, invocation records, the scaler, the invoke proxy, metrics and the HTTP
 * API). main.ts, the test harness and the trace replay build the provider here and choose only the
 * backend: a layer of KubeApi, Upstream and ImageCheck (a real cluster, or the simulator).
 */
import { Effect, Layer } from "effect";
import { KubeApi } from "./kube/api.ts";
import { meter } from "./kube/metered.ts";
import { Caches } from "./kube/caches.ts";
import { Replicas } from "./kube/replicas.ts";
import { Usage } from "./kube/usage.ts";
import { Invocations } from "./metrics/invocations.ts";
import { metrics } from "./metrics/registry.ts";
import { ProviderConfig, providerConfigLayer } from "./config/config.ts";
import { loadConfig } from "./config/load.ts";
import { Functions } from "./provider/functions.ts";
import { Logs } from "./provider/logs.ts";
import { Namespaces } from "./provider/namespaces.ts";
import { Secrets } from "./provider/secrets.ts";
import { Scaler } from "./scaling/scaler.ts";
import { Leadership } from "./cluster/leader.ts";
import { History } from "./cluster/history.ts";
import { ClusterLoad, LoadPeers, PeerRegistry } from "./cluster/loadshare.ts";
import { reportWindowMs } from "./http/routes/internal.ts";
import { makeProxy, type ProxyOptions } from "./invoke/proxy.ts";
import { makeApi } from "./http/app.ts";
import type { Credentials } from "./http/middleware/basicauth.ts";

const scalerLayer = (config: ProviderConfig) =>
  Scaler.layer({
    autoscale: config.scaling,
    idler: config.scaling,
    predictive: config.predictiveScaling,
    fromZeroWindowMs: config.scaleFromZeroTimeoutMs,
    defaults: { ...config.scaleDefaults, predictive: false },
  });

/** Leader election on a Lease (leader_elect=true), or a replica that always leads. */
const leadershipLayer = (config: ProviderConfig) =>
  config.leaderElect
    ? Leadership.layer({
      name: config.leaseName,
      namespace: config.leaseNamespace,
      identity: config.identity,
    })
    : Leadership.always(config.identity);

/** Persisted invocation history for the predictor (history_write_interval > 0 and predictive_scaling on). */
const historyLayer = (config: ProviderConfig) =>
  config.historyWriteIntervalMs > 0 && config.predictiveScaling
    ? History.layer({ intervalMs: config.historyWriteIntervalMs, identity: config.identity })
    : Layer.empty;

/** Where the other replicas reach this one: the pod's IP, else the address it binds to. */
const advertised = (config: ProviderConfig, port: () => number) => () => {
  const host = config.podIp ?? (["", "0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host);
  return `http://${host.includes(":") ? `[${host}]` : host}:${port()}`;
};

/**
 * With leader election, every replica is a member that publishes its load and the leader scales on the sum
 * (src/cluster/loadshare.ts); without, this replica's load is all there is.
 */
const clusterLoadLayer = (config: ProviderConfig, peers: Layer.Layer<LoadPeers>, port: () => number) =>
  config.leaderElect
    ? ClusterLoad.layer({
      leaseName: config.leaseName,
      namespace: config.leaseNamespace,
      identity: config.identity,
      address: advertised(config, port),
    }).pipe(Layer.provide(peers))
    : ClusterLoad.local;

const providerLayer = (config: ProviderConfig, peers: Layer.Layer<LoadPeers>, port: () => number) =>
  scalerLayer(config).pipe(
    Layer.provideMerge(clusterLoadLayer(config, peers, port)),
    Layer.provideMerge(historyLayer(config)),
    Layer.provideMerge(Layer.mergeAll(Functions.layer, Secrets.layer, Logs.layer, Usage.layer)),
    Layer.provideMerge(Namespaces.layer),
    Layer.provideMerge(Replicas.layer),
    Layer.provideMerge(Caches.layer),
    Layer.provideMerge(leadershipLayer(config)),
    Layer.provideMerge(Layer.mergeAll(providerConfigLayer(config), Invocations.layer)),
    Layer.updateService(KubeApi, meter),
  );

interface ProviderOptions {
  /** Basic auth on the /system API (basic_auth=true); without, it is open. */
  readonly credentials?: Credentials;
  /** Overrides of the invoke proxy's options (by default the scaler's scale from zero and its wait). */
  readonly proxy?: ProxyOptions;
  /** How the leader reads the other replicas' load (default over HTTP; in-process for the test harness). */
  readonly loadPeers?: Layer.Layer<LoadPeers>;
  /** The port this replica listens on, once known (default the configured port). */
  readonly listenPort?: () => number;
}

/** Replicas in one process (the trace replay with several replicas): the leader reads the others' reports. */
export { PeerRegistry };
export const inProcessPeers = (registry: PeerRegistry): Layer.Layer<LoadPeers> =>
  LoadPeers.inProcess(registry);

/** The configuration of a provider started with no environment and no flags, with `overrides`. */
export const defaultConfig = (overrides: Partial<ProviderConfig> = {}): ProviderConfig => ({
  ...loadConfig({}, []),
  ...overrides,
});

/**
 * The provider: `layer`, its services over a backend (KubeApi, Upstream, ImageCheck) that the caller
 * provides; `handler`, run in a runtime of that layer, the faas-provider HTTP API for Deno.serve. For
 * drivers that watch it work (the trace replay): `synced` waits for the caches' first sync, `decisions`
 * gives the reader of the scaler's decisions (oldest first), `loadReport` the reader of this replica's load
 * report (what its internal endpoint serves, for an in-process PeerRegistry), `caches` the informer caches
 * and `metrics` is the registry /metrics exposes.
 */
export const makeProvider = (config: ProviderConfig, options: ProviderOptions = {}) => ({
  layer: providerLayer(
    config,
    options.loadPeers ?? LoadPeers.http,
    options.listenPort ?? (() => config.port),
  ),
  synced: Effect.flatMap(Effect.service(Caches), (c) => c.synced),
  decisions: Effect.map(Effect.service(Scaler), (s) => s.decisions),
  loadReport: Effect.map(Effect.service(Invocations), (i) => () => i.report(reportWindowMs)),
  metrics,
  /** The caches themselves, for drivers that compare what they hold with the cluster (the chaos runner). */
  caches: Effect.service(Caches),
  handler: Effect.gen(function* () {
    const scaler = yield* Scaler;
    const caches = yield* Caches;
    const proxy = yield* makeProxy({
      scaleFromZero: scaler.scaleFromZero,
      fromZeroWaitMs: config.scaleFromZeroTimeoutMs,
      ...options.proxy,
    });
    // Replicas per function, read from the cache when /metrics is scraped.
    metrics.serviceCount.collect = () =>
      caches.deployments.list().map((d) => [
        { function_name: `${d.metadata?.name}.${d.metadata?.namespace}` },
        d.spec?.replicas ?? 0,
      ]);
    return yield* makeApi(proxy, options.credentials);
  }),
});
