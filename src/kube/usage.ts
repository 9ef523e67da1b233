/**
 * CPU and memory usage of function pods, read from the resource metrics API
 * (`metrics.k8s.io/v1beta1` PodMetrics, served by metrics-server on a real
 * cluster and by the simulator's kubelet model). Used for `usage` in function
 * status (`?usage=1`, as faas-cli describe asks) and for `cpu` autoscaling.
 *
 * Best effort: when the metrics API is not installed, forbidden or failing,
 * the answer is `undefined` (status then has no `usage`; cpu scaling falls back
 * to requests in flight) and a warning is logged when availability changes,
 * not on every call.
 */
import { Context, Effect, Layer } from "effect";
import { KubeApi, type KubeError } from "./api.ts";
import { type PodMetrics, resources } from "./resources.ts";
import { quantityToNumber } from "../domain/quantity.ts";
import { functionLabel } from "../domain/keys.ts";

/** Summed over a function's pods; the wire's `usage` object. */
export interface FunctionUsage {
  /** Millicores. */
  readonly cpu: number;
  readonly totalMemoryBytes: number;
  /** Pods that reported metrics. */
  readonly pods: number;
}

export interface UsageShape {
  /** One function's usage; undefined when the metrics API cannot answer. */
  ofFunction(name: string, namespace: string): Effect.Effect<FunctionUsage | undefined>;
  /** Every function of a namespace, by name; undefined when the metrics API cannot answer. */
  ofNamespace(namespace: string): Effect.Effect<Map<string, FunctionUsage> | undefined>;
}

const quantity = (q: string | undefined): number => {
  if (q === undefined) return 0;
  try {
    return quantityToNumber(q);
  } catch {
    return 0;
  }
};

/** Sums pod metrics per function (by the `faas_function` label). */
export const sumByFunction = (items: readonly PodMetrics[]): Map<string, FunctionUsage> => {
  const out = new Map<string, { cpu: number; totalMemoryBytes: number; pods: number }>();
  for (const pod of items) {
    const fn = pod.metadata.labels?.[functionLabel];
    if (fn === undefined) continue;
    let u = out.get(fn);
    if (!u) out.set(fn, u = { cpu: 0, totalMemoryBytes: 0, pods: 0 });
    u.pods++;
    for (const c of pod.containers ?? []) {
      u.cpu += quantity(c.usage?.cpu) * 1000;
      u.totalMemoryBytes += quantity(c.usage?.memory);
    }
  }
  for (const u of out.values()) u.cpu = Math.round(u.cpu * 1000) / 1000;
  return out;
};

export class Usage extends Context.Service<Usage, UsageShape>()("faas/kube/Usage") {
  static layer = Layer.effect(
    Usage,
    Effect.gen(function* () {
      const k8s = resources(yield* KubeApi);
      /** The last failure's status or kind, to warn once per change. */
      let lastFailure: string | undefined;

      const listed = (namespace: string, labelSelector: string) =>
        k8s.podMetrics.list(namespace, { labelSelector }).pipe(
          Effect.tap(() =>
            lastFailure === undefined ? Effect.void : Effect.sync(() => (lastFailure = undefined)).pipe(
              Effect.andThen(Effect.logInfo("usage: the metrics API (metrics.k8s.io) answers again")),
            )
          ),
          Effect.map((list) => sumByFunction(list.items)),
          Effect.catch((e: KubeError) => {
            if (lastFailure === e.statusReason) return Effect.succeed(undefined);
            lastFailure = e.statusReason;
            return Effect.as(
              Effect.logWarning(
                `usage: the metrics API (metrics.k8s.io/v1beta1 pods) is not available (${
                  e.status ?? "no answer"
                } ${e.statusReason}: ${e.message}); ` +
                  "function status has no usage and cpu scaling uses requests in flight",
              ),
              undefined,
            );
          }),
        );

      return Usage.of({
        ofFunction: Effect.fn("Usage.ofFunction")(function* (name: string, namespace: string) {
          const m = yield* listed(namespace, `${functionLabel}=${name}`);
          return m === undefined ? undefined : m.get(name) ?? { cpu: 0, totalMemoryBytes: 0, pods: 0 };
        }),
        ofNamespace: Effect.fn("Usage.ofNamespace")(function* (namespace: string) {
          return yield* listed(namespace, functionLabel);
        }),
      });
    }),
  );
}
