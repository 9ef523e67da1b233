/**
 * The scaler: one loop, declared as a Schedule on Clock, that every tick
 * (2 s) decides replicas for each function:
 *  - reactive autoscaling (Knative KPA style): a 30 s stable window and a 6 s
 *    panic window over the proxy's invocation records, scale-down stabilised over
 *    20 s, bounded by min/max, and holding back (with back-off) when new pods
 *    cannot be scheduled;
 *  - a scale made by someone else (an operator, the Gateway, an external idler,
 *    through the API) is the new current state: a function scaled to 0 stays at 0
 *    until a request arrives; one scaled to N is taken up from N when the load needs
 *    more, and down only once a whole scale-down window has wanted fewer;
 *  - the idler: `com.openfaas.scale.zero=true` functions with no invocation for
 *    `zero-duration` go to 0;
 *  - the predictor (opt-in): the hybrid histogram policy unloads after an
 *    invocation, pre-warms before the next expected one and keeps it warm until
 *    the tail of the idle-time distribution.
 * Scale from zero on a request is `scaleFromZero`, which src/app.ts hands to the invoke proxy.
 * With several replicas of the provider, only the leader (Leadership) runs the loop; every replica scales
 * from zero for the requests it holds, with a write that only raises replicas from 0.
 */
import { Clock, Context, Effect, Layer, Option, Schedule } from "effect";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { Caches } from "../kube/caches.ts";
import { Replicas } from "../kube/replicas.ts";
import { Leadership } from "../cluster/leader.ts";
import { Ring } from "./ring.ts";
import { History } from "../cluster/history.ts";
import { ClusterLoad } from "../cluster/loadshare.ts";
import { functionLabel } from "../domain/keys.ts";
import { Invocations } from "../metrics/invocations.ts";
import { type FunctionUsage, Usage } from "../kube/usage.ts";
import { metrics } from "../metrics/registry.ts";
import type { FromZero } from "../domain/fromzero.ts";
import { defaultScaling, policyFrom, type ScalingPolicy } from "../domain/scaling.ts";
import { type Decision, freshState, type FunctionState, type ScalerOptions } from "./state.ts";
import {
  defaultWindows,
  idleBeyondZeroDuration,
  inFlightLoad,
  type Load,
  nextHoldMs,
  predict,
  reactive,
} from "./rules.ts";

export type { Decision };

const tickMs = 2_000;
/** How often the usage of `cpu`-scaled functions is read from the metrics API (per namespace). */
const cpuPollMs = 10_000;
/** How many decisions `decisions()` keeps. */
const decisionLogSize = 10_000;

interface ScalerShape {
  /** One decision round (the loop runs it every tick). */
  readonly tick: Effect.Effect<void>;
  /** Scales a function at zero to its minimum (at least 1), once for all concurrent callers (see FromZero). */
  scaleFromZero(name: string, namespace: string): Effect.Effect<FromZero>;
  /** Replica changes made (recorded once the scale succeeded), the last 10,000, oldest first. */
  readonly decisions: () => readonly Decision[];
  /** The policy in force for a function. */
  policyOf(d: Deployment): ScalingPolicy;
}

