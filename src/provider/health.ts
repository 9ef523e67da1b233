/**
 * Why a function is not ready, from its pods: the pod-level reason a user would
 * otherwise dig out with kubectl (image pull failure, crash loop, OOM, no
 * capacity). Reported in FunctionStatus as the extra field `readiness`.
 */
import type { Pod } from "kubernetes-types/core/v1.d.ts";

export interface Readiness {
  /** Kubernetes reason: Unschedulable, ImagePullBackOff, ErrImagePull, CrashLoopBackOff, OOMKilled, ContainerCreating, ... */
  readonly reason: string;
  readonly message: string;
  /** The pod the reason was seen on. */
  readonly pod: string;
}

/** Lower is more important: what blocks the function the most is reported. */
const priority: Record<string, number> = {
  Unschedulable: 0,
  ErrImageNeverPull: 1,
  ImagePullBackOff: 1,
  ErrImagePull: 1,
  InvalidImageName: 1,
  OOMKilled: 2,
  CrashLoopBackOff: 3,
  CreateContainerConfigError: 3,
  RunContainerError: 3,
  ContainerCreating: 5,
  NotReady: 6,
  Pending: 7,
};

const podReason = (pod: Pod): Omit<Readiness, "pod"> | undefined => {
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False") {
    return { reason: scheduled.reason ?? "Unschedulable", message: scheduled.message ?? "" };
  }
  const cs = pod.status?.containerStatuses?.[0];
  const waiting = cs?.state?.waiting;
  const lastTerminated = cs?.lastState?.terminated;
  if (waiting?.reason === "CrashLoopBackOff" && lastTerminated?.reason === "OOMKilled") {
    return {
      reason: "OOMKilled",
      message: `container exceeded its memory limit and was killed (exit code ${lastTerminated.exitCode}); ${
        waiting.message ?? ""
      }`
        .trim(),
    };
  }
  if (waiting?.reason) return { reason: waiting.reason, message: waiting.message ?? "" };
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  if (cs?.state?.running && ready?.status !== "True") {
    return { reason: "NotReady", message: ready?.message ?? "readiness probe has not passed yet" };
  }
  if (!cs && pod.status?.phase === "Pending") {
    return { reason: "Pending", message: "waiting to be scheduled" };
  }
  return undefined;
};

/** The most important reason among the function's pods, or undefined when none is known. */
export const readinessOf = (pods: readonly Pod[]): Readiness | undefined => {
  let best: Readiness | undefined;
  for (const pod of pods) {
    // A terminating pod (scale-down, rollout) is on its way out, not a reason the function is unready.
    if (pod.metadata?.deletionTimestamp) continue;
    const r = podReason(pod);
    if (!r) continue;
    if (!best || (priority[r.reason] ?? 4) < (priority[best.reason] ?? 4)) {
      best = { ...r, pod: pod.metadata?.name ?? "" };
    }
  }
  return best;
};
