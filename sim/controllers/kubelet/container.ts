/**
 * The container of a run: started once its image is on the node, ready when its readiness probe
 * first passes, restarted with back-off (10 s doubling to 5 min, reset after ten minutes up) when it
 * crashes, is OOMKilled or fails its liveness probe, and stopped (SIGTERM, drain, then kill at the end
 * of the grace period) when its pod is deleted.
 */
import { rfc3339 } from "../../clock.ts";
import { Kinds, type KObj } from "../../kinds.ts";
import type { SimImage } from "../../images/catalog.ts";
import { goDurationString } from "../../images/context.ts";
import { parseDuration } from "../../../src/domain/envvalues.ts";
import { quantityValue } from "../quantity.ts";
import { readyAfter, unhealthy } from "./probes.ts";
import { backOffBaseMs, backOffMs, type PodRun, type RunContext } from "./run.ts";

export const startContainer = (k: RunContext, r: PodRun, image: SimImage) => {
  const startedAt = k.clock.now();
  const pod = k.pod(r);
  const container = pod.spec.containers[0];
  k.event(pod, "Normal", "Created", `Created container ${r.container}`);
  k.event(pod, "Normal", "Started", `Started container ${r.container}`);
  const digest = `sha256:${r.uid.replaceAll("-", "").padEnd(64, "0").slice(0, 64)}`;
  k.patchStatus(r, (s, o) => {
    s.phase = "Running";
    s.conditions = k.conditions(o, false, r);
    s.containerStatuses = k.containerStatus(r, o, {
      imageID: `${image.repository}@${digest}`,
      containerID: `containerd://${r.uid.replaceAll("-", "")}${r.restarts}`,
      started: true,
      state: { running: { startedAt: rfc3339(startedAt) } },
    });
  });
  for (const line of k.options.startupLog?.(image, pod, container) ?? []) k.log(r, line);
  const limit = quantityValue(container.resources?.limits?.memory);
  if (image.behaviour === "crash") {
    k.after(r, image.failAfterMs ?? 1_000, () => exited(k, r, startedAt, 1, "Error"));
    return;
  }
  if (image.behaviour === "oom" && limit > 0 && (image.memoryBytes ?? 0) > limit) {
    k.after(r, image.failAfterMs ?? 1_000, () => exited(k, r, startedAt, 137, "OOMKilled"));
    return;
  }
  if (image.behaviour === "hang") return;
  const readyAt = readyAfter(container.readinessProbe, image.startupMs);
  k.after(r, readyAt, () => {
    k.patchStatus(r, (s, o) => {
      s.conditions = k.conditions(o, true, r);
      s.containerStatuses = [{ ...o.status.containerStatuses[0], ready: true }];
    });
  });
  if (image.unhealthyAfterMs !== undefined) {
    unhealthy(
      k,
      r,
      Math.max(readyAt, image.unhealthyAfterMs),
      () => exited(k, r, startedAt, 137, "Error"),
    );
  }
};

export const exited = (k: RunContext, r: PodRun, startedAt: number, exitCode: number, reason: string) => {
  const pod = k.pod(r);
  r.restarts++;
  // Back-off resets after ten minutes of running, as in the kubelet.
  const ranFor = k.clock.now() - startedAt;
  const delay = ranFor > 600_000 ? backOffBaseMs : backOffMs(r.restarts);
  const message = `back-off ${
    goDurationString(delay)
  } restarting failed container=${r.container} pod=${r.name}_${r.ns}(${r.uid})`;
  k.patchStatus(r, (s, o) => {
    s.conditions = k.conditions(o, false, r);
    s.containerStatuses = k.containerStatus(r, o, {
      lastState: {
        terminated: {
          exitCode,
          reason,
          startedAt: rfc3339(startedAt),
          finishedAt: rfc3339(k.clock.now()),
          containerID: o.status.containerStatuses?.[0]?.containerID,
        },
      },
      imageID: o.status.containerStatuses?.[0]?.imageID ?? "",
      state: { waiting: { reason: "CrashLoopBackOff", message } },
    });
  });
  if (reason === "OOMKilled") k.log(r, "fatal error: out of memory");
  k.event(
    pod,
    "Warning",
    "BackOff",
    `Back-off restarting failed container ${r.container} in pod ${r.name}_${r.ns}(${r.uid})`,
  );
  const image = k.catalog.lookup(r.image)!;
  k.after(r, delay, () => startContainer(k, r, image));
};

/**
 * A deleted pod: SIGTERM to the container, which leaves service at once (not ready) and exits
 * when it has drained (the watchdogs wait `write_timeout`, default 10 s) or is killed at the end
 * of the grace period; then the pod is removed.
 */
