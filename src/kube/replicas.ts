/**
 * Setting a Deployment's replicas: the one write that both the provider's scale route and the autoscaler
 * make. Retried like every write, and put in the cache at once, so the next read sees it.
 * `raiseFromZero` is its conditional form for scale from zero, which any replica of the provider may make
 * at the same time: it raises spec.replicas only from 0 (an update of the object just read, so a racing
 * raise makes it conflict, re-read and find the function already up).
 */
import { Context, Effect, Layer } from "effect";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { KubeApi, type KubeError } from "./api.ts";
import { resources } from "./resources.ts";
import { conflictRetry, withApiRetry } from "./retry.ts";
import { Caches } from "./caches.ts";

interface ReplicasShape {
  scale(namespace: string, name: string, replicas: number): Effect.Effect<Deployment, KubeError>;
  /** Sets replicas only when they are 0; `raised` says whether this call did (else someone else had). */
  raiseFromZero(
    namespace: string,
    name: string,
    replicas: number,
  ): Effect.Effect<{ readonly deployment: Deployment; readonly raised: boolean }, KubeError>;
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
        raiseFromZero: Effect.fn("Replicas.raiseFromZero")(
          function* (namespace: string, name: string, replicas: number) {
            const attempt = Effect.gen(function* () {
              const current = yield* k8s.deployments.get(namespace, name).pipe(withApiRetry);
              if ((current.spec?.replicas ?? 1) !== 0) return { deployment: current, raised: false };
              const raised = { ...current, spec: { ...current.spec!, replicas } };
              const updated = yield* k8s.deployments.replace(namespace, name, raised).pipe(withApiRetry);
              return { deployment: updated, raised: true };
            });
            const result = yield* Effect.retry(attempt, conflictRetry);
            caches.deployments.upsert(result.deployment);
            return result;
          },
        ),
      });
    }),
  );
}
