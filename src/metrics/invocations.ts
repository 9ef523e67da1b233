/**
 * Every invocation through the proxy: counted for /metrics, and kept as
 * per-second counts and in-flight gauges for the autoscaler and idler.
 */
import { Clock, Context, Effect, Layer } from "effect";
import { metrics } from "./registry.ts";
import { type IdleCounts, IdleHistogram } from "./idlehistogram.ts";
import { type BusyPeriods, IdleTimeline } from "./idletimeline.ts";

interface FunctionLoad {
  inFlight: number;
  lastStarted: number;
  /** When the last invocation ended (0 = never). */
  lastEnded: number;
  /**
   * Idle times between invocations, for the predictive policy: on the leader, the gaps between every
   * replica's busy periods (`observeIdle`), folded by `timeline`.
   */
  readonly idle: IdleHistogram;
  readonly timeline: IdleTimeline;
}

interface InvocationsShape {
  /** Records a start; the returned function records the end with its status code. */
  start(fn: string, namespace: string): (status: number) => void;
  load(fn: string, namespace: string): FunctionLoad | undefined;
  /** Requests started in the last `windowMs` (virtual time). */
  rate(fn: string, namespace: string, windowMs: number): number;
  /** This replica's busy periods of every function it served (closed ones retained 10 minutes). */
  busy(): IterableIterator<{ readonly name: string; readonly namespace: string } & BusyPeriods>;
  /**
   * The leader: folds the busy periods of every replica (this one's included in `sources`) up to
   * `horizon` into the function's idle-time histogram (see src/metrics/idletimeline.ts).
   */
  observeIdle(fn: string, namespace: string, sources: readonly BusyPeriods[], horizon: number): void;
  /**
   * Takes in a persisted history (src/cluster/history.ts): the last start and end become the later of
   * both, and the idle-time counts are added to this replica's (`replace`: they replace them, and idle
   * times are folded again from when the record was saved).
   */
  restore(fn: string, namespace: string, history: PersistedLoad, replace: boolean): void;
  /** Drops what is kept of a function that no longer exists (a redeployed one starts afresh). */
  forget(fn: string, namespace: string): void;
  /** What this replica alone knows of every function, for the leader (see src/cluster/loadshare.ts). */
  report(windowMs: number): LoadReport;
}

/** One function's load on one replica: requests started per second over a window, in flight, last start and end. */
export interface FunctionReport {
  readonly name: string;
  readonly namespace: string;
  /** [second (epoch), requests started in it], oldest first, over the report's window. */
  readonly perSecond: readonly (readonly [number, number])[];
  readonly inFlight: number;
  readonly lastStarted: number;
  readonly lastEnded: number;
  /** Busy periods: closed ones ending in the last 10 minutes, and the one open now (see `BusyPeriods`). */
  readonly periods?: readonly (readonly [number, number])[];
  readonly since?: number;
}

/** A replica's report: when it was taken (its clock) and its functions. */
export interface LoadReport {
  readonly at: number;
  readonly functions: readonly FunctionReport[];
}

/** What a persisted history holds of a function's invocations. */
export interface PersistedLoad {
  readonly lastStarted: number;
  readonly lastEnded: number;
  readonly idle: IdleCounts;
  /** When it was saved: its idle times were folded up to then. */
  readonly savedAt?: number;
}

/** How long per-second counts and closed busy periods are kept. */
const retainSeconds = 600;
/** Closed busy periods kept per function at most (the oldest two merge beyond it). */
const maxPeriods = 2_000;

/** The periods ending at or after `from` (the list is oldest first). */
const recentPeriods = (periods: readonly (readonly [number, number])[], from: number) => {
  let i = periods.length;
  while (i > 0 && periods[i - 1][1] >= from) i--;
  return i === 0 ? periods : periods.slice(i);
};

