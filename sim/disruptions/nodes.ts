/**
 * Node failures, as the node lifecycle controller and the taint eviction controller handle them:
 * the failed node's Ready condition goes Unknown (at once: the 40-50 s node-monitor grace period is
 * not waited for), it is tainted `node.kubernetes.io/unreachable` NoSchedule and NoExecute, its pods
 * are marked Ready=False (their endpoints become not ready), and each pod is evicted (deleted, with a
 * DisruptionTarget condition and a TaintManagerEviction event) when its toleration of the NoExecute
 * taint runs out: 300 s with the tolerations the DefaultTolerationSeconds admission plugin adds
 * (sim/kinds.ts), at once without a toleration, never with one that has no tolerationSeconds. The
 * node's kubelet stops, so evicted pods stay Terminating until it recovers; their ReplicaSet
 * replaces them at once, and the scheduler places the replacements on Ready nodes only.
 */
import { rfc3339 } from "../clock.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { SimClusterShape } from "../cluster.ts";
import { recordEvent } from "../controllers/events.ts";
import { type Taint, tolerates, type Toleration } from "../taints.ts";

export const unreachableTaintKey = "node.kubernetes.io/unreachable";

/**
 * How long `pod` may stay on a node with `taints` (NoExecute ones count): 0 when one of them is not
 * tolerated, the least tolerationSeconds of the tolerations used, or undefined (forever).
 */
export const tolerationMs = (pod: KObj, taints: readonly Taint[]): number | undefined => {
  const tolerations: Toleration[] = pod.spec?.tolerations ?? [];
  let least: number | undefined;
  for (const taint of taints.filter((t) => t.effect === "NoExecute")) {
    const used = tolerations.filter((t) => tolerates(t, taint));
    if (used.length === 0) return 0;
    for (const t of used) {
      if (typeof t.tolerationSeconds !== "number") continue;
      const ms = Math.max(0, t.tolerationSeconds) * 1000;
      least = least === undefined ? ms : Math.min(least, ms);
    }
  }
  return least;
};

/**
 * The conditions the kubelet posts, which the node lifecycle controller sets Unknown when it stops
 * posting (NetworkUnavailable and conditions of other components are left alone).
 */
