/** Wiring: the provider's services over a KubeApi backend (and the pod network for invocations). */
import { Layer } from "effect";
import type { ProviderConfig } from "../config.ts";
import { KubeApi } from "../kube/api.ts";
import { meter } from "../kube/metered.ts";
import { Invocations } from "../invoke/invocations.ts";
import { AppConfig } from "./appconfig.ts";
import { Caches } from "./caches.ts";
import { Functions } from "./functions.ts";
import { Logs } from "./logs.ts";
import { Namespaces } from "./namespaces.ts";
import { Secrets } from "./secrets.ts";
import { Usage } from "./usage.ts";
import { Scaler } from "../scaling/scaler.ts";

export const scalerLayer = (config: ProviderConfig) =>
  Scaler.layer({
    autoscale: config.scaling,
    idler: config.scaling,
    predictive: config.predictiveScaling,
    fromZeroWindowMs: config.scaleFromZeroTimeoutMs,
    defaults: { ...config.scaleDefaults, predictive: false },
  });

export const providerLayer = (config: ProviderConfig) =>
  scalerLayer(config).pipe(
    Layer.provideMerge(Layer.mergeAll(Functions.layer, Secrets.layer, Logs.layer, Usage.layer)),
    Layer.provideMerge(Namespaces.layer),
    Layer.provideMerge(Caches.layer),
    Layer.provideMerge(Layer.mergeAll(AppConfig.layer(config), Invocations.layer)),
    Layer.updateService(KubeApi, meter),
  );
