/**
 * Seeded synthetic traces. Every generator is deterministic per (kind,
 * functions, hours, seed). Function names are `fn-000`, `fn-001`, ...
 *
 * - poisson: each function a homogeneous Poisson process, rate log-uniform
 *   between one per 30 minutes and one per 10 seconds.
 * - diurnal: the mix the scaling benchmark uses, every rate following a day
 *   curve (peak mid-afternoon, trough at night, 5x apart): 30% steady Poisson (0.005 to 0.1 requests per second at peak)
 *   functions, 30% periodic timers (every 2 to 60 minutes, a few seconds of
 *   jitter, running regardless of the time of day) and 40% sparse or bursty
 *   functions (bursts of requests minutes to hours apart, more by day).
 * - bursty: every function sparse/bursty as in diurnal, without the day curve.
 * - periodic: every function a periodic timer as in diurnal.
 */
import { seededRandom } from "../clock.ts";
import type { Trace, TraceEvent } from "./types.ts";

export const generatorNames = ["poisson", "diurnal", "bursty", "periodic"] as const;
export type GeneratorName = typeof generatorNames[number];

export interface GeneratorOptions {
  readonly functions: number;
  readonly hours: number;
  readonly seed: number;
}

const minute = 60_000;
const hour = 60 * minute;

/** Day curve in [0.2, 1]: lowest at 04:00, highest at 16:00. */
const dayFactor = (t: number) => 0.6 - 0.4 * Math.cos((2 * Math.PI * (t / hour - 4)) / 24);

export const functionName = (i: number) => `fn-${String(i).padStart(3, "0")}`;

type Rng = () => number;

const exp = (r: Rng, mean: number) => -Math.log(1 - r()) * mean;
const logUniform = (r: Rng, lo: number, hi: number) =>
  Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo)));
const pick = <T>(r: Rng, xs: readonly T[]) => xs[Math.floor(r() * xs.length)];

/** Execution time of one request: around the function's median, log-normal-ish spread. */
const duration = (r: Rng, median: number) =>
  Math.max(1, Math.round(median * Math.exp(0.5 * (r() + r() + r() - 1.5))));

/** A (non-)homogeneous Poisson process by thinning: `rate(t)` <= `peak` per ms. */
const poissonTimes = (r: Rng, end: number, peak: number, rate: (t: number) => number): number[] => {
  const out: number[] = [];
  for (let t = exp(r, 1 / peak); t < end; t += exp(r, 1 / peak)) {
    if (r() * peak < rate(t)) out.push(t);
  }
  return out;
};

interface Profile {
  readonly kind: string;
  times(r: Rng, end: number): number[];
}

const steady = (r: Rng, diurnal: boolean): Profile => {
  const perSecond = logUniform(r, 0.005, 0.1);
  const peak = perSecond / 1000;
  return {
    kind: `steady ${perSecond.toFixed(2)}/s`,
    times: (rr, end) => poissonTimes(rr, end, peak, diurnal ? (t) => peak * dayFactor(t) : () => peak),
  };
};

const poisson = (r: Rng): Profile => {
  const meanGap = logUniform(r, 10_000, 30 * minute);
  return {
    kind: `poisson every ${(meanGap / 1000).toFixed(0)}s`,
    times: (rr, end) => poissonTimes(rr, end, 1 / meanGap, () => 1 / meanGap),
  };
};

const periodic = (r: Rng): Profile => {
  const period = pick(r, [2, 5, 10, 20, 30, 45, 60]) * minute;
  const offset = r() * period;
  return {
    kind: `periodic ${period / minute}m`,
    times: (rr, end) => {
      const out: number[] = [];
      for (let t = offset; t < end; t += period) {
        const at = t + rr() * 3_000;
        if (at < end) out.push(at);
      }
      return out;
    },
  };
};

const bursty = (r: Rng, diurnal: boolean): Profile => {
  const meanGap = logUniform(r, 20 * minute, 3 * hour);
  const size = 2 + Math.floor(r() * 20);
  return {
    kind: `bursty every ~${Math.round(meanGap / minute)}m`,
    times: (rr, end) => {
      const out: number[] = [];
      const peak = 1 / meanGap;
      for (const b of poissonTimes(rr, end, peak, diurnal ? (t) => peak * dayFactor(t) : () => peak)) {
        const n = 1 + Math.floor(rr() * size);
        let t = b;
        for (let k = 0; k < n && t < end; k++) {
          out.push(t);
          t += exp(rr, 5_000);
        }
      }
      return out;
    },
  };
};

const profileOf = (kind: GeneratorName, i: number, r: Rng): Profile => {
  switch (kind) {
    case "poisson":
      return poisson(r);
    case "periodic":
      return periodic(r);
    case "bursty":
      return bursty(r, false);
    case "diurnal": {
      const slot = i % 10;
      return slot < 3 ? steady(r, true) : slot < 6 ? periodic(r) : bursty(r, true);
    }
  }
};

/** A generated trace; deterministic per options. */
export const generate = (kind: GeneratorName, options: GeneratorOptions): Trace => {
  const end = options.hours * hour;
  const events: TraceEvent[] = [];
  const functions: string[] = [];
  const kinds: Record<string, string> = {};
  for (let i = 0; i < options.functions; i++) {
    const fn = functionName(i);
    // One generator per function, so adding functions leaves the others' traffic unchanged.
    const r = seededRandom((options.seed * 1_000_003 + i * 7_919 + kind.length) >>> 0);
    const profile = profileOf(kind, i, r);
    const median = logUniform(r, 20, 800);
    functions.push(fn);
    kinds[fn] = profile.kind;
    for (const t of profile.times(r, end)) {
      events.push({ t: Math.round(t), fn, durationMs: duration(r, median) });
    }
  }
  events.sort((a, b) => a.t - b.t);
  return { events, functions, durationMs: end, kinds };
};