const kubeletConditions = new Set(["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]);

const isReady = (node: KObj) =>
  (node.status?.conditions ?? []).some((c: { type: string; status: string }) =>
    c.type === "Ready" && c.status === "True"
  );

export class NodeFailures {
  /** Pending evictions per failed node: pod key -> cancel. */
  private readonly evictions = new Map<string, Map<string, () => void>>();
  /** The kubelet's conditions of each failed node as they were, posted again when it recovers. */
  private readonly posted = new Map<string, Map<string, KObj>>();

  constructor(private readonly cluster: SimClusterShape) {}

  /** The nodes failed and not yet recovered, in name order. */
  get failed(): string[] {
    return [...this.evictions.keys()].sort();
  }

  /** Fails `name`; idempotent. Throws for an unknown node. */
  fail(name: string): void {
    const { store, clock, kubelet } = this.cluster;
    if (!store.peek(Kinds.Node, undefined, name)) throw new Error(`failNode: no node ${name}`);
    if (this.evictions.has(name)) return;
    const now = rfc3339(clock.now());
    kubelet.stopNode(name);
    const taints: Taint[] = [
      { key: unreachableTaintKey, effect: "NoSchedule", timeAdded: now },
      { key: unreachableTaintKey, effect: "NoExecute", timeAdded: now },
    ];
    store.mutate(Kinds.Node, undefined, name, (node) => {
      node.spec ??= {};
      const others = (node.spec.taints ?? []).filter((t: Taint) => t.key !== unreachableTaintKey);
      node.spec.taints = [...others, ...taints];
      const conditions: KObj[] = node.status.conditions ?? [];
      this.posted.set(
        name,
        new Map(conditions.filter((c) => kubeletConditions.has(c.type)).map((c) => [c.type, { ...c }])),
      );
      node.status.conditions = conditions.map((c: KObj) =>
        kubeletConditions.has(c.type) && c.status !== "Unknown"
          ? {
            ...c,
            status: "Unknown",
            reason: "NodeStatusUnknown",
            message: "Kubelet stopped posting node status.",
            lastTransitionTime: now,
          }
          : c
      );
    });
    const pending = new Map<string, () => void>();
    this.evictions.set(name, pending);
    const allTaints: Taint[] = store.peek(Kinds.Node, undefined, name)?.spec?.taints ?? taints;
    const pods = [...store.scan(Kinds.Pod)].filter((p) => p.spec?.nodeName === name)
      .sort((a, b) =>
        `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace}/${b.metadata.name}`,
        )
      );
    for (const pod of pods) {
      const ns = pod.metadata.namespace!, podName = pod.metadata.name!;
      this.markNotReady(ns, podName, now);
      const ms = tolerationMs(pod, allTaints);
      if (ms === undefined || pod.metadata.deletionTimestamp) continue;
      const key = `${ns}/${podName}`;
      const uid = pod.metadata.uid;
      pending.set(
        key,
        clock.after(ms, () => {
          pending.delete(key);
          this.evict(ns, podName, uid);
        }),
      );
    }
  }

  /** Recovers `name`: the taints go, it is Ready again, its kubelet restarts its pods. Idempotent. */
  recover(name: string): void {
    const { store, clock, kubelet } = this.cluster;
    const pending = this.evictions.get(name);
    if (!pending) return;
    for (const cancel of pending.values()) cancel();
    this.evictions.delete(name);
    const posted = this.posted.get(name) ?? new Map<string, KObj>();
    this.posted.delete(name);
    const now = rfc3339(clock.now());
    store.mutate(Kinds.Node, undefined, name, (node) => {
      const taints = (node.spec?.taints ?? []).filter((t: Taint) => t.key !== unreachableTaintKey);
      if (taints.length > 0) node.spec.taints = taints;
      else delete node.spec?.taints;
      // The kubelet posts its conditions again: as they were before it stopped, and Ready.
      node.status.conditions = (node.status.conditions ?? []).map((c: KObj) => {
        if (!kubeletConditions.has(c.type)) return c;
        const again = posted.get(c.type) ?? c;
        const status = c.type === "Ready"
          ? { status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
          : { status: again.status, reason: again.reason, message: again.message };
        return {
          ...again,
          ...status,
          lastTransitionTime: status.status === c.status ? c.lastTransitionTime : now,
        };
      });
    });
    kubelet.startNode(name);
  }

  /** The node lifecycle controller's MarkPodsNotReady: the pod's Ready condition goes False. */
  private markNotReady(ns: string, name: string, now: string) {
    this.cluster.store.mutate(Kinds.Pod, ns, name, (pod) => {
      pod.status ??= {};
      pod.status.conditions = (pod.status.conditions ?? []).map((c: KObj) =>
        c.type === "Ready" && c.status !== "False" ? { ...c, status: "False", lastTransitionTime: now } : c
      );
    });
  }

  /** The taint eviction controller deletes the pod (if it is still the same one). */
  private evict(ns: string, name: string, uid: string) {
    const { store, clock } = this.cluster;
    const pod = store.peek(Kinds.Pod, ns, name);
    if (!pod || pod.metadata.uid !== uid || pod.metadata.deletionTimestamp) return;
    const node = store.peek(Kinds.Node, undefined, pod.spec.nodeName);
    if (node && isReady(node)) return;
    recordEvent(
      store,
      clock,
      pod,
      "Normal",
      "TaintManagerEviction",
      `Marking for deletion Pod ${ns}/${name}`,
      "taint-eviction-controller",
    );
    store.mutate(Kinds.Pod, ns, name, (p) => {
      const conditions = (p.status?.conditions ?? []).filter((c: KObj) => c.type !== "DisruptionTarget");
      p.status.conditions = [...conditions, {
        type: "DisruptionTarget",
        status: "True",
        reason: "DeletionByTaintManager",
        message: "Taint manager: deleting due to NoExecute taint",
        lastTransitionTime: rfc3339(clock.now()),
      }];
    });
    store.delete(Kinds.Pod, ns, name);
  }
}
