/**
 * Per-function scaling policy from the OpenFaaS scaling labels, validated at
 * deploy. Defaults follow OpenFaaS (min 1, max 20, zero-duration 15m) except the
 * rps target, 5 per replica, which matches the classic AlertManager rule
 * (scale up above 5 req/s) that the certifier's throughput test relies on.
 */
import { parseDuration } from "./envvalues.ts";
import { MAX_REPLICAS } from "./validation.ts";

const scalingLabels = {
  min: "com.openfaas.scale.min",
  max: "com.openfaas.scale.max",
  zero: "com.openfaas.scale.zero",
  zeroDuration: "com.openfaas.scale.zero-duration",
  target: "com.openfaas.scale.target",
  type: "com.openfaas.scale.type",
  targetProportion: "com.openfaas.scale.target-proportion",
  predictive: "com.openfaas.scale.predictive",
} as const;

/** Kubernetes keeps replicas in an int32. */
const maxReplicas = MAX_REPLICAS;

type ScalingType = "rps" | "capacity" | "cpu";

export interface ScalingPolicy {
  readonly min: number;
  readonly max: number;
  readonly zero: boolean;
  readonly zeroDurationMs: number;
  /** Load per replica: requests per second (rps), requests in flight (capacity), millicores (cpu). */
  readonly target: number;
  readonly type: ScalingType;
  readonly targetProportion: number;
  readonly predictive: boolean;
  /** min == max: the autoscaler leaves the function alone. */
  readonly autoscale: boolean;
}

export interface ScalingDefaults {
  readonly min: number;
  readonly max: number;
  readonly zeroDurationMs: number;
  readonly target: number;
  readonly type: ScalingType;
  readonly targetProportion: number;
  readonly predictive: boolean;
}

export const defaultScaling: ScalingDefaults = {
  min: 1,
  max: 20,
  zeroDurationMs: 15 * 60_000,
  target: 5,
  type: "rps",
  targetProportion: 0.9,
  predictive: false,
};

/**
 * `com.openfaas.scale.zero-duration` in ms: bare seconds or a Go duration (`15m`, `1h30m`, `.5h`, `+90s`),
 * read by the parser of the provider's own timeouts; undefined when it is neither (or negative, or too
 * large). Validation and policyFrom both use it, so what is accepted is what takes effect.
 */
const zeroDurationMs = (v: string): number | undefined => {
  const ms = parseDuration(v, NaN);
  return Number.isNaN(ms) || ms > Number.MAX_SAFE_INTEGER ? undefined : ms;
};

/** The first problem with the scaling labels, or undefined. */
export const validateScalingLabels = (
  labels: Readonly<Record<string, string>> | null | undefined,
): string | undefined => {
  const l = labels ?? {};
  const int = (key: string) => {
    const v = l[key];
    if (v !== undefined && (!/^\d+$/.test(v.trim()) || Number(v) > maxReplicas)) {
      return `labels: ${key}: "${v}" must be an integer from 0 to ${maxReplicas}`;
    }
  };
  const problem = int(scalingLabels.min) ?? int(scalingLabels.max);
  if (problem) return problem;
  const min = l[scalingLabels.min], max = l[scalingLabels.max];
  if (min !== undefined && max !== undefined && Number(min) > Number(max)) {
    return `labels: ${scalingLabels.min} (${min}) must not exceed ${scalingLabels.max} (${max})`;
  }
  if (max !== undefined && Number(max) === 0) return `labels: ${scalingLabels.max} must be at least 1`;
  for (const key of [scalingLabels.zero, scalingLabels.predictive]) {
    const v = l[key];
    if (v !== undefined && v !== "true" && v !== "false") {
      return `labels: ${key}: "${v}" must be true or false`;
    }
  }
  const zd = l[scalingLabels.zeroDuration];
  if (zd !== undefined && zeroDurationMs(zd) === undefined) {
    return `labels: ${scalingLabels.zeroDuration}: "${zd}" must be a duration such as 15m or 90s`;
  }
  const target = l[scalingLabels.target];
  if (target !== undefined && !(Number(target) > 0 && Number.isFinite(Number(target)))) {
    return `labels: ${scalingLabels.target}: "${target}" must be a positive number`;
  }
  const type = l[scalingLabels.type];
  if (type !== undefined && !["rps", "capacity", "cpu"].includes(type)) {
    return `labels: ${scalingLabels.type}: "${type}" must be rps, capacity or cpu`;
  }
  const proportion = l[scalingLabels.targetProportion];
  if (proportion !== undefined && !(Number(proportion) > 0 && Number(proportion) <= 1)) {
    return `labels: ${scalingLabels.targetProportion}: "${proportion}" must be a number in (0, 1]`;
  }
  return undefined;
};

/** The policy of a function from its (already validated) labels. */
export const policyFrom = (
  labels: Readonly<Record<string, string>> | undefined,
  defaults: ScalingDefaults = defaultScaling,
): ScalingPolicy => {
  const l = labels ?? {};
  const num = (
    key: string,
    d: number,
  ) => (l[key] !== undefined && Number.isFinite(Number(l[key])) ? Number(l[key]) : d);
  const zero = l[scalingLabels.zero] === "true";
  const zd = l[scalingLabels.zeroDuration];
  const min = Math.max(zero ? 0 : 1, num(scalingLabels.min, defaults.min));
  const max = Math.max(min, num(scalingLabels.max, defaults.max));
  return {
    min,
    max,
    zero,
    zeroDurationMs: (zd === undefined ? undefined : zeroDurationMs(zd)) ?? defaults.zeroDurationMs,
    target: num(scalingLabels.target, defaults.target),
    type: (l[scalingLabels.type] as ScalingType | undefined) ?? defaults.type,
    targetProportion: num(scalingLabels.targetProportion, defaults.targetProportion),
    predictive: l[scalingLabels.predictive] === undefined
      ? defaults.predictive
      : l[scalingLabels.predictive] === "true",
    autoscale: min !== max,
  };
};
