/**
 * The composition root: the only module that assembles the provider's layers (configuration, the caches
 * over the Kubernetes API, the use cases, invocation records, the scaler). main.ts, the test harness and
 * the trace replay build the provider here and choose only the backend: a layer of KubeApi, Upstream and
 * ImageCheck (a real cluster, or the simulator).
 */
import { Layer } from "effect";
import { KubeApi } from "./kube/api.ts";
import { meter } from "./kube/metered.ts";
import { Caches } from "./kube/caches.ts";
import { Replicas } from "./kube/replicas.ts";
import { Usage } from "./kube/usage.ts";
import { Invocations } from "./metrics/invocations.ts";
import { ProviderConfig, providerConfigLayer } from "./config/config.ts";
import { Functions } from "./provider/functions.ts";
import { Logs } from "./provider/logs.ts";
import { Namespaces } from "./provider/namespaces.ts";
import { Secrets } from "./provider/secrets.ts";
import { Scaler } from "./scaling/scaler.ts";

const scalerLayer = (config: ProviderConfig) =>
  Scaler.layer({
    autoscale: config.scaling,
    idler: config.scaling,
    predictive: config.predictiveScaling,
    fromZeroWindowMs: config.scaleFromZeroTimeoutMs,
    defaults: { ...config.scaleDefaults, predictive: false },
  });

/** The provider's services over a backend (KubeApi, Upstream, ImageCheck) that the caller provides. */
export const providerLayer = (config: ProviderConfig) =>
  scalerLayer(config).pipe(
    Layer.provideMerge(Layer.mergeAll(Functions.layer, Secrets.layer, Logs.layer, Usage.layer)),
    Layer.provideMerge(Namespaces.layer),
    Layer.provideMerge(Replicas.layer),
    Layer.provideMerge(Caches.layer),
    Layer.provideMerge(Layer.mergeAll(providerConfigLayer(config), Invocations.layer)),
    Layer.updateService(KubeApi, meter),
  );