export class Scaler extends Context.Service<Scaler, ScalerShape>()("faas/scaling/Scaler") {
  static layer = (options: ScalerOptions = {}) =>
    Layer.effect(
      Scaler,
      Effect.gen(function* () {
        const caches = yield* Caches;
        const replicaWriter = yield* Replicas;
        const invocations = yield* Invocations;
        const usage = yield* Usage;
        const leadership = yield* Leadership;
        const cluster = yield* ClusterLoad;
        const clock = yield* Clock.Clock;
        /** Persisted invocation history (src/cluster/history.ts), when configured. */
        const history = Option.getOrUndefined(yield* Effect.serviceOption(History));
        /** Whether the history was loaded since this replica last became leader. */
        let historyLoaded = false;
        const defaults = options.defaults ?? defaultScaling;
        const fromZeroWindowMs = options.fromZeroWindowMs ?? 60_000;
        const windows = options.windows ?? defaultWindows;
        const { stableMs, panicMs, downDelayMs } = windows;
        const states = new Map<string, FunctionState>();
        const decisions = new Ring<Decision>(decisionLogSize);
        /** Scale-ups from zero in progress, by function key: whether they succeeded. */
        const pendingFromZero = new Map<string, Promise<boolean>>();
        const now = () => clock.currentTimeMillisUnsafe();
        /** The last usage read per namespace (undefined usage: the metrics API did not answer). */
        const cpuUsage = new Map<
          string,
          { at: number; byFunction: Map<string, FunctionUsage> | undefined }
        >();

        const stateOf = (key: string, name: string, namespace: string): FunctionState => {
          let s = states.get(key);
          if (!s) {
            states.set(key, s = freshState(name, namespace, now()));
          }
          return s;
        };

        /** Policies per Deployment object: the cache replaces an object whenever it changes. */
        const policies = new WeakMap<Deployment, ScalingPolicy>();
        const policyOf = (d: Deployment) => {
          let p = policies.get(d);
          if (!p) policies.set(d, p = policyFrom(d.spec?.template.metadata?.labels, defaults));
          return p;
        };

        /** Scales the function; whether it did (a failure is logged, and neither recorded nor counted). */
        const scale = (
          d: Deployment,
          s: FunctionState,
          to: number,
          policy: Decision["policy"],
          reason: string,
        ): Effect.Effect<boolean> =>
          Effect.gen(function* () {
            const name = d.metadata!.name!, ns = d.metadata!.namespace!;
            const from = d.spec?.replicas ?? 0;
            if (from === to) return false;
            // Leadership can end while a round runs (the renew deadline passed): a former leader writes nothing.
            if (policy !== "from-zero" && !leadership.isLeader()) return false;
            const at = now();
            const failure = yield* (policy === "from-zero"
              ? replicaWriter.raiseFromZero(ns, name, to).pipe(
                Effect.map(({ raised }) => (raised ? undefined : "")),
              )
              : replicaWriter.scale(ns, name, to).pipe(Effect.as(undefined))).pipe(
                Effect.catch((e) => Effect.succeed(e.message)),
              );
            if (failure === "") {
              // Another replica raised it first: this request waits for the same scale-up.
              s.fromZeroAt = at;
              s.heldAtZero = false;
              return true;
            }
            if (failure !== undefined) {
              yield* Effect.logWarning(
                `${policy}: scaling ${name}.${ns} ${from} -> ${to} replicas failed (${reason}): ${failure}`,
              );
              return false;
            }
            decisions.push({ at, function: name, namespace: ns, from, to, policy, reason });
            // Our own change: the next tick must not take it for someone else's.
            if (from === 0) s.activeSince = at;
            s.lastReplicas = to;
            if (policy === "from-zero") {
              s.fromZeroAt = at;
              s.heldAtZero = false;
            }
            metrics.scalingDecisions.inc({
              function_name: `${name}.${ns}`,
              policy,
              direction: to > from ? "up" : "down",
            });
            yield* Effect.logInfo(`${policy}: ${name}.${ns} ${from} -> ${to} replicas (${reason})`);
            return true;
          });

        const unschedulable = (d: Deployment) =>
          caches.pods.list(d.metadata!.namespace).some((p) =>
            p.metadata?.labels?.[functionLabel] === d.metadata!.name &&
            p.status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False")
          );

        const reactiveScale = (
          d: Deployment,
          policy: ScalingPolicy,
          s: FunctionState,
        ): Effect.Effect<unknown> => {
          const name = d.metadata!.name!, ns = d.metadata!.namespace!;
          const current = d.spec?.replicas ?? 0;
          const t = now();
          let load: Load, unit: string;
          let usageWindow: string | undefined;
          const cpu = policy.type === "cpu" ? cpuUsage.get(ns)?.byFunction?.get(name) : undefined;
          if (policy.type === "rps") {
            load = {
              stable: cluster.rate(name, ns, stableMs) / (stableMs / 1000),
              panic: cluster.rate(name, ns, panicMs) / (panicMs / 1000),
            };
            unit = "req/s";
          } else if (cpu !== undefined && cpu.pods > 0) {
            // The metrics API already averages over its window (30 s on metrics-server): one load for both.
            load = { stable: cpu.cpu, panic: cpu.cpu };
            unit = "millicores";
            usageWindow = `${cpu.pods} pods, metrics API`;
          } else {
            // capacity, and cpu while the metrics API has no usage for the function: requests in flight.
            const sampled = inFlightLoad(s.inFlight, cluster.activity(name, ns)?.inFlight ?? 0, t, windows);
            s.inFlight = sampled.samples;
            load = sampled.load;
            unit = "in flight";
          }
          const decision = reactive(
            s.reactive,
            load,
            policy,
            { current, ready: d.status?.readyReplicas ?? current },
            t,
            windows,
          );
          s.reactive = decision.memory;
          const { want } = decision;
          const perReplica = policy.target * policy.targetProportion;
          const loadText = usageWindow === undefined
            ? `${load.stable.toFixed(2)} ${unit} over ${stableMs / 1000}s, ${load.panic.toFixed(2)} over ${
              panicMs / 1000
            }s`
            : `${load.stable.toFixed(2)} ${unit} (${usageWindow})`;
          const reason = `${loadText}; target ${perReplica.toFixed(2)} per replica${
            decision.panicking ? "; panic mode" : ""
          }`;
          if (want > current) {
            if (t < s.holdUntil) return Effect.void;
            if (unschedulable(d)) {
              s.holdMs = nextHoldMs(s.holdMs);
              s.holdUntil = t + s.holdMs;
              metrics.scalingDecisions.inc({
                function_name: `${name}.${ns}`,
                policy: "reactive",
                direction: "hold",
              });
              return Effect.logWarning(
                `reactive: ${name}.${ns} stays at ${current} replicas for ${
                  s.holdMs / 1000
                }s: pods cannot be scheduled (no capacity)`,
              );
            }
            s.holdMs = 0;
          }
          if (want < current && cluster.uncertain()) return Effect.void; // a member may serve unseen load
          return want !== current ? scale(d, s, want, "reactive", reason) : Effect.void;
        };

        const handled = Effect.succeed(true), notHandled = Effect.succeed(false);

        /** Scales an idle function to zero; whether it did. */
        const idler = (d: Deployment, policy: ScalingPolicy, s: FunctionState): Effect.Effect<boolean> => {
          if (cluster.uncertain()) return notHandled;
          const idle = idleBeyondZeroDuration(
            cluster.activity(d.metadata!.name!, d.metadata!.namespace!),
            s.activeSince,
            policy,
            now(),
          );
          return idle === undefined ? notHandled : scale(
            d,
            s,
            0,
            "idler",
            `no invocation for ${Math.round(idle / 1000)}s (zero-duration ${policy.zeroDurationMs / 1000}s)`,
          );
        };

        /** Scaled up from zero after `since` and within the from-zero window. */
        const scaledFromZeroSince = (s: FunctionState, since: number) =>
          s.fromZeroAt !== undefined && s.fromZeroAt >= Math.max(since, now() - fromZeroWindowMs);

        /**
         * Returns true when the predictor handled the function (its histogram is representative): it then
         * decides 0 <-> warm (pre-warm, unload, keep-alive) and, while the function is warm, runs the
         * reactive autoscaler itself. Plain (no Effect.gen) on the paths that change nothing: it runs for
         * every function on every tick.
         */
        const predictor = (
          d: Deployment,
          policy: ScalingPolicy,
          s: FunctionState,
        ): Effect.Effect<boolean> => {
          const name = d.metadata!.name!, ns = d.metadata!.namespace!;
          // The histogram holds the idle times of all replicas together (ClusterLoad folds them in).
          const load = invocations.load(name, ns);
          const idleWindows = load?.idle.windows(policy.zeroDurationMs);
          const activity = cluster.activity(name, ns) ?? load;
          if (!load || !idleWindows || !activity || activity.lastEnded === 0) {
            const verdict = "fallback";
            if (s.lastPrediction === verdict || !load) return notHandled;
            s.lastPrediction = verdict;
            metrics.scalingDecisions.inc({
              function_name: `${name}.${ns}`,
              policy: "predictive",
              direction: "fallback",
            });
            return Effect.as(
              Effect.logInfo(
                `predictive: ${name}.${ns} idle-time histogram not representative (${load.idle.samples} samples): fixed keep-alive of ${
                  policy.zeroDurationMs / 1000
                }s`,
              ),
              false,
            );
          }
          s.lastPrediction = "histogram";
          const current = d.spec?.replicas ?? 0;
          const prediction = predict(
            activity,
            idleWindows,
            current,
            scaledFromZeroSince(s, activity.lastStarted),
            now(),
          );
          switch (prediction.kind) {
            case "load":
              return current > 0 && policy.autoscale && options.autoscale !== false
                ? Effect.as(reactiveScale(d, policy, s), true)
                : handled;
            case "prewarm":
              return Effect.as(scale(d, s, Math.max(1, policy.min), "predictive", prediction.reason), true);
            case "unload":
              return cluster.uncertain()
                ? handled
                : Effect.as(scale(d, s, 0, "predictive", prediction.reason), true);
            default:
              return handled;
          }
        };

        /** Reads usage for the namespaces with running cpu-scaled functions, at most every cpuPollMs. */
        const pollCpuUsage = Effect.gen(function* () {
          const due = new Set<string>();
          for (const d of caches.deployments.list()) {
            if (d.metadata?.labels?.[functionLabel] === undefined || (d.spec?.replicas ?? 0) === 0) continue;
            const ns = d.metadata.namespace!;
            if (due.has(ns) || policyOf(d).type !== "cpu") continue;
            const last = cpuUsage.get(ns);
            if (!last || now() - last.at >= cpuPollMs) due.add(ns);
          }
          for (const ns of due) cpuUsage.set(ns, { at: now(), byFunction: yield* usage.ofNamespace(ns) });
        });

        /** Functions that no longer exist: their state and invocation history go (a redeploy starts afresh). */
        const forgetRemoved = (seen: ReadonlySet<string>) => {
          for (const [key, s] of states) {
            if (seen.has(key)) continue;
            states.delete(key);
            invocations.forget(s.name, s.namespace);
          }
        };

        /** The functions the predictor runs for: those whose history is persisted. */
        const predicted = () =>
          options.predictive
            ? caches.deployments.list().filter((d) => {
              if (d.metadata?.labels?.[functionLabel] === undefined) return false;
              const p = policyOf(d);
              return p.zero && p.predictive;
            })
            : [];

        const tick = Effect.gen(function* () {
          const seen = new Set<string>();
          if (!leadership.isLeader()) {
            historyLoaded = false;
            // Not leading: on a takeover every function is judged afresh, as after a restart.
            for (const d of caches.deployments.list()) {
              if (d.metadata?.labels?.[functionLabel] === undefined) continue;
              const name = d.metadata.name!, ns = d.metadata.namespace!, key = `${name}.${ns}`;
              seen.add(key);
              stateOf(key, name, ns).lastReplicas = undefined;
            }
            return forgetRemoved(seen);
          }
          // A new leader (or a restart) decides nothing before the persisted history is in.
          if (history && !historyLoaded && !(historyLoaded = yield* history.load(predicted()))) return;
          yield* cluster.refresh;
          if (options.autoscale !== false) yield* pollCpuUsage;
          for (const listed of caches.deployments.list()) {
            if (listed.metadata?.labels?.[functionLabel] === undefined) continue;
            const name = listed.metadata.name!, ns = listed.metadata.namespace!;
            // The list was taken before this round yielded: a scale from zero since then is in the cache.
            const d = caches.deployments.get(ns, name) ?? listed;
            const key = `${name}.${ns}`;
            seen.add(key);
            const s = stateOf(key, name, ns);
            const replicas = d.spec?.replicas ?? 0;
            if (replicas > 0 && !(s.lastReplicas && s.lastReplicas > 0)) s.activeSince = now();
            if (s.lastReplicas === undefined) {
              // First seen (a new function, or a restart): what it has is someone's choice until the load says.
              s.reactive = { ...s.reactive, externalUntil: now() + downDelayMs };
            } else if (replicas !== s.lastReplicas) {
              // Not our change (ours set lastReplicas): an operator's, the Gateway's or an external idler's.
              s.reactive = { ...s.reactive, externalUntil: now() + downDelayMs };
              s.heldAtZero = replicas === 0;
              // Raised from zero by another replica for its requests (or by anyone): they wait for its pod, so
              // the predictor must not unload it before they start.
              if (s.lastReplicas === 0 && replicas > 0) s.fromZeroAt = now();
            }
            s.lastReplicas = replicas;
            const policy = policyOf(d);
            if (policy.zero && policy.predictive && options.predictive && !s.heldAtZero) {
              if (yield* predictor(d, policy, s)) continue;
            }
            if (replicas === 0) continue;
            // Scaled to zero: the autoscaler, which never goes below 1, must not undo it in the same round.
            if (policy.zero && options.idler !== false && (yield* idler(d, policy, s))) continue;
            if (policy.autoscale && options.autoscale !== false) yield* reactiveScale(d, policy, s);
          }
          forgetRemoved(seen);
          if (history && leadership.isLeader()) yield* history.save(predicted());
        });

        yield* Effect.forkScoped(
          Effect.repeat(
            tick.pipe(Effect.catchCause((cause) => Effect.logError("scaler tick failed", cause))),
            Schedule.spaced(tickMs),
          ),
        );

        const scaleFromZero = Effect.fn("Scaler.scaleFromZero")(function* (name: string, ns: string) {
          const key = `${name}.${ns}`;
          const d = caches.deployments.get(ns, name);
          if (!d) return "not-at-zero";
          const s = stateOf(key, name, ns);
          if ((d.spec?.replicas ?? 0) > 0) {
            // Recently scaled up from zero: requests arriving meanwhile wait as long as the first.
            return s.fromZeroAt !== undefined && now() - s.fromZeroAt < fromZeroWindowMs
              ? "from-zero"
              : "not-at-zero";
          }
          // Requests are waiting for this scale-up: the idler must count from now, not from the last invocation.
          s.activeSince = now();
          let pending = pendingFromZero.get(key);
          if (!pending) {
            const policy = policyOf(d);
            const context = yield* Effect.context<never>();
            pending = Effect.runPromiseWith(context)(
              scale(d, s, Math.max(1, policy.min), "from-zero", "a request arrived at zero replicas"),
            ).finally(() => pendingFromZero.delete(key));
            pendingFromZero.set(key, pending);
          }
          return (yield* Effect.promise(() => pending!)) ? "from-zero" : "failed";
        });

        return Scaler.of({ tick, scaleFromZero, decisions: () => decisions.toArray(), policyOf });
      }),
    );
}
