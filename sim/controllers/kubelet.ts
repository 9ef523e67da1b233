/**
 * The kubelet: for each pod bound to a node, pulls the image (from the
 * simulator's catalog, with ErrImagePull -> ImagePullBackOff and back-off for an
 * unknown one), starts the container, marks it ready when its readiness probe
 * would first pass, and restarts it with back-off (10 s doubling to 5 min) when
 * it crashes, is OOMKilled or fails its liveness probe. Container logs go to the LogStore (the
 * cluster ends them when the pod is deleted). Each pod gets an IP from its node's range, kept across
 * container restarts and free again once the pod is deleted.
 */
import { rfc3339 } from "../clock.ts";
import type { SimClock } from "../clock.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import type { ImageCatalog, SimImage } from "../images/catalog.ts";
import type { LogStore } from "../logs.ts";
import { type Controller, nsName, splitKey } from "./hub.ts";
import { recordEvent } from "./events.ts";
import { quantityValue } from "./quantity.ts";
import { goDurationString } from "../images/context.ts";
import { parseDuration } from "../../src/domain/envvalues.ts";

const backOffBaseMs = 10_000;
const backOffMaxMs = 300_000;

/** Back-off before the n-th retry (n >= 1): 10 s, 20 s, 40 s ... capped at 5 minutes. */
const backOffMs = (n: number) => Math.min(backOffMaxMs, backOffBaseMs * 2 ** Math.max(0, n - 1));

/** Pod IPs per node: 10.244.{node}.2 to .251 (slots 0 to 249), handed out round-robin. */
const podIpSlots = 250;

/** A node's pod IP range: the slots in use by its pods, and where the next search starts. */
interface NodeIps {
  next: number;
  readonly used: Set<number>;
}

interface PodRun {
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
  /** Stopping after the pod was deleted (its deletionTimestamp is set). */
  terminating?: boolean;
}

export interface KubeletOptions {
  /** Extra lines an image writes to its log when its container starts. */
  readonly startupLog?: (image: SimImage, pod: KObj, container: KObj) => string[];
}

export class Kubelet implements Controller {
  readonly name = "kubelet";
  private readonly runs = new Map<string, PodRun>();
  private readonly nodeImages = new Map<string, Set<string>>();
  private readonly nodeIps = new Map<string, NodeIps>();

