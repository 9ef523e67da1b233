/**
 * Node taints and pod tolerations as core/v1 matches them (Toleration.ToleratesTaint), shared by the
 * scheduler's TaintToleration filter and the taint eviction of failed nodes (sim/disruptions/nodes.ts).
 */

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
  readonly timeAdded?: string;
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
  readonly tolerationSeconds?: number;
}

/** Whether `t` tolerates `taint`: an empty effect or key matches any; Exists ignores the value. */
export const tolerates = (t: Toleration, taint: Taint): boolean => {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  // An empty key is valid only with Exists (validation refuses it otherwise).
  if (!t.key && t.operator !== "Exists") return false;
  if (t.operator === "Exists") return true;
  return (t.operator === undefined || t.operator === "" || t.operator === "Equal") &&
    (t.value ?? "") === (taint.value ?? "");
};

/** The first of `taints` with an effect in `effects` that none of `tolerations` tolerates. */
export const untoleratedTaint = (
  taints: readonly Taint[],
  tolerations: readonly Toleration[],
  effects: ReadonlySet<string>,
): Taint | undefined =>
  taints.find((taint) => effects.has(taint.effect) && !tolerations.some((t) => tolerates(t, taint)));
