/** A fault window of a chaos schedule and the kind of fault it opens (sim/chaos/schedule.ts has the table). */
import type { World } from "./world.ts";

/** One fault window: `kind` from `at` for `ms` (ms from the run's start), on replica `target`, at `level`. */
export interface FaultWindow {
  readonly kind: string;
  readonly at: number;
  readonly ms: number;
  readonly target?: number;
  readonly level?: number;
}

export interface FaultKind {
  readonly name: string;
  /** What `target` numbers: a provider replica, a node or a function (else the fault is cluster-wide). */
  readonly targets?: "replica" | "node" | "function";
  /** Intensity drawn for a new window (a probability, a latency), or undefined for none. */
  readonly level?: (random: () => number) => number;
  readonly apply: (world: World, w: FaultWindow, active: readonly FaultWindow[]) => void | Promise<void>;
  readonly revert: (world: World, w: FaultWindow, active: readonly FaultWindow[]) => void | Promise<void>;
}
