/**
 * Time and randomness for the simulator. Time is Effect's Clock (virtual under
 * TestClock); timers are fibers that sleep on it, one per instant. The timers
 * that fall due together (at one instant, or on the live clock within one turn
 * of the event loop) run together, in the order they fell due, inside the
 * `onTimers` wrapper: the cluster holds its controllers until they have all run,
 * so a thousand pods that become ready together cost one reconcile, not a
 * thousand. Randomness is a seeded PRNG, so a run replays from its seed.
 */
import { Clock, Effect, FiberSet, Layer, Random, type Scope } from "effect";

export interface SimClock {
  /** Current time in milliseconds (virtual under TestClock). */
  now(): number;
  /** Runs `fn` after `ms` milliseconds of Clock time; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
  /** Wraps each run of the timers that fall due together (one wrapper; the last set wins). */
  onTimers(wrap: (fire: () => void) => void): void;
  /**
   * Runs `fn` on the next turn of the event loop, after pending I/O (so that a long job cut in
   * pieces lets an HTTP server answer in between); under TestClock at once, so that a run in
   * virtual time does not depend on where the work was cut.
   */
  nextTurn(fn: () => void): void;
  /** A uniformly distributed number in [0, 1) from the seeded generator. */
  random(): number;
  /** A random UUID (v4 layout) from the seeded generator. */
  uid(): string;
}

/** mulberry32: small, fast and good enough for simulation choices. */
export const seededRandom = (seed: number): () => number => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/**
 * Effect's Random drawn from a seeded generator: what the provider draws through it (retry jitter, the
 * proxy's pick among equally loaded endpoints) replays from the seed in a simulation.
 */
export const seededEffectRandom = (seed: number): Layer.Layer<never> => {
  const next = seededRandom(seed * 31 + 5);
  return Layer.succeed(Random.Random, {
    nextDoubleUnsafe: next,
    nextIntUnsafe: () => Math.floor(next() * 2 ** 53) - 2 ** 52,
  });
};

const uidFrom = (random: () => number) => (): string => {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + Math.floor(random() * 4)).toString(16)}${hex(3)}-${hex(12)}`;
};

/**
 * Wall time one run of due timers may take before the rest waits for the next turn of the event
 * loop (on the live clock; under TestClock the next turn comes at once, so runs do not depend on it).
 */
const timerBudgetMs = 10;

export const makeSimClock = (seed: number): Effect.Effect<SimClock, never, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock;
    const fibers = yield* FiberSet.make();
    const run = yield* FiberSet.runtime(fibers)<never>();
    const random = seededRandom(seed);
    const now = () => clock.currentTimeMillisUnsafe();
    let wrap = (fire: () => void) => fire();
    interface Group {
      readonly fns: Set<() => void>;
      fiber?: { interruptUnsafe(): void };
      fired?: boolean;
    }
    /** Timers by the instant they fall due; each instant has one fiber. */
    const due = new Map<number, Group>();
    /** Timers whose time has come, waiting for the flush (in the order they fell due). */
    const ready: Set<() => void>[] = [];
    let flushing = false;
    // TestClock (it can be adjusted) is virtual time: the next turn is now.
    const virtual = typeof (clock as { adjust?: unknown }).adjust === "function";
    // On the live clock a timer, not Effect's yield (setImmediate): a chain of immediates can hold
    // off I/O for a long time, a timer cannot.
    const nextTurn = (fn: () => void) => {
      if (virtual) fn();
      else run(Effect.sleep(1).pipe(Effect.andThen(Effect.sync(fn))));
    };
    const flush = () => {
      wrap(() => {
        const started = performance.now();
        let ran = 0;
        while (ready.length > 0) {
          const timers = ready[0];
          // One by one: a timer may cancel a later one.
          for (const fn of timers) {
            if (ran++ > 0 && performance.now() - started > timerBudgetMs) {
              // The rest on the next turn (under TestClock: at once, inside this batch).
              nextTurn(flush);
              return;
            }
            timers.delete(fn);
            try {
              fn();
            } catch (e) {
              console.error(`sim: a timer failed: ${e instanceof Error ? e.stack : String(e)}`);
            }
          }
          ready.shift();
        }
        flushing = false;
      });
    };
    /**
     * A group's time has come: it joins the next flush, on the next turn on the live clock (timers
     * falling due meanwhile join it: under load many do), at once under TestClock.
     */
    const fire = (at: number, g: Group) =>
      Effect.sync(() => {
        g.fired = true;
        if (due.get(at) === g) due.delete(at);
        ready.push(g.fns);
        if (flushing) return;
        flushing = true;
        nextTurn(flush);
      });
    return {
      now,
      after: (ms, fn) => {
        const delay = Math.max(0, ms);
        if (delay === 0) {
          // Now (at once under TestClock, on the next turn on the live clock), on its own.
          const fiber = run(Effect.sleep(0).pipe(Effect.andThen(Effect.sync(fn))));
          return () => fiber.interruptUnsafe();
        }
        const at = now() + delay;
        let group = due.get(at);
        const timer = () => fn();
        if (group) group.fns.add(timer);
        else {
          const g: Group = { fns: new Set([timer]) };
          due.set(at, g);
          // Uninterruptible once fired: it may be the one that flushes.
          g.fiber = run(Effect.sleep(delay).pipe(Effect.andThen(Effect.uninterruptible(fire(at, g)))));
          group = g;
        }
        const g = group;
        return () => {
          if (!g.fns.delete(timer) || g.fns.size > 0 || g.fired) return;
          if (due.get(at) === g) due.delete(at);
          g.fiber?.interruptUnsafe();
        };
      },
      onTimers: (w) => {
        wrap = w;
      },
      nextTurn,
      random,
      uid: uidFrom(random),
    } satisfies SimClock;
  });

/** Kubernetes' second-precision RFC 3339 time (`2026-01-01T00:00:00Z`). */
export const rfc3339 = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
