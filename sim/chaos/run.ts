/**
 * One chaos run: a seed gives the workload and the fault schedule; the real provider (one or more replicas)
 * runs them on the simulator in virtual time while the safety invariants are checked every simulated
 * minute; then the faults stop, and after a quiet tail the liveness and resource invariants are checked.
 * Everything the run decides and observes goes into a log whose SHA-256 is the run's digest: the same seed
 * gives the same digest, or the simulation depends on something it should not.
 */
import { createHash } from "node:crypto";
import { Kinds } from "../kinds.ts";
import { Model, type Violation } from "./model.ts";
import { faultKinds, type FaultWindow, generateFaults, type Schedule } from "./schedule.ts";
import {
  functionNamespace,
  generateWorkload,
  type Invocation,
  type Op,
  requestFor,
  type Workload,
  writeKey,
} from "./workload.ts";
import { type ProviderOptions, World } from "./world.ts";
import { checkLiveness, metricsSeries, resourceSizes, type Sizes } from "./liveness.ts";

export interface ChaosOptions {
  readonly seed: number;
  readonly hours: number;
  readonly replicas?: number;
  readonly functions?: number;
  /** Replaces the seed's schedule (a replay of a shrunk one). */
  readonly schedule?: Schedule;
  /** Test-only replacements in the composition root (a planted bug). */
  readonly provider?: Omit<ProviderOptions, "loadPeers">;
  /** Fault windows per simulated hour (default 6). */
  readonly faultsPerHour?: number;
  /** Keep the run's log in the result (to compare two runs line by line). */
  readonly keepLog?: boolean;
  readonly onHour?: (hour: number, total: number, soFar: { invocations: number; ops: number }) => void;
}

/** The heap in use, after a full collection when the runtime allows one (`--v8-flags=--expose-gc`). */
const heapUsed = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().heapUsed;
};

/** A minute of the run, for the report's timeline. */
export interface Minute {
  ops: number;
  invocations: number;
  failed: number;
  /** spec.replicas of the first few functions at the end of the minute (-1: absent). */
  replicas: number[];
}

export interface ChaosResult {
  readonly seed: number;
  readonly hours: number;
  readonly replicas: number;
  readonly schedule: Schedule;
  readonly opsTotal: number;
  readonly invocations: number;
  readonly failedInvocations: number;
  readonly ops: number;
  readonly faults: readonly FaultWindow[];
  readonly violations: readonly Violation[];
  readonly checks: number;
  readonly digest: string;
  readonly wallMs: number;
  readonly timeline: readonly Minute[];
  readonly chartedFunctions: readonly string[];
  /** `early`: the largest of each size over hours 1 to 3; `end`: after the tail. */
  readonly sizes: { readonly early?: Sizes; readonly end?: Sizes };
  /** Heap in use after hour 1 and at the end, with the simulated API server's watch history (capped). */
  readonly heap: {
    readonly hour1?: number;
    readonly end?: number;
    readonly historyHour1?: number;
    readonly historyEnd?: number;
    readonly endWithoutHistory?: number;
  };
  readonly log?: readonly string[];
}

const minuteMs = 60_000;
const hourMs = 3_600_000;
/** After the faults stop: a quiet tail, then the liveness checks have this long to pass. */
export const quietMs = 10 * minuteMs;
export const convergeMs = 10 * minuteMs;
/** The bounded-state invariant compares the end of runs this long with their first three hours. */
export const boundedCheckHours = 6;
/** The heap at the end of such a run (the simulator's capped watch history dropped) within this of hour 1's. */
export const heapBound = 1.5;

/** The workload and schedule a seed gives. */
export const plan = (options: ChaosOptions): { workload: Workload; schedule: Schedule } => {
  const durationMs = options.hours * hourMs;
  const workload = generateWorkload({ seed: options.seed, durationMs, functions: options.functions ?? 6 });
  const schedule = options.schedule ??
    {
      faults: generateFaults({
        seed: options.seed,
        durationMs,
        replicas: options.replicas ?? 1,
        functions: options.functions ?? 6,
        perHour: options.faultsPerHour,
      }),
    };
  return { workload, schedule };
};

/**
 * The run's log: hashed line by line (SHA-256, streaming, so a long run holds none of it), kept only when
 * asked for.
 */
