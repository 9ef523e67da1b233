/**
 * Setting a Deployment's replicas: the one write that both the provider's scale route and the autoscaler
 * make. Retried like every write, and put in the cache at once, so the next read sees it.
 */
import { Context, Effect, Layer } from "effect";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { KubeApi, type KubeError } from "./api.ts";
import { resources } from "./resources.ts";
import { withApiRetry } from "./retry.ts";
import { Caches } from "./caches.ts";

interface ReplicasShape {
  scale(namespace: string, name: string, replicas: number): Effect.Effect<Deployment, KubeError>;
}

export class Replicas extends Context.Service<Replicas, ReplicasShape>()("faas/kube/Replicas") {
  static layer = Layer.effect(
    Replicas,
    Effect.gen(function* () {
      const k8s = resources(yield* KubeApi);
      const caches = yield* Caches;
      return Replicas.of({
        scale: Effect.fn("Replicas.scale")(function* (namespace: string, name: string, replicas: number) {
          const updated = yield* k8s.deployments.patch(namespace, name, { spec: { replicas } }).pipe(
            withApiRetry,
          );
          caches.deployments.upsert(updated);
          return updated;
        }),
      });
    }),
  );
}
