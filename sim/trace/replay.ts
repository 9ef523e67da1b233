/**
 * Replays a trace through the real provider code in virtual time: the provider
 * layer (caches, functions, the Scaler with its autoscaler, idler and
 * predictor), the provider's HTTP handler (called directly, no sockets) and the
 * simulator's controllers, all on a TestClock that the replay loop advances
 * from one invocation to the next.
 */
import { Clock, Effect, Exit, Layer, ManagedRuntime, References, Scope } from "effect";
import { TestClock } from "effect/testing";
import { defaultConfig, inProcessPeers, makeProvider, PeerRegistry } from "../../src/app.ts";
import { simBackend, simReplicaBackend } from "../layer.ts";
import { SimCluster, type SimClusterShape } from "../cluster.ts";
import { seededEffectRandom } from "../clock.ts";
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
  /**
   * Provider replicas on the one cluster (default 1): each its own provider runtime and KubeApi client,
   * leader election on, the leader reading the others' load in process; invocations go to the replicas
   * round-robin (event k to replica k mod N).
   */
  readonly replicas?: number;
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

type Provider = ReturnType<typeof makeProvider>;
type Handler = (req: Request) => Response | Promise<Response>;
type Decisions = () => readonly { at: number; namespace: string; function: string; to: number }[];

/** The providers of a replay on one simulated cluster, in one virtual time. */
interface Fleet {
  readonly cluster: SimClusterShape;
  readonly handlers: readonly Handler[];
  readonly decisions: readonly Decisions[];
  readonly metrics: Provider["metrics"];
  run<A>(effect: Effect.Effect<A>): Promise<A>;
  dispose(): Promise<void>;
}

const quiet = Layer.succeed(References.MinimumLogLevel, "None");

/** One provider, as the replay has always run it. */
const single = async (config: ReturnType<typeof defaultConfig>): Promise<Fleet> => {
  const provider = makeProvider(config);
  const layer = provider.layer.pipe(
    Layer.provideMerge(simBackend(config)),
    Layer.provideMerge(virtualClock),
    Layer.provideMerge(quiet),
    Layer.provideMerge(seededEffectRandom(config.simSeed)),
  );
  const runtime = ManagedRuntime.make(layer);
  try {
    await runtime.runPromise(provider.synced);
    return {
      cluster: await runtime.runPromise(Effect.service(SimCluster)),
      handlers: [await runtime.runPromise(provider.handler)],
      decisions: [await runtime.runPromise(provider.decisions)],
      metrics: provider.metrics,
      run: (effect) => runtime.runPromise(effect),
      dispose: () => runtime.dispose(),
    };
  } catch (e) {
    await runtime.dispose();
    throw e;
  }
};

/**
 * `count` providers on one cluster, wired as tests/support/replicas.ts does (without HTTP servers): each
 * replica its own runtime scope, KubeApi client, caches, scaler and leader election (replica-0 starts
 * first and takes the Lease); the leader reads the others' load through an in-process PeerRegistry.
 */
const fleet = async (config: ReturnType<typeof defaultConfig>, count: number): Promise<Fleet> => {
  const runtime = ManagedRuntime.make(
    SimCluster.layer({
      seed: config.simSeed,
      nodes: config.simNodes,
      nodeCpu: config.simNodeCpu,
      nodeMemory: config.simNodeMemory,
      functionNamespace: config.functionNamespace,
    }).pipe(
      Layer.provideMerge(virtualClock),
      Layer.provideMerge(quiet),
      Layer.provideMerge(seededEffectRandom(config.simSeed)),
    ),
  );
  const scopes: Scope.Closeable[] = [];
  const dispose = async () => {
    for (const scope of scopes.reverse()) await runtime.runPromise(Scope.close(scope, Exit.void));
    await runtime.dispose();
  };
  try {
    const peers = new PeerRegistry();
    const handlers: Handler[] = [], decisions: Decisions[] = [];
    let metrics: Provider["metrics"] | undefined;
    for (let i = 0; i < count; i++) {
      const identity = `replica-${i}`;
      const replicaConfig = { ...config, leaderElect: true, identity };
      const provider = makeProvider(replicaConfig, { loadPeers: inProcessPeers(peers) });
      const layer = provider.layer.pipe(Layer.provideMerge(simReplicaBackend(replicaConfig)));
      const scope = await runtime.runPromise(Scope.make());
      scopes.push(scope);
      const context = await runtime.runPromise(Layer.buildWithScope(layer, scope));
      // deno-lint-ignore no-explicit-any
      const run = <A>(effect: Effect.Effect<A, any, any>) =>
        runtime.runPromise(Effect.provideContext(effect, context) as Effect.Effect<A>);
      await run(provider.synced);
      peers.register(identity, await run(provider.loadReport));
      handlers.push(await run(provider.handler));
      decisions.push(await run(provider.decisions));
      metrics = provider.metrics;
    }
    return {
      cluster: await runtime.runPromise(Effect.service(SimCluster)),
      handlers,
      decisions,
      metrics: metrics!,
      run: (effect) => runtime.runPromise(effect),
      dispose,
    };
  } catch (e) {
    await dispose();
    throw e;
  }
};

/** Runs `trace` on fresh providers (`options.replicas`, default 1) with `options.policy`. */
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
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new Error(`replicas: ${replicas} is not a whole number >= 1`);
  }
  const providers = replicas === 1 ? await single(config) : await fleet(config, replicas);
  try {
    const { cluster, handlers } = providers;
    const handler = handlers[0];
    const provider = { metrics: providers.metrics };
    let now = await providers.run(Clock.currentTimeMillis);
    const advanceTo = async (t: number) => {
      if (t <= now) return;
      await providers.run(TestClock.adjust(t - now));
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
    // Every replica's new decisions (only the leader's, but for scale from zero), merged in time order.
    const lastDecision: (ReturnType<Decisions>[number] | undefined)[] = providers.decisions.map(() =>
      undefined
    );
    const sample = () => {
      const fresh: ReturnType<Decisions>[number][] = [];
      providers.decisions.forEach((decisions, r) => {
        const all = decisions();
        let from = all.length;
        while (from > 0 && all[from - 1] !== lastDecision[r] && all[from - 1].at >= start) from--;
        for (let k = from; k < all.length; k++) fresh.push(all[k]);
        if (all.length) lastDecision[r] = all[all.length - 1];
      });
      if (providers.decisions.length > 1) fresh.sort((a, b) => a.at - b.at);
      for (const d of fresh) {
        const i = d.namespace === namespace ? fnIndex.get(d.function) : undefined;
        if (i === undefined) continue;
        addReplicaTime(i, d.at);
        changedAt[i] = Math.max(changedAt[i], d.at);
        replicasNow[i] = d.to;
      }
      const t = cluster.clock.now();
      for (let i = 0; i < nFn; i++) addReplicaTime(i, t);
    };

    const clock = () => cluster.clock.now();
    const fire = (fn: string, durationMs: number, replica: Handler) => {
      const startedAt = clock();
      outstanding++;
      const req = new Request(`http://provider/function/${fn}?duration_ms=${durationMs}`, { method: "POST" });
      Promise.resolve(replica(req)).then(async (res) => {
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
        const replica = handlers[next % handlers.length];
        cluster.clock.after(start + e.t - cluster.clock.now(), () => fire(e.fn, e.durationMs, replica));
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
    await providers.dispose();
  }
};