  constructor(
    private readonly store: Store,
    private readonly clock: SimClock,
    private readonly catalog: ImageCatalog,
    private readonly logs: LogStore,
    private readonly options: KubeletOptions = {},
  ) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind !== Kinds.Pod) return [];
    if (e.type === "DELETED" || e.object.spec?.nodeName) return [nsName(e.object)];
    return [];
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const pod = this.store.peek(Kinds.Pod, ns, name);
    const run = this.runs.get(key);
    if (run && (!pod || pod.metadata.uid !== run.uid)) {
      run.cancel.forEach((c) => c());
      this.runs.delete(key);
      if (run.ip) this.nodeIps.get(run.ip.node)?.used.delete(run.ip.slot);
    }
    if (!pod || !pod.spec?.nodeName) return;
    if (pod.metadata.deletionTimestamp) {
      const current = this.runs.get(key);
      if (!current) this.store.delete(Kinds.Pod, ns, name, { gracePeriodSeconds: 0 });
      else if (!current.terminating) this.terminate(current, pod);
      return;
    }
    if (this.runs.has(key)) return;
    this.start(key, pod);
  }

  /**
   * A deleted pod: SIGTERM to the container, which leaves service at once (not ready) and exits
   * when it has drained (the watchdogs wait `write_timeout`, default 10 s) or is killed at the end
   * of the grace period; then the pod is removed.
   */
  private terminate(r: PodRun, pod: KObj) {
    r.terminating = true;
    r.cancel.forEach((c) => c());
    r.cancel = [];
    const status = pod.status?.containerStatuses?.[0];
    const startedAt = status?.state?.running?.startedAt;
    if (startedAt === undefined) {
      this.store.delete(Kinds.Pod, r.ns, r.name, { gracePeriodSeconds: 0 });
      return;
    }
    recordEvent(
      this.store,
      this.clock,
      pod,
      "Normal",
      "Killing",
      `Stopping container ${r.container}`,
      "kubelet",
    );
    const image = this.catalog.lookup(r.image);
    const env: Record<string, string> = {};
    for (const e of pod.spec.containers[0].env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const drainMs = image?.behaviour === "watchdog" || image?.behaviour === "http-echo"
      ? parseDuration(env.write_timeout, 10_000)
      : 0;
    const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
    if (drainMs > 0) {
      this.logs.append(
        r.ns,
        r.name,
        r.container,
        this.clock.now(),
        `SIGTERM received.. shutting down server in ${goDurationString(drainMs)}`,
      );
    }
    this.markUnready(r);
    const killed = drainMs > graceMs;
    this.after(r, Math.min(drainMs, graceMs), () => {
      this.patchStatus(r, (s, o) => {
        s.containerStatuses = this.containerStatus(r, o, {
          ready: false,
          started: false,
          state: {
            terminated: {
              exitCode: killed ? 137 : 0,
              reason: killed ? "Error" : "Completed",
              startedAt,
              finishedAt: rfc3339(this.clock.now()),
              containerID: o.status.containerStatuses?.[0]?.containerID,
            },
          },
        });
      });
      this.store.delete(Kinds.Pod, r.ns, r.name, { gracePeriodSeconds: 0 });
    });
  }

  private patchStatus(r: PodRun, change: (status: Record<string, unknown>, pod: KObj) => void) {
    if (!this.alive(r)) return;
    this.store.mutate(Kinds.Pod, r.ns, r.name, (o) => {
      o.status ??= {};
      change(o.status, o);
    });
  }

  /** The container stays up but fails its readiness probe (Ready condition False). */
  private markUnready(r: PodRun) {
    this.patchStatus(r, (s, o) => {
      s.conditions = this.conditions(o, false, r);
      s.containerStatuses = [{ ...o.status.containerStatuses[0], ready: false }];
    });
  }

  private alive(r: PodRun): boolean {
    return this.store.peek(Kinds.Pod, r.ns, r.name)?.metadata.uid === r.uid;
  }

  private pod(r: PodRun): KObj {
    return this.store.peek(Kinds.Pod, r.ns, r.name)!;
  }

  private after(r: PodRun, ms: number, fn: () => void) {
    const cancel = this.clock.after(ms, () => {
      r.cancel = r.cancel.filter((c) => c !== cancel);
      if (this.alive(r)) fn();
    });
    r.cancel.push(cancel);
  }

  private containerStatus(r: PodRun, pod: KObj, fields: Record<string, unknown>) {
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

  private conditions(pod: KObj, ready: boolean, r: PodRun) {
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
    ];
  }

  private start(key: string, pod: KObj) {
    const container = pod.spec.containers[0];
    const r: PodRun = {
      uid: pod.metadata.uid,
      ns: pod.metadata.namespace!,
      name: pod.metadata.name!,
      container: container.name,
      image: container.image,
      cancel: [],
      pullFailures: 0,
      ipFailures: 0,
      restarts: 0,
    };
    this.runs.set(key, r);
    const node = pod.spec.nodeName as string;
    const nodeObj = this.store.peek(Kinds.Node, undefined, node);
    const podIP = this.allocateIp(r, node);
    const hostIP =
      (nodeObj?.status?.addresses ?? []).find((a: { type: string }) => a.type === "InternalIP")?.address ??
        "192.168.0.1";
    this.patchStatus(r, (s, o) => {
      s.phase = "Pending";
      s.hostIP = hostIP;
      s.hostIPs = [{ ip: hostIP }];
      if (podIP) {
        s.podIP = podIP;
        s.podIPs = [{ ip: podIP }];
      }
      s.startTime = rfc3339(this.clock.now());
      s.qosClass = qosClass(o);
      s.conditions = this.conditions(o, false, r);
      s.containerStatuses = this.containerStatus(r, o, {
        state: { waiting: { reason: "ContainerCreating" } },
      });
    });
    if (podIP) this.pull(r);
    else this.noIp(r, node);
  }

  /** The next free IP of the node's range for the run's pod (round-robin), or undefined when all are taken. */
  private allocateIp(r: PodRun, node: string): string | undefined {
    let ips = this.nodeIps.get(node);
    if (!ips) this.nodeIps.set(node, ips = { next: 1, used: new Set() });
    for (let i = 0; i < podIpSlots; i++) {
      const slot = (ips.next + i) % podIpSlots;
      if (ips.used.has(slot)) continue;
      ips.used.add(slot);
      ips.next = slot + 1;
      r.ip = { node, slot };
      return `${nodePodNet(node)}.${slot + 2}`;
    }
    return undefined;
  }

  /** No pod IP is free on the node: the sandbox is not created, and is retried with back-off. */
  private noIp(r: PodRun, node: string) {
    r.ipFailures++;
    const net = nodePodNet(node);
    recordEvent(
      this.store,
      this.clock,
      this.pod(r),
      "Warning",
      "FailedCreatePodSandBox",
      `Failed to create pod sandbox: failed to setup network for sandbox: failed to allocate for range 0: no IP addresses available in range set: ${net}.2-${net}.${
        podIpSlots + 1
      }`,
      "kubelet",
    );
    this.after(r, backOffMs(r.ipFailures), () => {
      const podIP = this.allocateIp(r, node);
      if (!podIP) return this.noIp(r, node);
      this.patchStatus(r, (s) => {
        s.podIP = podIP;
        s.podIPs = [{ ip: podIP }];
      });
      this.pull(r);
    });
  }

  private pull(r: PodRun) {
    const pod = this.pod(r);
    const node = pod.spec.nodeName as string;
    const container = pod.spec.containers[0];
    const policy = container.imagePullPolicy ?? "IfNotPresent";
    const present = this.nodeImages.get(node)?.has(r.image) ?? false;
    const image = this.catalog.lookup(r.image);
    if (policy === "Never" && !present) {
      this.patchStatus(r, (s, o) => {
        s.containerStatuses = this.containerStatus(r, o, {
          state: {
            waiting: {
              reason: "ErrImageNeverPull",
              message: `Container image "${r.image}" is not present with pull policy of Never`,
            },
          },
        });
      });
      recordEvent(
        this.store,
        this.clock,
        pod,
        "Warning",
        "ErrImageNeverPull",
        `Container image "${r.image}" is not present with pull policy of Never`,
        "kubelet",
      );
      return;
    }
    if (present && policy !== "Always" && image) {
      recordEvent(
        this.store,
        this.clock,
        pod,
        "Normal",
        "Pulled",
        `Container image "${r.image}" already present on machine`,
        "kubelet",
      );
      this.startContainer(r, image);
      return;
    }
    recordEvent(this.store, this.clock, pod, "Normal", "Pulling", `Pulling image "${r.image}"`, "kubelet");
    const pullMs = image?.pullMs ?? 1_000;
    this.after(r, present ? 200 : pullMs, () => {
      const p = this.pod(r);
      if (!image) {
        r.pullFailures++;
        const ref = r.image.includes(":") || r.image.includes("@") ? r.image : `${r.image}:latest`;
        const message =
          `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": pull access denied, repository does not exist or may require authorization`;
        this.patchStatus(r, (s, o) => {
          s.containerStatuses = this.containerStatus(r, o, {
            state: { waiting: { reason: "ErrImagePull", message } },
          });
        });
        recordEvent(
          this.store,
          this.clock,
          p,
          "Warning",
          "Failed",
          `Failed to pull image "${r.image}": ${message}`,
          "kubelet",
        );
        recordEvent(this.store, this.clock, p, "Warning", "Failed", "Error: ErrImagePull", "kubelet");
        this.after(r, 1_000, () => {
          this.patchStatus(r, (s, o) => {
            s.containerStatuses = this.containerStatus(r, o, {
              state: {
                waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${r.image}"` },
              },
            });
          });
          recordEvent(
            this.store,
            this.clock,
            this.pod(r),
            "Normal",
            "BackOff",
            `Back-off pulling image "${r.image}"`,
            "kubelet",
          );
          recordEvent(
            this.store,
            this.clock,
            this.pod(r),
            "Warning",
            "Failed",
            "Error: ImagePullBackOff",
            "kubelet",
          );
          this.after(r, backOffMs(r.pullFailures), () => this.pull(r));
        });
        return;
      }
      let images = this.nodeImages.get(node);
      if (!images) this.nodeImages.set(node, images = new Set());
      images.add(r.image);
      recordEvent(
        this.store,
        this.clock,
        p,
        "Normal",
        "Pulled",
        `Successfully pulled image "${r.image}" in ${(pullMs / 1000).toFixed(3)}s`,
        "kubelet",
      );
      this.startContainer(r, image);
    });
  }

  private startContainer(r: PodRun, image: SimImage) {
    const startedAt = this.clock.now();
    const pod = this.pod(r);
    const container = pod.spec.containers[0];
    recordEvent(
      this.store,
      this.clock,
      pod,
      "Normal",
      "Created",
      `Created container ${r.container}`,
      "kubelet",
    );
    recordEvent(
      this.store,
      this.clock,
      pod,
      "Normal",
      "Started",
      `Started container ${r.container}`,
      "kubelet",
    );
    const digest = `sha256:${r.uid.replaceAll("-", "").padEnd(64, "0").slice(0, 64)}`;
    this.patchStatus(r, (s, o) => {
      s.phase = "Running";
      s.conditions = this.conditions(o, false, r);
      s.containerStatuses = this.containerStatus(r, o, {
        imageID: `${image.repository}@${digest}`,
        containerID: `containerd://${r.uid.replaceAll("-", "")}${r.restarts}`,
        started: true,
        state: { running: { startedAt: rfc3339(startedAt) } },
      });
    });
    for (const line of this.options.startupLog?.(image, pod, container) ?? []) {
      this.logs.append(r.ns, r.name, r.container, this.clock.now(), line);
    }
    const limit = quantityValue(container.resources?.limits?.memory);
    if (image.behaviour === "crash") {
      this.after(r, image.failAfterMs ?? 1_000, () => this.exited(r, startedAt, 1, "Error"));
      return;
    }
    if (image.behaviour === "oom" && limit > 0 && (image.memoryBytes ?? 0) > limit) {
      this.after(r, image.failAfterMs ?? 1_000, () => this.exited(r, startedAt, 137, "OOMKilled"));
      return;
    }
    if (image.behaviour === "hang") return;
    const probe = container.readinessProbe;
    let readyAt = image.startupMs;
    if (probe) {
      const initial = (probe.initialDelaySeconds ?? 0) * 1000;
      const period = Math.max(1, probe.periodSeconds ?? 10) * 1000;
      readyAt = initial + Math.ceil(Math.max(0, image.startupMs - initial) / period) * period;
    }
    this.after(r, readyAt, () => {
      this.patchStatus(r, (s, o) => {
        s.conditions = this.conditions(o, true, r);
        s.containerStatuses = [{ ...o.status.containerStatuses[0], ready: true }];
      });
    });
    if (image.unhealthyAfterMs !== undefined) {
      this.unhealthy(r, startedAt, Math.max(readyAt, image.unhealthyAfterMs));
    }
  }

  /**
   * From `at` (ms after start) the health check fails: at the next readiness probe the pod goes
   * unready; once the liveness probe has failed `failureThreshold` times in a row the container is
   * killed (exit 137) and restarted with back-off, as the kubelet does.
   */
  private unhealthy(r: PodRun, startedAt: number, at: number) {
    const container = this.pod(r).spec.containers[0];
    // Timers of this run of the container only: a restart (r.restarts changes) leaves them idle.
    const run = r.restarts;
    const during = (ms: number, fn: () => void) => this.after(r, ms, () => r.restarts === run && fn());
    const probeText = (probe: KObj) =>
      probe.httpGet
        ? `HTTP probe failed with statuscode: 500`
        : `command "${(probe.exec?.command ?? []).join(" ")}" exited with 1`;
    const firstFailure = (probe: KObj) => {
      const initial = (probe.initialDelaySeconds ?? 0) * 1000;
      const period = Math.max(1, probe.periodSeconds ?? 10) * 1000;
      return { first: initial + Math.ceil(Math.max(0, at - initial) / period) * period, period };
    };
    const unhealthyEvent = (probe: "Readiness" | "Liveness", spec: KObj) =>
      recordEvent(
        this.store,
        this.clock,
        this.pod(r),
        "Warning",
        "Unhealthy",
        `${probe} probe failed: ${probeText(spec)}`,
        "kubelet",
      );
    const readiness = container.readinessProbe;
    if (readiness) {
      during(firstFailure(readiness).first, () => {
        this.markUnready(r);
        unhealthyEvent("Readiness", readiness);
      });
    }
    const liveness = container.livenessProbe;
    if (!liveness) return;
    const { first, period } = firstFailure(liveness);
    const threshold = Math.max(1, liveness.failureThreshold ?? 3);
    during(first, () => unhealthyEvent("Liveness", liveness));
    during(first + (threshold - 1) * period, () => {
      recordEvent(
        this.store,
        this.clock,
        this.pod(r),
        "Normal",
        "Killing",
        `Container ${r.container} failed liveness probe, will be restarted`,
        "kubelet",
      );
      this.exited(r, startedAt, 137, "Error");
    });
  }

  private exited(r: PodRun, startedAt: number, exitCode: number, reason: string) {
    const pod = this.pod(r);
    r.restarts++;
    // Back-off resets after ten minutes of running, as in the kubelet.
    const ranFor = this.clock.now() - startedAt;
    const delay = ranFor > 600_000 ? backOffBaseMs : backOffMs(r.restarts);
    const message = `back-off ${
      goDurationString(delay)
    } restarting failed container=${r.container} pod=${r.name}_${r.ns}(${r.uid})`;
    this.patchStatus(r, (s, o) => {
      s.conditions = this.conditions(o, false, r);
      s.containerStatuses = this.containerStatus(r, o, {
        lastState: {
          terminated: {
            exitCode,
            reason,
            startedAt: rfc3339(startedAt),
            finishedAt: rfc3339(this.clock.now()),
            containerID: o.status.containerStatuses?.[0]?.containerID,
          },
        },
        imageID: o.status.containerStatuses?.[0]?.imageID ?? "",
        state: { waiting: { reason: "CrashLoopBackOff", message } },
      });
    });
    if (reason === "OOMKilled") {
      this.logs.append(r.ns, r.name, r.container, this.clock.now(), "fatal error: out of memory");
    }
    recordEvent(
      this.store,
      this.clock,
      pod,
      "Warning",
      "BackOff",
      `Back-off restarting failed container ${r.container} in pod ${r.name}_${r.ns}(${r.uid})`,
      "kubelet",
    );
    const image = this.catalog.lookup(r.image)!;
    this.after(r, delay, () => this.startContainer(r, image));
  }
}

/** The first three octets of a node's pod network (10.244.{node number}). */
const nodePodNet = (node: string) => `10.244.${Number(/(\d+)$/.exec(node)?.[1] ?? 0)}`;

const qosClass = (pod: KObj): string => {
  const c = pod.spec.containers[0]?.resources ?? {};
  const req = c.requests ?? {}, lim = c.limits ?? {};
  if (!req.cpu && !req.memory && !lim.cpu && !lim.memory) return "BestEffort";
  if (
    lim.cpu && lim.memory && (!req.cpu || req.cpu === lim.cpu) && (!req.memory || req.memory === lim.memory)
  ) {
    return "Guaranteed";
  }
  return "Burstable";
};