export const terminate = (k: RunContext, r: PodRun, pod: KObj) => {
  r.cancel.forEach((c) => c());
  r.cancel = [];
  const status = pod.status?.containerStatuses?.[0];
  const startedAt = status?.state?.running?.startedAt;
  const now = k.clock.now();
  if (startedAt === undefined) {
    r.terminating = { since: now, drainedAt: now, killAt: now, startedAt: rfc3339(now) };
    k.store.delete(Kinds.Pod, r.ns, r.name, { gracePeriodSeconds: 0 });
    return;
  }
  k.event(pod, "Normal", "Killing", `Stopping container ${r.container}`);
  const image = k.catalog.lookup(r.image);
  const env: Record<string, string> = {};
  for (const e of pod.spec.containers[0].env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const drainMs = image?.behaviour === "watchdog" || image?.behaviour === "http-echo"
    ? parseDuration(env.write_timeout, 10_000)
    : 0;
  const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
  if (drainMs > 0) k.log(r, `SIGTERM received.. shutting down server in ${goDurationString(drainMs)}`);
  r.terminating = { since: now, drainedAt: now + drainMs, killAt: now + graceMs, startedAt };
  k.markUnready(r);
  finishAt(k, r);
};

/**
 * A later DELETE shortened the grace period of a terminating pod: the kubelet kills the container at
 * the new deadline (the grace period now counts from the first SIGTERM, as the deletionTimestamp the
 * API server moved forward does), or at once when that is already past.
 */
export const shortenGrace = (k: RunContext, r: PodRun, pod: KObj) => {
  const t = r.terminating;
  const grace = pod.metadata.deletionGracePeriodSeconds;
  if (!t || typeof grace !== "number") return;
  const killAt = Math.max(k.clock.now(), t.since + grace * 1000);
  if (killAt >= t.killAt) return;
  t.killAt = killAt;
  finishAt(k, r);
};

/** (Re)schedules the end of a terminating container: drained (exit 0) or killed (137), whichever is first. */
const finishAt = (k: RunContext, r: PodRun) => {
  const t = r.terminating!;
  t.cancel?.();
  const killed = t.drainedAt > t.killAt;
  const at = Math.min(t.drainedAt, t.killAt);
  t.cancel = k.after(r, Math.max(0, at - k.clock.now()), () => {
    k.patchStatus(r, (s, o) => {
      s.containerStatuses = k.containerStatus(r, o, {
        ready: false,
        started: false,
        state: {
          terminated: {
            exitCode: killed ? 137 : 0,
            reason: killed ? "Error" : "Completed",
            startedAt: t.startedAt,
            finishedAt: rfc3339(k.clock.now()),
            containerID: o.status.containerStatuses?.[0]?.containerID,
          },
        },
      });
    });
    k.store.delete(Kinds.Pod, r.ns, r.name, { gracePeriodSeconds: 0 });
  });
};

/** The container, if it is running: when it started (clock ms). */
const runningSince = (k: RunContext, r: PodRun): number | undefined => {
  const startedAt = k.pod(r)?.status?.containerStatuses?.[0]?.state?.running?.startedAt;
  return startedAt === undefined || r.terminating ? undefined : Date.parse(startedAt);
};

/**
 * The running container exits with `exitCode` (a crash): restarted after the CrashLoopBackOff
 * back-off, as `exited` does. False when no container of the run is running.
 */
export const crashContainer = (k: RunContext, r: PodRun, exitCode: number): boolean => {
  const since = runningSince(k, r);
  if (since === undefined) return false;
  r.cancel.forEach((c) => c());
  r.cancel = [];
  exited(k, r, since, exitCode, "Error");
  return true;
};

/**
 * The container was killed under the kubelet (its sandbox or the node went away, exit 255 reason
 * Unknown as a node reboot shows it) and is started again at once: restartCount rises and the pod is
 * not ready until its readiness probe passes again. False when no container of the run was running.
 */
export const restartContainer = (k: RunContext, r: PodRun): boolean => {
  const since = runningSince(k, r);
  const image = k.catalog.lookup(r.image);
  if (since === undefined || !image) return false;
  r.cancel.forEach((c) => c());
  r.cancel = [];
  r.restarts++;
  k.patchStatus(r, (s, o) => {
    s.conditions = k.conditions(o, false, r);
    s.containerStatuses = k.containerStatus(r, o, {
      lastState: {
        terminated: {
          exitCode: 255,
          reason: "Unknown",
          startedAt: rfc3339(since),
          finishedAt: rfc3339(k.clock.now()),
          containerID: o.status.containerStatuses?.[0]?.containerID,
        },
      },
      imageID: o.status.containerStatuses?.[0]?.imageID ?? "",
      state: { waiting: { reason: "ContainerCreating" } },
    });
  });
  startContainer(k, r, image);
  return true;
};
