/**
 * Replays a trace through the real provider code in virtual time: the provider
 * layer (caches, functions, the Scaler with its autoscaler, idler and
 * predictor), the provider's HTTP handler (called directly, no sockets) and the
 * simulator's controllers, all on a TestClock that the replay loop advances
 * from one invocation to the next.
 */
import { Clock, Effect, Layer, ManagedRuntime, References } from "effect";
import { TestClock } from "effect/testing";
import { defaultConfig, makeProvider } from "../../src/app.ts";
import { simBackend } from "../layer.ts";
import { SimCluster } from "../cluster.ts";
import { Kinds } from "../kinds.ts";
import type { FunctionResult, PolicyName, PolicyResult, Trace } from "./types.ts";
import { percentile } from "./stats.ts";

export interface ReplayOptions {
  readonly policy: PolicyName;
  /** com.openfaas.scale.zero-duration for the idler policies (default 15m). */
  readonly zeroDurationMs?: number;
  /** Simulator seed (default 1). */
  readonly seed?: number;
  /** Simulated nodes (default 3) and their CPU (default "32", so capacity never limits a replay). */
  readonly nodes?: number;
  readonly nodeCpu?: string;
  /** Virtual time before the trace starts, for the functions to come up (default 60 s). */
  readonly warmupMs?: number;
  /** Called after each simulated hour. */
  readonly onHour?: (
    hour: number,
    totalHours: number,
    soFar: { invocations: number; coldStarts: number },
  ) => void;
  /** Scaler overrides (tick, windows) merged over the provider's defaults. */
  readonly config?: Partial<Parameters<typeof defaultConfig>[0]>;
}

export const namespace = "openfaas-fn";
const traceImage = "sim/sleep:latest";

/** Scaling labels each policy deploys functions with. */
const policyLabels = (policy: PolicyName, zeroDurationMs: number): Record<string, string> => {
  const zd = `${Math.round(zeroDurationMs / 1000)}s`;
  switch (policy) {
    case "fixed":
      return { "com.openfaas.scale.min": "1", "com.openfaas.scale.max": "1" };
    case "reactive":
      return {};
    case "reactive+idler":
      return { "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": zd };
    case "predictive":
      return {
        "com.openfaas.scale.zero": "true",
        "com.openfaas.scale.zero-duration": zd,
        "com.openfaas.scale.predictive": "true",
      };
  }
};

const virtualClock = Layer.effectDiscard(TestClock.setTime(Date.parse("2026-01-01T00:00:00Z"))).pipe(
  Layer.provideMerge(TestClock.layer({ warningDelay: "1 hour" })),
);

