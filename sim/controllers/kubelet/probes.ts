/**
 * Readiness and liveness probes: when a container first passes its readiness probe, and what happens
 * once its health check fails (unready at the next readiness probe, killed after `failureThreshold`
 * failed liveness probes in a row).
 */
import type { KObj } from "../../kinds.ts";
import type { PodRun, RunContext } from "./run.ts";

/** The first probe at or after `at` ms from start, and the probe period (ms). */
const firstProbeAt = (probe: KObj, at: number) => {
  const initial = (probe.initialDelaySeconds ?? 0) * 1000;
  const period = Math.max(1, probe.periodSeconds ?? 10) * 1000;
  return { first: initial + Math.ceil(Math.max(0, at - initial) / period) * period, period };
};

/** When (ms after start) a container that is up after `startupMs` is first ready: its first passing probe. */
export const readyAfter = (probe: KObj | undefined, startupMs: number): number =>
  probe ? firstProbeAt(probe, startupMs).first : startupMs;

/**
 * From `at` (ms after start) the health check fails: at the next readiness probe the pod goes
 * unready; once the liveness probe has failed `failureThreshold` times in a row `kill` is called
 * (the container is killed with exit 137 and restarted with back-off, as the kubelet does).
 */
export const unhealthy = (k: RunContext, r: PodRun, at: number, kill: () => void) => {
  const container = k.pod(r).spec.containers[0];
  // Timers of this run of the container only: a restart (r.restarts changes) leaves them idle.
  const run = r.restarts;
  const during = (ms: number, fn: () => void) => k.after(r, ms, () => r.restarts === run && fn());
  const probeText = (probe: KObj) =>
    probe.httpGet
      ? `HTTP probe failed with statuscode: 500`
      : `command "${(probe.exec?.command ?? []).join(" ")}" exited with 1`;
  const unhealthyEvent = (probe: "Readiness" | "Liveness", spec: KObj) =>
    k.event(k.pod(r), "Warning", "Unhealthy", `${probe} probe failed: ${probeText(spec)}`);
  const readiness = container.readinessProbe;
  if (readiness) {
    during(firstProbeAt(readiness, at).first, () => {
      k.markUnready(r);
      unhealthyEvent("Readiness", readiness);
    });
  }
  const liveness = container.livenessProbe;
  if (!liveness) return;
  const { first, period } = firstProbeAt(liveness, at);
  const threshold = Math.max(1, liveness.failureThreshold ?? 3);
  during(first, () => unhealthyEvent("Liveness", liveness));
  during(first + (threshold - 1) * period, () => {
    k.event(
      k.pod(r),
      "Normal",
      "Killing",
      `Container ${r.container} failed liveness probe, will be restarted`,
    );
    kill();
  });
};