class RunLog {
  private readonly hash = createHash("sha256");
  readonly lines: string[] | undefined;
  constructor(keep: boolean) {
    this.lines = keep ? [] : undefined;
  }
  push(line: string) {
    this.hash.update(line);
    this.hash.update("\n");
    this.lines?.push(line);
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

export const runChaos = async (options: ChaosOptions): Promise<ChaosResult> => {
  const wallStart = performance.now();
  const replicaCount = options.replicas ?? 1;
  const durationMs = options.hours * hourMs;
  const { workload, schedule } = plan(options);
  const keep = schedule.ops ? new Set(schedule.ops) : undefined;
  const ops = workload.ops.filter((op) => !keep || keep.has(op.i));
  const log = new RunLog(options.keepLog ?? false);
  const model = new Model(workload.functions, workload.secrets);
  for (const op of workload.ops) if ("value" in op) model.remember(op.value);
  const violations: Violation[] = [];
  let start = 0;
  const rel = () => world.now() - start;
  const violate = (invariant: string, detail: string) => {
    if (violations.length >= 20) return;
    violations.push({ at: rel(), invariant, detail });
    log.push(`${rel()} VIOLATION ${invariant} ${detail}`);
  };
  const world = await World.start({
    seed: options.seed,
    replicas: replicaCount,
    provider: options.provider,
    onLog: (line) => {
      log.push(`${rel()} log ${line}`);
      const leaked = model.leak(line);
      if (leaked) violate("secret-leaked", `a log line carries a secret value: ${line.slice(0, 200)}`);
    },
  });
  start = world.now();
  const charted = workload.functions.slice(0, 4).map((f) => f.name);
  const minutes = Math.ceil(durationMs / minuteMs);
  const timeline: Minute[] = Array.from(
    { length: minutes },
    () => ({ ops: 0, invocations: 0, failed: 0, replicas: [] }),
  );
  const minuteOf = () => timeline[Math.min(minutes - 1, Math.floor(rel() / minuteMs))];
  let invocations = 0, failedInvocations = 0, opsDone = 0, checks = 0, pending = 0;
  let turn = 0;
  const handlerFor = (k: number) => world.replicas[k % world.replicas.length];

  const scan = (what: string, text: string) => {
    const leaked = model.leak(text);
    if (leaked) violate("secret-leaked", `${what} carries a secret value (${leaked.slice(0, 24)}...)`);
  };

  const runOp = (op: Op) => {
    const key = writeKey(op);
    if (key && model.inflight.has(key)) {
      log.push(`${rel()} op ${op.i} ${op.kind} skipped (a write in flight)`);
      return;
    }
    const replica = handlerFor(op.i);
    minuteOf().ops++;
    opsDone++;
    const handler = replica.handler;
    if (!handler) {
      log.push(`${rel()} op ${op.i} ${op.kind} -> ${replica.identity} refused (down)`);
      return;
    }
    if (key) model.inflight.add(key);
    pending++;
    const issued = rel();
    Promise.resolve(handler(requestFor(op, workload.functions)))
      .then(async (res) => ({ status: res.status as number | undefined, text: await res.text() }))
      .catch((e) => ({ status: undefined, text: String(e) }))
      .then(({ status, text }) => {
        pending--;
        log.push(
          `${rel()} op ${op.i} ${op.kind} ${
            "fn" in op ? op.fn : "secret" in op ? op.secret : ""
          } (sent ${issued}) -> ${status ?? "no answer"}${op.kind === "metrics" ? "" : ` ${text.length}`}`,
        );
        scan(`the answer to ${op.kind}`, text);
        model.settle(op, status);
        if (key) model.inflight.delete(key);
      });
  };

  const invoke = (inv: Invocation, via?: number) => {
    const replica = handlerFor(via ?? turn++);
    invocations++;
    const minute = rel() < durationMs ? minuteOf() : undefined;
    if (minute) minute.invocations++;
    const handler = replica.handler;
    if (!handler) {
      failedInvocations++;
      if (minute) minute.failed++;
      return Promise.resolve(undefined);
    }
    pending++;
    return Promise.resolve(
      handler(new Request(`http://provider/function/${inv.fn}`, { method: "POST", body: "" })),
    )
      .then(async (res) => ({ status: res.status as number | undefined, text: await res.text() }))
      .catch((e) => ({ status: undefined, text: String(e) }))
      .then(({ status, text }) => {
        pending--;
        log.push(`${rel()} invoke ${inv.fn} via ${replica.identity} -> ${status ?? "no answer"}`);
        if (status !== 200) {
          failedInvocations++;
          if (minute) minute.failed++;
        } else if (text !== `${inv.fn}\n`) {
          violate("wrong-function-response", `${inv.fn} answered with ${JSON.stringify(text.slice(0, 80))}`);
        }
        scan(`the answer to an invocation of ${inv.fn}`, text);
        return status;
      });
  };

  // Fault windows open and close on the clock; `active` is what is open now.
  const active: FaultWindow[] = [];
  const faultEvents: { at: number; open: boolean; w: FaultWindow }[] = [];
  for (const w of schedule.faults) {
    faultEvents.push({ at: w.at, open: true, w }, { at: Math.min(durationMs, w.at + w.ms), open: false, w });
  }
  faultEvents.sort((a, b) => a.at - b.at || Number(a.open) - Number(b.open));
  const toggle = (e: { open: boolean; w: FaultWindow }) => {
    const kind = faultKinds.get(e.w.kind)!;
    if (e.open) active.push(e.w);
    else active.splice(active.indexOf(e.w), 1);
    log.push(
      `${rel()} fault ${e.open ? "open" : "close"} ${e.w.kind}${
        e.w.target !== undefined ? `:${e.w.target}` : ""
      }`,
    );
    const done = e.open ? kind.apply(world, e.w, active) : kind.revert(world, e.w, active);
    if (done) done.catch((err) => log.push(`${rel()} fault ${e.w.kind} failed: ${err}`));
  };

  let sizes: ChaosResult["sizes"] = {};
  let heap: ChaosResult["heap"] = {};
  try {
    // The run, a minute at a time: the minute's events go on the clock, the clock runs through it.
    let nextOp = 0, nextInv = 0, nextFault = 0;
    const invs = workload.invocations;
    for (let t = 0; t < durationMs && violations.length === 0; t += minuteMs) {
      const end = Math.min(durationMs, t + minuteMs);
      const schedule = (at: number, fn: () => void) =>
        world.cluster.clock.after(start + at - world.now(), fn);
      for (; nextFault < faultEvents.length && faultEvents[nextFault].at < end; nextFault++) {
        const e = faultEvents[nextFault];
        schedule(e.at, () => toggle(e));
      }
      for (; nextOp < ops.length && ops[nextOp].at < end; nextOp++) {
        const op = ops[nextOp];
        schedule(op.at, () => runOp(op));
      }
      for (; nextInv < invs.length && invs[nextInv].at < end; nextInv++) {
        const inv = invs[nextInv];
        schedule(inv.at, () => void invoke(inv));
      }
      await world.advance(start + end - world.now());
      for (const v of model.check(world.cluster, rel())) violate(v.invariant, v.detail);
      checks++;
      const minute = timeline[Math.floor(t / minuteMs)];
      minute.replicas = charted.map((f) => {
        const d = world.cluster.store.peek(Kinds.Deployment, functionNamespace, f);
        return d && !d.metadata.deletionTimestamp ? d.spec?.replicas ?? 0 : -1;
      });
      if (end % hourMs === 0 || end === durationMs) {
        const hour = Math.ceil(end / hourMs);
        if (hour <= 3) {
          const now: Sizes = { ...resourceSizes(world), "metrics series": await metricsSeries(world) };
          const early: Sizes = { ...sizes.early };
          for (const [what, n] of Object.entries(now)) early[what] = Math.max(early[what] ?? 0, n);
          sizes = { early };
        }
        if (hour === 1) heap = { hour1: heapUsed(), historyHour1: world.cluster.store.historyLength };
        options.onHour?.(hour, Math.ceil(options.hours), { invocations, ops: opsDone });
      }
    }
    if (violations.length === 0) {
      // Faults stop: every window closes, crashed replicas restart, links heal; then a quiet tail.
      for (const w of [...active]) toggle({ open: false, w });
      log.push(`${rel()} faults stop`);
      await world.healAll();
      await world.advance(quietMs);
      const liveness = await checkLiveness(world, model, {
        withinMs: convergeMs,
        invoke: (fn) => invoke({ at: rel(), fn }, 0),
      });
      checks += liveness.checks;
      for (const v of liveness.violations) violate(v.invariant, v.detail);
      for (const v of model.check(world.cluster, rel())) violate(v.invariant, v.detail);
      const endSizes = { ...resourceSizes(world), "metrics series": await metricsSeries(world) };
      sizes = { ...sizes, end: endSizes };
      heap = { ...heap, end: heapUsed(), historyEnd: world.cluster.store.historyLength };
      // The run is over: without the watch history, what is left is what the provider and cluster hold.
      world.cluster.store.compact();
      heap = { ...heap, endWithoutHistory: heapUsed() };
      // Measured after full collections only (sim:chaos runs with --expose-gc).
      const collected = typeof (globalThis as { gc?: unknown }).gc === "function";
      if (collected && options.hours >= boundedCheckHours && heap.hour1 && heap.endWithoutHistory) {
        if (heap.endWithoutHistory > heapBound * heap.hour1) {
          violate(
            "bounded-heap",
            `heap ${(heap.endWithoutHistory / 2 ** 20).toFixed(1)} MiB at the end (watch history dropped), ${
              (heap.hour1 / 2 ** 20).toFixed(1)
            } MiB after hour 1: more than x${heapBound}`,
          );
        }
      }
      // Long runs only: in the first hours caches fill and rings (decisions) are still filling.
      if (sizes.early && options.hours >= boundedCheckHours) {
        for (const [what, n] of Object.entries(endSizes)) {
          const early = sizes.early[what] ?? 0;
          if (n > 2 * early + 20) {
            violate("bounded-state", `${what}: at most ${early} in hours 1-3, ${n} at the end`);
          }
        }
      }
      if (pending > 0) violate("request-hung", `${pending} requests still unanswered at the end of the run`);
    }
    log.push(`${rel()} end: ${invocations} invocations (${failedInvocations} failed), ${opsDone} ops`);
  } finally {
    await world.close();
  }
  return {
    seed: options.seed,
    hours: options.hours,
    replicas: replicaCount,
    schedule,
    opsTotal: workload.ops.length,
    invocations,
    failedInvocations,
    ops: opsDone,
    faults: schedule.faults,
    violations,
    checks,
    digest: log.digest(),
    wallMs: performance.now() - wallStart,
    timeline,
    chartedFunctions: charted,
    sizes,
    heap,
    ...(log.lines ? { log: log.lines } : {}),
  };
};
