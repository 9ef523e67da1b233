/**
 * What the kubelet keeps for each pod it runs, and what every stage of a run (network, image pull,
 * container, probes, termination) shares: timers that end with the pod, status writes, the pod's
 * conditions and container status, and events.
 */
import { rfc3339 } from "../../clock.ts";
import type { SimClock } from "../../clock.ts";
import { Kinds, type KObj } from "../../kinds.ts";
import type { Store } from "../../store.ts";
import type { ImageCatalog, SimImage } from "../../images/catalog.ts";
import type { LogStore } from "../../logs.ts";
import { recordEvent } from "../events.ts";

export const backOffBaseMs = 10_000;
const backOffMaxMs = 300_000;

/** Back-off before the n-th retry (n >= 1): 10 s, 20 s, 40 s ... capped at 5 minutes. */
export const backOffMs = (n: number) => Math.min(backOffMaxMs, backOffBaseMs * 2 ** Math.max(0, n - 1));

export interface PodRun {
  readonly uid: string;
  readonly ns: string;
  readonly name: string;
  readonly container: string;
  readonly image: string;
  cancel: (() => void)[];
  pullFailures: number;
  /** Failed attempts to get a pod IP (the node's range was full). */
  ipFailures: number;
  /** The pod IP's slot in its node's range, held until the pod is deleted. */
  ip?: { readonly node: string; readonly slot: number };
  restarts: number;
  /** Stopping after the pod was deleted (its deletionTimestamp is set): ./container.ts terminate. */
  terminating?: Termination;
}

/** A container being stopped: it exits when drained, or is killed at the end of the grace period. */
export interface Termination {
  /** When the kubelet sent SIGTERM (clock ms). */
  readonly since: number;
  /** When the container has drained and exits by itself (clock ms). */
  readonly drainedAt: number;
  /** The end of the grace period, when it is killed (clock ms); a later DELETE may bring it forward. */
  killAt: number;
  readonly startedAt: string;
  /** Cancels the timer that finishes the container. */
  cancel?: () => void;
}

/** Where pod IPs come from: simulated addresses only, or loopback addresses pods can listen on (./podips.ts). */
export type PodNetworkMode = "virtual" | "loopback";

export interface KubeletOptions {
  /** Extra lines an image writes to its log when its container starts. */
  readonly startupLog?: (image: SimImage, pod: KObj, container: KObj) => string[];
  /** Where pod IPs come from (./podips.ts; default "virtual"). */
  readonly podNetwork?: PodNetworkMode;
  /** Where pod IPs start, `A.B.0.0/16` (./podips.ts; default 10.244.0.0/16 virtual, 127.10.0.0/16 loopback). */
  readonly podCidr?: string;
}

/** The pod conditions the kubelet writes (with PodScheduled, the scheduler's). */
const kubeletConditions = new Set([
  "PodReadyToStartContainers",
  "Initialized",
  "Ready",
  "ContainersReady",
  "PodScheduled",
]);

export class RunContext {
  /** While set, pulls of the images it matches fail: the registry is unreachable (sim/disruptions). */
  registryOutage: ((image: string) => boolean) | undefined;

  constructor(
    readonly store: Store,
    readonly clock: SimClock,
    readonly catalog: ImageCatalog,
    readonly logs: LogStore,
    readonly options: KubeletOptions,
  ) {}

  /** An event about `pod` from the kubelet. */
  event(pod: KObj, type: "Normal" | "Warning", reason: string, message: string) {
    recordEvent(this.store, this.clock, pod, type, reason, message, "kubelet");
  }

  /** A line in the run's container log, now. */
  log(r: PodRun, line: string) {
    this.logs.append(r.ns, r.name, r.container, this.clock.now(), line);
  }

  patchStatus(r: PodRun, change: (status: Record<string, unknown>, pod: KObj) => void) {
    if (!this.alive(r)) return;
    this.store.mutate(Kinds.Pod, r.ns, r.name, (o) => {
      o.status ??= {};
      change(o.status, o);
    });
  }

  /** The container stays up but fails its readiness probe (Ready condition False). */
  markUnready(r: PodRun) {
    this.patchStatus(r, (s, o) => {
      s.conditions = this.conditions(o, false, r);
      s.containerStatuses = [{ ...o.status.containerStatuses[0], ready: false }];
    });
  }

  alive(r: PodRun): boolean {
    return this.store.peek(Kinds.Pod, r.ns, r.name)?.metadata.uid === r.uid;
  }

  pod(r: PodRun): KObj {
    return this.store.peek(Kinds.Pod, r.ns, r.name)!;
  }

  /** Runs `fn` after `ms` if the run's pod is still there; the timer is cancelled with the run. */
  after(r: PodRun, ms: number, fn: () => void): () => void {
    const cancel = this.clock.after(ms, () => {
      r.cancel = r.cancel.filter((c) => c !== cancel);
      if (this.alive(r)) fn();
    });
    r.cancel.push(cancel);
    return () => {
      cancel();
      r.cancel = r.cancel.filter((c) => c !== cancel);
    };
  }

  containerStatus(r: PodRun, pod: KObj, fields: Record<string, unknown>) {
    const previous = (pod.status?.containerStatuses ?? [])[0] ?? {};
    return [{
      name: r.container,
      image: r.image,
      imageID: previous.imageID ?? "",
      restartCount: r.restarts,
      ready: false,
      started: false,
      ...(previous.lastState ? { lastState: previous.lastState } : {}),
      ...fields,
    }];
  }

  conditions(pod: KObj, ready: boolean, r: PodRun) {
    const now = rfc3339(this.clock.now());
    const previous: { type: string; status: string; lastTransitionTime?: string }[] =
      pod.status?.conditions ?? [];
    const cond = (type: string, ok: boolean) => {
      const status = ok ? "True" : "False";
      const before = previous.find((c) => c.type === type);
      return {
        type,
        status,
        lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
        ...(ok
          ? {}
          : { reason: "ContainersNotReady", message: `containers with unready status: [${r.container}]` }),
      };
    };
    return [
      cond("PodReadyToStartContainers", true),
      cond("Initialized", true),
      cond("Ready", ready),
      cond("ContainersReady", ready),
      previous.find((c) => c.type === "PodScheduled") ??
        { type: "PodScheduled", status: "True", lastTransitionTime: now },
      // Conditions others set (readiness gates, the simulator's host network) stay, as the kubelet keeps them.
      ...previous.filter((c) => !kubeletConditions.has(c.type)),
    ];
  }
}
