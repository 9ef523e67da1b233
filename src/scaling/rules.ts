/**
 * The scaler's decision rules as pure functions of what a function remembers, its load, its policy and the
 * time: the reactive autoscaler (Knative KPA style), the idler and the predictor. The Scaler service reads
 * the load, calls these and carries out what they decide.
 */
import type { ScalingPolicy } from "../domain/scaling.ts";
import type { Windows as IdleWindows } from "../metrics/idlehistogram.ts";

/** The reactive autoscaler's windows. */
export interface ReactiveWindows {
  /** The load that decides replicas is averaged over this window. */
  readonly stableMs: number;
  /** A burst seen over this window scales up at once (panic mode). */
  readonly panicMs: number;
  /** Scale-down goes to the highest recommendation of this window: no scale-down on a short lull. */
  readonly downDelayMs: number;
}

/**
 * Knative's 6 s panic window, with a stable window and scale-down delay short enough that a function is
 * back at its minimum within about 40 s of its load ending (the classic OpenFaaS alert rule looks at the
 * last 10-30 s), while a lull shorter than the scale-down delay leaves it alone.
 */
export const defaultWindows: ReactiveWindows = {
  stableMs: 30_000,
  panicMs: 6_000,
  downDelayMs: 20_000,
};

/** Panic when the panic-window recommendation reaches this multiple of ready pods. */
const panicThreshold = 2;

/** What the reactive rule remembers of a function from one tick to the next. */
export interface ReactiveMemory {
  /** [time, recommendation] over the scale-down window. */
  readonly recommendations: readonly (readonly [number, number])[];
  /** Panic mode lasts until then. */
  readonly panicUntil: number;
  /** Until then a replica count set by someone else is kept unless the load needs more. */
  readonly externalUntil: number;
}

export const freshMemory: ReactiveMemory = { recommendations: [], panicUntil: 0, externalUntil: 0 };

/** A function's load over the stable and the panic window, in the unit of its policy's target. */
export interface Load {
  readonly stable: number;
  readonly panic: number;
}

export interface ReactiveDecision {
  /** The replicas the function should have. */
  readonly want: number;
  readonly panicking: boolean;
  readonly memory: ReactiveMemory;
}

/**
 * The reactive rule: replicas for the stable load, or for the panic load while panicking (a burst of twice
 * the ready pods' worth); scale-down no lower than the peak need (stable or panic) of the scale-down window;
 * within min and max; and a count someone else set (`memory.externalUntil`) kept until the load needs more.
 */
export const reactive = (
  memory: ReactiveMemory,
  load: Load,
  policy: ScalingPolicy,
  replicas: { readonly current: number; readonly ready: number },
  t: number,
  windows: ReactiveWindows,
): ReactiveDecision => {
  const { current } = replicas;
  const perReplica = policy.target * policy.targetProportion;
  const ready = Math.max(1, replicas.ready);
  const stableWant = Math.ceil(load.stable / perReplica);
  const panicWant = Math.ceil(load.panic / perReplica);
  const panicUntil = panicWant >= panicThreshold * ready && panicWant > current
    ? t + windows.stableMs
    : memory.panicUntil;
  const panicking = t < panicUntil;
  let want = panicking ? Math.max(stableWant, panicWant, current) : stableWant;
  // The peak need of the window, the panic window's too: the lulls of bursty load do not take away the
  // replicas its bursts need.
  const recommendations = [
    ...memory.recommendations.filter(([at]) => at > t - windows.downDelayMs),
    [t, Math.max(want, panicWant)] as const,
  ];
  if (t < memory.externalUntil) {
    want = want > current ? Math.max(current, Math.min(policy.max, want)) : current;
  } else {
    if (want < current) want = Math.max(want, ...recommendations.map(([, r]) => r));
    want = Math.min(policy.max, Math.max(Math.max(1, policy.min), want));
  }
  return { want, panicking, memory: { recommendations, panicUntil, externalUntil: memory.externalUntil } };
};

/** Requests in flight sampled each tick: the samples of the stable window, and their averages. */
export const inFlightLoad = (
  samples: readonly (readonly [number, number])[],
  sample: number,
  t: number,
  windows: ReactiveWindows,
): { readonly samples: readonly (readonly [number, number])[]; readonly load: Load } => {
  const kept = [...samples.filter(([at]) => at > t - windows.stableMs), [t, sample] as const];
  const avg = (from: number) => {
    const xs = kept.filter(([at]) => at > from).map(([, n]) => n);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
  };
  return { samples: kept, load: { stable: avg(t - windows.stableMs), panic: avg(t - windows.panicMs) } };
};

/** After pods could not be scheduled: how long to hold scale-ups, 30 s doubling to 5 minutes. */
export const nextHoldMs = (holdMs: number): number => Math.min(300_000, holdMs ? holdMs * 2 : 30_000);

/** What is known of a function's invocations. */
export interface Activity {
  readonly inFlight: number;
  /** 0: never. */
  readonly lastStarted: number;
  readonly lastEnded: number;
}

/** The idler: how long the function has been idle when that is past its zero-duration, else undefined. */
export const idleBeyondZeroDuration = (
  activity: Activity | undefined,
  activeSince: number,
  policy: ScalingPolicy,
  t: number,
): number | undefined => {
  if (activity && activity.inFlight > 0) return undefined;
  const lastUse = Math.max(activity?.lastStarted ?? 0, activity?.lastEnded ?? 0, activeSince);
  const idle = t - lastUse;
  return idle >= policy.zeroDurationMs ? idle : undefined;
};

/** The predictor's verdict for a function whose idle-time histogram is representative. */
export type Prediction =
  /** Requests are in flight, or the function is warm inside its windows: the reactive rule decides. */
  | { readonly kind: "load" }
  /** Scaled up from zero for requests that still wait for the pod: leave it alone. */
  | { readonly kind: "wait" }
  | { readonly kind: "prewarm"; readonly reason: string }
  | { readonly kind: "unload"; readonly reason: string }
  /** At zero and not yet at the pre-warm point: nothing to do. */
  | { readonly kind: "stay" };

/**
 * The hybrid histogram policy after an invocation: unloaded until the pre-warm point (when that is a minute
 * or more away), warm from there until the keep-alive ends.
 */
export const predict = (
  activity: Activity,
  windows: IdleWindows,
  current: number,
  /** Scaled up from zero since the last invocation started, within the from-zero window. */
  waitingForPod: boolean,
  t: number,
): Prediction => {
  if (activity.inFlight > 0) return { kind: "load" };
  const since = t - activity.lastEnded;
  const warmFrom = windows.prewarmMs >= 60_000 ? windows.prewarmMs : 0;
  const shouldBeWarm = since >= warmFrom && since < windows.keepAliveUntilMs;
  if (current > 0 && waitingForPod) return { kind: "wait" };
  if (shouldBeWarm && current === 0) return { kind: "prewarm", reason: `pre-warm: ${windows.reason}` };
  if (!shouldBeWarm && current > 0) {
    return {
      kind: "unload",
      reason: since < warmFrom
        ? `unload until the pre-warm point: ${windows.reason}`
        : `past the keep-alive: ${windows.reason}`,
    };
  }
  return current > 0 ? { kind: "load" } : { kind: "stay" };
};
