/**
 * The kubelet: for each pod bound to a node, gets it an IP from its node's range (./kubelet/podips.ts),
 * pulls the image (./kubelet/pull.ts), runs the container with its probes and restarts
 * (./kubelet/container.ts, ./kubelet/probes.ts), and stops it when the pod is deleted. Container logs go
 * to the LogStore (the cluster ends them when the pod is deleted).
 */
import { rfc3339 } from "../clock.ts";
import type { SimClock } from "../clock.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import type { ImageCatalog } from "../images/catalog.ts";
import type { LogStore } from "../logs.ts";
import { type Controller, nsName, splitKey } from "./hub.ts";
import {
  crashContainer,
  restartContainer,
  shortenGrace,
  startContainer,
  terminate,
} from "./kubelet/container.ts";
import { PodIps } from "./kubelet/podips.ts";
import { ImagePulls } from "./kubelet/pull.ts";
import { backOffMs, type KubeletOptions, type PodRun, RunContext } from "./kubelet/run.ts";

export class Kubelet implements Controller {
  readonly name = "kubelet";
  private readonly runs = new Map<string, PodRun>();
  private readonly ips: PodIps;
  private readonly k: RunContext;
  private readonly images: ImagePulls;
  /** Nodes whose kubelet is not running (sim/disruptions failNode): their pods are left as they are. */
  private readonly downNodes = new Set<string>();

  constructor(
    private readonly store: Store,
    clock: SimClock,
    catalog: ImageCatalog,
    logs: LogStore,
    options: KubeletOptions = {},
  ) {
    this.k = new RunContext(store, clock, catalog, logs, options);
    this.ips = new PodIps(options.podNetwork, options.podCidr);
    this.images = new ImagePulls(this.k);
  }

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
      this.ips.release(run);
    }
    if (!pod || !pod.spec?.nodeName) return;
    if (this.downNodes.has(pod.spec.nodeName)) return;
    if (pod.metadata.deletionTimestamp) {
      const current = this.runs.get(key);
      if (!current) this.store.delete(Kinds.Pod, ns, name, { gracePeriodSeconds: 0 });
      else if (!current.terminating) terminate(this.k, current, pod);
      else shortenGrace(this.k, current, pod);
      return;
    }
    if (this.runs.has(key)) return;
    this.start(key, pod);
  }

  /** Pulls of images `outage` matches fail until it is cleared (an image registry outage). */
  setRegistryOutage(outage: ((image: string) => boolean) | undefined): void {
    this.k.registryOutage = outage;
  }

  isNodeDown(node: string): boolean {
    return this.downNodes.has(node);
  }

  /** The runs of the pods bound to `node`, in key order. */
  private runsOn(node: string): [string, PodRun][] {
    return [...this.runs.entries()]
      .filter(([, r]) => this.k.pod(r)?.spec?.nodeName === node)
      .sort(([a], [b]) => a.localeCompare(b));
  }

  /**
   * The node's kubelet stops (the node failed): nothing on it changes any more (no status, no
   * termination) until `startNode`. Idempotent; false when it was already down.
   */
  stopNode(node: string): boolean {
    if (this.downNodes.has(node)) return false;
    this.downNodes.add(node);
    for (const [, r] of this.runsOn(node)) {
      r.cancel.forEach((c) => c());
      r.cancel = [];
      r.terminating?.cancel?.();
    }
    return true;
  }

  /**
   * The node is back, as after a reboot: pods deleted meanwhile are removed (their containers are
   * gone), running containers are started again (restartCount rises), and pulls and back-offs that
   * were cut short start over. Idempotent; false when it was not down.
   */
  startNode(node: string): boolean {
    if (!this.downNodes.delete(node)) return false;
    for (const [key, r] of this.runsOn(node)) {
      const pod = this.k.pod(r);
      if (pod.metadata.deletionTimestamp) {
        this.runs.delete(key);
        this.ips.release(r);
        this.store.delete(Kinds.Pod, r.ns, r.name, { gracePeriodSeconds: 0 });
        continue;
      }
      if (restartContainer(this.k, r)) continue;
      const image = this.k.catalog.lookup(r.image);
      const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (waiting === "CrashLoopBackOff" && image) startContainer(this.k, r, image);
      else if (pod.status?.podIP) this.images.pull(r);
      else this.noIp(r, node);
    }
    // Pods bound while it was down.
    for (const pod of [...this.store.scan(Kinds.Pod)]) {
      if (pod.spec?.nodeName === node && !this.runs.has(nsName(pod))) this.reconcile(nsName(pod));
    }
    return true;
  }

  /**
   * Every running container on the node is killed and started again at once (the kubelet and its
   * runtime restarted): restartCount rises, the pods are unready until their readiness probes pass.
   * Returns how many were restarted.
   */
  restartContainers(node: string): number {
    if (this.downNodes.has(node)) return 0;
    let n = 0;
    for (const [, r] of this.runsOn(node)) if (restartContainer(this.k, r)) n++;
    return n;
  }

  /**
   * The pod's container exits with `exitCode` (non-zero: a crash), and is restarted after the
   * CrashLoopBackOff back-off. False when the pod has no running container.
   */
  crash(namespace: string, name: string, exitCode = 1): boolean {
    const r = this.runs.get(`${namespace}/${name}`);
    if (!r || this.downNodes.has(this.k.pod(r)?.spec?.nodeName)) return false;
    return crashContainer(this.k, r, exitCode);
  }

  private start(key: string, pod: KObj) {
    const k = this.k;
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
    const podIP = this.ips.allocate(r, node);
    const hostIP =
      (nodeObj?.status?.addresses ?? []).find((a: { type: string }) => a.type === "InternalIP")?.address ??
        "192.168.0.1";
    k.patchStatus(r, (s, o) => {
      s.phase = "Pending";
      s.hostIP = hostIP;
      s.hostIPs = [{ ip: hostIP }];
      if (podIP) {
        s.podIP = podIP;
        s.podIPs = [{ ip: podIP }];
      }
      s.startTime = rfc3339(k.clock.now());
      s.qosClass = qosClass(o);
      s.conditions = k.conditions(o, false, r);
      s.containerStatuses = k.containerStatus(r, o, {
        state: { waiting: { reason: "ContainerCreating" } },
      });
    });
    if (podIP) this.images.pull(r);
    else this.noIp(r, node);
  }

  /** No pod IP is free on the node: the sandbox is not created, and is retried with back-off. */
  private noIp(r: PodRun, node: string) {
    const k = this.k;
    r.ipFailures++;
    k.event(k.pod(r), "Warning", "FailedCreatePodSandBox", this.ips.noIpMessage(node));
    k.after(r, backOffMs(r.ipFailures), () => {
      const podIP = this.ips.allocate(r, node);
      if (!podIP) return this.noIp(r, node);
      k.patchStatus(r, (s) => {
        s.podIP = podIP;
        s.podIPs = [{ ip: podIP }];
      });
      this.images.pull(r);
    });
  }
}

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
