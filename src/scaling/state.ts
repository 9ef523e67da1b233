/**
 * What the scaler keeps: its options, the decisions it records, and its memory of each function.
 */
import type { ScalingDefaults } from "../domain/scaling.ts";
import { freshMemory, type ReactiveMemory, type ReactiveWindows } from "./rules.ts";

export interface ScalerOptions {
  /** The global switch for predictive scaling (functions opt in with com.openfaas.scale.predictive=true). */
  readonly predictive?: boolean;
  /** Run the reactive autoscaler (functions with min != max). */
  readonly autoscale?: boolean;
  /** Run the idler (functions with com.openfaas.scale.zero=true). */
  readonly idler?: boolean;
  readonly defaults?: ScalingDefaults;
  /** How long after a scale from zero further requests are treated as part of it. */
  readonly fromZeroWindowMs?: number;
  readonly windows?: ReactiveWindows;
}

export interface Decision {
  readonly at: number;
  readonly function: string;
  readonly namespace: string;
  readonly from: number;
  readonly to: number;
  readonly policy: "reactive" | "idler" | "predictive" | "from-zero";
  readonly reason: string;
}

export interface FunctionState {
  readonly name: string;
  readonly namespace: string;
  reactive: ReactiveMemory;
  /** In-flight samples for `capacity` scaling: [time, inFlight]. */
  inFlight: readonly (readonly [number, number])[];
  /** When the function last went from 0 (or unknown) to running replicas. */
  activeSince: number;
  lastReplicas: number | undefined;
  /** No scale-up before this time (capacity back-off). */
  holdUntil: number;
  holdMs: number;
  /** The predictor's last verdict, to log changes only. */
  lastPrediction?: string;
  /**
   * Scaled to 0 by someone else (through the API): it stays there, whatever its min, until a request
   * arrives (scale from zero), and the predictor does not pre-warm it.
   */
  heldAtZero: boolean;
  /**
   * When the function was last scaled up from zero for a request: requests arriving within the
   * from-zero window wait as long as the first, and the predictor leaves the function alone while
   * they wait for its pod (no invocation has started since).
   */
  fromZeroAt?: number;
}

/** A function first seen at `now`. */
export const freshState = (name: string, namespace: string, now: number): FunctionState => ({
  name,
  namespace,
  reactive: freshMemory,
  inFlight: [],
  activeSince: now,
  lastReplicas: undefined,
  holdUntil: 0,
  holdMs: 0,
  heldAtZero: false,
});
