/** Shared types of trace replays (sim/trace.ts). */

/** One invocation of a trace: `t` ms after the trace start, running `durationMs`. */
export interface TraceEvent {
  readonly t: number;
  readonly fn: string;
  readonly durationMs: number;
}

export interface Trace {
  /** Sorted by `t` (stable: equal times keep file order). */
  readonly events: readonly TraceEvent[];
  /** Function names in order of first appearance. */
  readonly functions: readonly string[];
  /** Trace length in ms (at least the last event's time). */
  readonly durationMs: number;
  /** Per-function traffic shape for generated traces (e.g. "steady", "periodic 30m", "bursty"). */
  readonly kinds?: Readonly<Record<string, string>>;
}

export const policyNames = ["fixed", "reactive", "reactive+idler", "predictive"] as const;
export type PolicyName = typeof policyNames[number];

export interface FunctionResult {
  readonly invocations: number;
  readonly coldStarts: number;
  readonly replicaSeconds: number;
  readonly scaleEvents: number;
}

export interface PolicyResult {
  readonly policy: PolicyName;
  readonly invocations: number;
  /** Requests that got an error status (5xx from the proxy). */
  readonly errors: number;
  /** Requests that found no ready endpoint (provider_cold_starts_total). */
  readonly coldStarts: number;
  /** Response time minus duration_ms, virtual ms. */
  readonly addedLatencyP50: number;
  readonly addedLatencyP99: number;
  readonly addedLatencyMax: number;
  /** Integral of spec.replicas over virtual time, over all functions. */
  readonly replicaSeconds: number;
  /** Replica changes (scaler decisions up or down). */
  readonly scaleEvents: number;
  readonly perFunction: Readonly<Record<string, FunctionResult>>;
  /** Per minute of the trace: requests started. */
  readonly loadPerMinute: readonly number[];
  /** Per minute of the trace: mean total spec.replicas. */
  readonly replicasPerMinute: readonly number[];
  readonly wallMs: number;
}