/** Runs `trace` on a fresh provider with `options.policy`. */
export const replay = async (trace: Trace, options: ReplayOptions): Promise<PolicyResult> => {
  const wallStart = performance.now();
  const policy = options.policy;
  const zeroDurationMs = options.zeroDurationMs ?? 15 * 60_000;
  const warmupMs = options.warmupMs ?? 60_000;
  const config = defaultConfig({
    scaling: policy !== "fixed",
    predictiveScaling: policy === "predictive",
    simSeed: options.seed ?? 1,
    simNodes: options.nodes ?? 3,
    simNodeCpu: options.nodeCpu ?? "32",
    simNodeMemory: "256Gi",
    ...options.config,
  });
  const provider = makeProvider(config);
  const layer = provider.layer.pipe(
    Layer.provideMerge(simBackend(config)),
    Layer.provideMerge(virtualClock),
    Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "None")),
  );
  const runtime = ManagedRuntime.make(layer);
  try {
    await runtime.runPromise(provider.synced);
    const cluster = await runtime.runPromise(Effect.service(SimCluster));
    const handler = await runtime.runPromise(provider.handler);
    let now = await runtime.runPromise(Clock.currentTimeMillis);
    const advanceTo = async (t: number) => {
      if (t <= now) return;
      await runtime.runPromise(TestClock.adjust(t - now));
      now = t;
    };

    const labels = policyLabels(policy, zeroDurationMs);
    for (const fn of trace.functions) {
      const res = await handler(
        new Request("http://provider/system/functions", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ service: fn, image: traceImage, namespace, labels }),
        }),
      );
      if (res.status !== 202) throw new Error(`deploying ${fn}: ${res.status} ${await res.text()}`);
    }
    await advanceTo(now + warmupMs);
    const start = now;

    const fnIndex = new Map(trace.functions.map((f, i) => [f, i]));
    const nFn = trace.functions.length;
    const replicaMs = new Float64Array(nFn);
    const invocationsOf = new Float64Array(nFn);
    const metricKey = (fn: string) => ({ function_name: `${fn}.${namespace}` });
    const coldBefore = trace.functions.map((f) => provider.metrics.coldStarts.get(metricKey(f)));
    const scaleCount = (fn: string) =>
      provider.metrics.scalingDecisions.sum((l) =>
        l.function_name === `${fn}.${namespace}` && (l.direction === "up" || l.direction === "down")
      );
    const scaleBefore = trace.functions.map(scaleCount);

    const minutes = Math.max(1, Math.ceil(trace.durationMs / 60_000));
    const loadPerMinute = new Array<number>(minutes).fill(0);
    const replicaMsPerMinute = new Float64Array(minutes);
    const added = new Float64Array(trace.events.length);
    let done = 0, errors = 0, outstanding = 0;

    // Replicas are piecewise constant: integrated exactly from the Scaler's decisions (the only writer of
    // spec.replicas during a replay), read in batches at every hour mark and at the end.
    const decisions = await runtime.runPromise(provider.decisions);
    const replicasNow = trace.functions.map((f) =>
      cluster.store.peek(Kinds.Deployment, namespace, f)?.spec?.replicas ?? 0
    );
    const changedAt = trace.functions.map(() => start);
    const addReplicaTime = (i: number, until: number) => {
      const from = changedAt[i];
      if (until <= from) return;
      const r = replicasNow[i];
      replicaMs[i] += r * (until - from);
      changedAt[i] = until;
      if (r === 0) return;
      // Spread over the per-minute chart.
      for (let t = from; t < until;) {
        const m = Math.floor((t - start) / 60_000);
        const next = Math.min(until, start + (m + 1) * 60_000);
        if (m >= 0 && m < minutes) replicaMsPerMinute[m] += r * (next - t);
        t = next;
      }
    };
    let lastDecision: ReturnType<typeof decisions>[number] | undefined;
    const sample = () => {
      const all = decisions();
      let from = all.length;
      while (from > 0 && all[from - 1] !== lastDecision && all[from - 1].at >= start) from--;
      for (let k = from; k < all.length; k++) {
        const d = all[k];
        const i = d.namespace === namespace ? fnIndex.get(d.function) : undefined;
        if (i === undefined) continue;
        addReplicaTime(i, d.at);
        changedAt[i] = Math.max(changedAt[i], d.at);
        replicasNow[i] = d.to;
      }
      if (all.length) lastDecision = all[all.length - 1];
      const t = cluster.clock.now();
      for (let i = 0; i < nFn; i++) addReplicaTime(i, t);
    };

    const clock = () => cluster.clock.now();
    const fire = (fn: string, durationMs: number) => {
      const startedAt = clock();
      outstanding++;
      const req = new Request(`http://provider/function/${fn}?duration_ms=${durationMs}`, { method: "POST" });
      Promise.resolve(handler(req)).then(async (res) => {
        await res.arrayBuffer();
        if (res.status >= 500) errors++;
        added[done++] = Math.max(0, clock() - startedAt - durationMs);
      }).catch(() => {
        errors++;
        added[done++] = clock() - startedAt;
      }).finally(() => outstanding--);
    };

    const hourMs = 3_600_000;
    const totalHours = Math.ceil(trace.durationMs / hourMs);
    let nextHour = start + hourMs;
    const coldSoFar = () =>
      trace.functions.reduce(
        (s, f, i) => s + provider.metrics.coldStarts.get(metricKey(f)) - coldBefore[i],
        0,
      );
    const step = async (t: number) => {
      // Advance to t, stopping at sample points and hour marks on the way.
      while (true) {
        const stop = Math.min(t, nextHour);
        await advanceTo(stop);
        if (now >= nextHour) {
          sample();
          options.onHour?.(Math.round((nextHour - start) / hourMs), totalHours, {
            invocations: done,
            coldStarts: coldSoFar(),
          });
          nextHour += hourMs;
        }
        if (stop >= t) return;
      }
    };

    // Events are scheduled on the simulator's clock a minute at a time, then the clock runs through the
    // minute: each invocation starts at its exact virtual time without stopping the replay loop.
    const chunkMs = 60_000;
    let next = 0;
    for (let chunk = 0; chunk < trace.durationMs; chunk += chunkMs) {
      const end = Math.min(trace.durationMs, chunk + chunkMs);
      for (; next < trace.events.length && trace.events[next].t < end; next++) {
        const e = trace.events[next];
        const i = fnIndex.get(e.fn)!;
        invocationsOf[i]++;
        loadPerMinute[Math.min(minutes - 1, Math.floor(e.t / 60_000))]++;
        cluster.clock.after(start + e.t - cluster.clock.now(), () => fire(e.fn, e.durationMs));
      }
      await step(start + end);
    }
    await step(start + trace.durationMs);
    // Let the last requests finish (bounded).
    for (let k = 0; k < 600 && outstanding > 0; k++) {
      await step(now + 1_000);
    }
    sample();

    const sorted = added.slice(0, done).sort();
    const perFunction: Record<string, FunctionResult> = {};
    let coldStarts = 0, scaleEvents = 0, replicaSeconds = 0;
    trace.functions.forEach((f, i) => {
      const cold = provider.metrics.coldStarts.get(metricKey(f)) - coldBefore[i];
      const scales = scaleCount(f) - scaleBefore[i];
      coldStarts += cold;
      scaleEvents += scales;
      replicaSeconds += replicaMs[i] / 1000;
      perFunction[f] = {
        invocations: invocationsOf[i],
        coldStarts: cold,
        replicaSeconds: replicaMs[i] / 1000,
        scaleEvents: scales,
      };
    });
    return {
      policy,
      invocations: trace.events.length,
      errors,
      coldStarts,
      addedLatencyP50: percentile(sorted, 0.5),
      addedLatencyP99: percentile(sorted, 0.99),
      addedLatencyMax: sorted.length ? sorted[sorted.length - 1] : 0,
      replicaSeconds,
      scaleEvents,
      perFunction,
      loadPerMinute,
      replicasPerMinute: Array.from(replicaMsPerMinute, (ms) => ms / 60_000),
      wallMs: performance.now() - wallStart,
    };
  } finally {
    await runtime.dispose();
  }
};
