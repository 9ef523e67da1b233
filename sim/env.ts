/**
 * Time and randomness for the simulator. Time is Effect's Clock (virtual under
 * TestClock); timers are fibers that sleep on it. Randomness is a seeded PRNG,
 * so a run replays from its seed.
 */
import { Clock, Effect, FiberSet, type Scope } from "effect";

export interface SimEnv {
  /** Current time in milliseconds (virtual under TestClock). */
  now(): number;
  /** Runs `fn` after `ms` milliseconds of Clock time; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
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

export const uidFrom = (random: () => number) => (): string => {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + Math.floor(random() * 4)).toString(16)}${hex(3)}-${hex(12)}`;
};

export const makeSimEnv = (seed: number): Effect.Effect<SimEnv, never, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock;
    const fibers = yield* FiberSet.make();
    const run = yield* FiberSet.runtime(fibers)<never>();
    const random = seededRandom(seed);
    return {
      now: () => clock.currentTimeMillisUnsafe(),
      after: (ms, fn) => {
        const fiber = run(Effect.sleep(Math.max(0, ms)).pipe(Effect.andThen(Effect.sync(fn))));
        return () => {
          fiber.interruptUnsafe();
        };
      },
      random,
      uid: uidFrom(random),
    } satisfies SimEnv;
  });

/** Kubernetes' second-precision RFC 3339 time (`2026-01-01T00:00:00Z`). */
export const rfc3339 = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
