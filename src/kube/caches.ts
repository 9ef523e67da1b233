/**
 * Watch-fed caches the provider reads from (list, status, namespace checks,
 * endpoint resolution), so no read hits the API server per request.
 */
import { Context, Effect, Layer } from "effect";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { Namespace, Pod, Secret } from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import { emptyInformer, type Informer, makeInformer, type ObjectMetaLike } from "./informer.ts";
import { paths } from "./resources.ts";
import { keepDeployment, keepEndpointSlice, keepPod, keepSecret } from "./projection.ts";
import type { KubeApi } from "./api.ts";
import { functionLabel } from "../domain/keys.ts";
import { ProviderConfig } from "../config/config.ts";

export interface CachesShape {
  readonly deployments: Informer<Deployment>;
  readonly namespaces: Informer<Namespace>;
  readonly endpointSlices: Informer<EndpointSlice>;
  /** OpenFaaS secrets (label app.kubernetes.io/managed-by=openfaas), without their data. */
  readonly secrets: Informer<Secret>;
  /** Function pods (label faas_function), for readiness reasons: names, labels and status, no spec. */
  readonly pods: Informer<Pod>;
  /** Why the provider cannot serve from its caches (not synced, API server unreachable), or undefined. */
  readonly unhealthy: () => string | undefined;
  /** Completes when every cache has loaded its first list. */
  readonly synced: Effect.Effect<void>;
}

/** Managed secrets are labelled so; the label lives here, where the cache selects by it. */
export const managedByLabel = "app.kubernetes.io/managed-by";
export const managedByValue = "openfaas";

/** A full relist this often even when watches are healthy (faas-netes classic resynced every 5 minutes). */
export const resyncMs = 5 * 60_000;

export class Caches extends Context.Service<Caches, CachesShape>()("faas/kube/Caches") {
  /**
   * With `cluster_role=true` the caches watch every namespace (and the Namespaces themselves); otherwise
   * only the function namespace, which a namespaced Role allows, and no Namespace is read.
   */
  static layer: Layer.Layer<Caches, never, KubeApi | ProviderConfig> = Layer.effect(
    Caches,
    Effect.gen(function* () {
      const config = yield* ProviderConfig;
      const scope = config.clusterRole ? undefined : config.functionNamespace;
      const informer = <T extends ObjectMetaLike>(path: string, labelSelector?: string, keep?: (o: T) => T) =>
        makeInformer<T>({ path, labelSelector, resyncMs, keep });
      // Each cache keeps what the provider reads of its objects (src/kube/projection.ts).
      const deployments = yield* informer<Deployment>(
        paths.deployments(scope),
        functionLabel,
        keepDeployment,
      );
      const namespaces = config.clusterRole
        ? yield* informer<Namespace>(paths.namespaces())
        : emptyInformer<Namespace>();
      const endpointSlices = yield* informer<EndpointSlice>(
        paths.endpointSlices(scope),
        "kubernetes.io/service-name",
        keepEndpointSlice,
      );
      const pods = yield* informer<Pod>(paths.pods(scope), functionLabel, keepPod);
      // Secret values stay in the API server: the cache keeps names and metadata only.
      const secrets = yield* informer<Secret>(
        paths.secrets(scope),
        `${managedByLabel}=${managedByValue}`,
        keepSecret,
      );
      const synced = Effect.all(
        [deployments.synced, namespaces.synced, endpointSlices.synced, pods.synced, secrets.synced],
        { discard: true },
      );
      const all = { deployments, namespaces, endpointSlices, pods, secrets };
      const unhealthy = () => {
        for (const [name, informer] of Object.entries(all)) {
          if (!informer.hasSynced()) return `the ${name} cache has not synced with the Kubernetes API yet`;
          const error = informer.lastError();
          if (error) return `the Kubernetes API is not reachable (${name}): ${error}`;
        }
        return undefined;
      };
      return Caches.of({ ...all, synced, unhealthy });
    }),
  );
}