export class Invocations
  extends Context.Service<Invocations, InvocationsShape>()("faas/metrics/Invocations") {
  static layer = Layer.effect(
    Invocations,
    Effect.gen(function* () {
      const clock = yield* Clock.Clock;
      /** perSecond: invocations started per second, oldest first, over the retained window. */
      const loads = new Map<
        string,
        FunctionLoad & {
          name: string;
          namespace: string;
          perSecond: Map<number, number>;
          /** Closed busy periods, oldest first, and the start of the open one (0: none in flight). */
          periods: [number, number][];
          since: number;
        }
      >();
      const key = (fn: string, ns: string) => `${fn}.${ns}`;
      const now = () => clock.currentTimeMillisUnsafe();
      const loadOf = (k: string, name: string, namespace: string) => {
        let l = loads.get(k);
        if (!l) {
          loads.set(
            k,
            l = {
              name,
              namespace,
              perSecond: new Map(),
              inFlight: 0,
              lastStarted: 0,
              lastEnded: 0,
              idle: new IdleHistogram(),
              timeline: new IdleTimeline(),
              periods: [],
              since: 0,
            },
          );
        }
        return l;
      };
      return Invocations.of({
        start: (fn, ns) => {
          const k = key(fn, ns);
          const l = loadOf(k, fn, ns);
          const startedAt = now();
          if (l.inFlight === 0) l.since = startedAt;
          const second = Math.floor(startedAt / 1000);
          l.perSecond.set(second, (l.perSecond.get(second) ?? 0) + 1);
          for (const s of l.perSecond.keys()) {
            if (s < second - retainSeconds) l.perSecond.delete(s);
            else break;
          }
          l.inFlight++;
          l.lastStarted = startedAt;
          metrics.invocationsStarted.inc({ function_name: k });
          metrics.inFlight.set({ function_name: k }, l.inFlight);
          const load = l;
          return (status) => {
            load.inFlight--;
            if (load.inFlight === 0) {
              load.lastEnded = now();
              const periods = load.periods;
              periods.push([load.since, load.lastEnded]);
              load.since = 0;
              let old = 0;
              while (old < periods.length && periods[old][1] < load.lastEnded - retainSeconds * 1000) old++;
              if (old > 0) periods.splice(0, old);
              if (periods.length > maxPeriods) periods.splice(0, 2, [periods[0][0], periods[1][1]]);
            }
            metrics.inFlight.set({ function_name: k }, load.inFlight);
            metrics.invocations.inc({ function_name: k, code: String(status) });
            metrics.invocationSeconds.observe(
              { function_name: k, code: String(status) },
              (now() - startedAt) / 1000,
            );
          };
        },
        load: (fn, ns) => loads.get(key(fn, ns)),
        rate: (fn, ns, windowMs) => {
          const l = loads.get(key(fn, ns));
          if (!l) return 0;
          const from = Math.floor((now() - windowMs) / 1000);
          let n = 0;
          for (const [s, c] of l.perSecond) if (s > from) n += c;
          return n;
        },
        busy: function* () {
          for (const l of loads.values()) {
            yield { name: l.name, namespace: l.namespace, periods: l.periods, since: l.since };
          }
        },
        observeIdle: (fn, ns, sources, horizon) => {
          const l = loadOf(key(fn, ns), fn, ns);
          l.timeline.fold(sources, horizon, (idleMs) => l.idle.record(idleMs));
        },
        restore: (fn, ns, history, replace) => {
          const l = loadOf(key(fn, ns), fn, ns);
          l.lastStarted = Math.max(l.lastStarted, history.lastStarted);
          if (l.inFlight === 0) l.lastEnded = Math.max(l.lastEnded, history.lastEnded);
          if (replace) l.idle.clear();
          l.idle.add(history.idle);
          const { timeline } = l;
          const lastBusyEnd = Math.max(timeline.lastBusyEnd, history.lastEnded);
          if (replace) timeline.reset(history.savedAt ?? timeline.frontier, lastBusyEnd);
          else timeline.reset(timeline.frontier, lastBusyEnd);
        },
        forget: (fn, ns) => {
          loads.delete(key(fn, ns));
        },
        report: (windowMs) => {
          const at = now();
          const from = Math.floor((at - windowMs) / 1000);
          const functions: FunctionReport[] = [];
          for (const l of loads.values()) {
            const perSecond: [number, number][] = [];
            for (const [s, c] of l.perSecond) if (s > from) perSecond.push([s, c]);
            functions.push({
              name: l.name,
              namespace: l.namespace,
              perSecond,
              inFlight: l.inFlight,
              lastStarted: l.lastStarted,
              lastEnded: l.lastEnded,
              periods: recentPeriods(l.periods, at - retainSeconds * 1000),
              since: l.since,
            });
          }
          return { at, functions };
        },
      });
    }),
  );
}
