/** Wiring: the provider's services over a KubeApi backend. */
import { Layer } from "effect";
import type { ProviderConfig } from "../config.ts";
import { AppConfig } from "./appconfig.ts";
import { Caches } from "./caches.ts";
import { Functions } from "./functions.ts";
import { Namespaces } from "./namespaces.ts";
import { Secrets } from "./secrets.ts";

export const providerLayer = (config: ProviderConfig) =>
  Layer.mergeAll(Functions.layer, Secrets.layer).pipe(
    Layer.provideMerge(Namespaces.layer),
    Layer.provideMerge(Caches.layer),
    Layer.provideMerge(AppConfig.layer(config)),
  );
