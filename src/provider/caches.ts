/**
 * Watch-fed caches the provider reads from (list, status, namespace checks,
 * endpoint resolution), so no read hits the API server per request.
 */
import { Context, Effect, Layer } from "effect";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { Namespace, Pod } from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import { type Informer, makeInformer } from "../kube/informer.ts";
import { paths } from "../kube/resources.ts";
import type { KubeApi } from "../kube/api.ts";
import { functionLabel } from "./translate.ts";

export interface CachesShape {
  readonly deployments: Informer<Deployment>;
  readonly namespaces: Informer<Namespace>;
  readonly endpointSlices: Informer<EndpointSlice>;
  /** Function pods (label faas_function), for readiness reasons. */
  readonly pods: Informer<Pod>;
  /** Why the provider cannot serve from its caches (not synced, API server unreachable), or undefined. */
  readonly unhealthy: () => string | undefined;
  /** Completes when every cache has loaded its first list. */
  readonly synced: Effect.Effect<void>;
}

export class Caches extends Context.Service<Caches, CachesShape>()("faas/provider/Caches") {
  static layer: Layer.Layer<Caches, never, KubeApi> = Layer.effect(
    Caches,
    Effect.gen(function* () {
      const deployments = yield* makeInformer<Deployment>({
        path: paths.deployments(),
        labelSelector: functionLabel,
      });
      const namespaces = yield* makeInformer<Namespace>({ path: paths.namespaces() });
      const endpointSlices = yield* makeInformer<EndpointSlice>({
        path: paths.endpointSlices(),
        labelSelector: "kubernetes.io/service-name",
      });
      const pods = yield* makeInformer<Pod>({ path: paths.pods(), labelSelector: functionLabel });
      const synced = Effect.all([deployments.synced, namespaces.synced, endpointSlices.synced, pods.synced], {
        discard: true,
      });
      const all = { deployments, namespaces, endpointSlices, pods };
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
