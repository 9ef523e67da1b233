/**
 * The scheduler: binds pending pods to simulated nodes with room for their
 * requests (least-allocated first). A pod that fits nowhere stays Pending with
 * PodScheduled=False, reason Unschedulable, and a FailedScheduling event saying
 * why ("3 Insufficient cpu"); it is retried whenever capacity may have freed up.
 * Each node is filtered as kube-scheduler's default plugins do, stopping at the
 * first that fails: NodeUnschedulable, TaintToleration (NoSchedule and NoExecute
 * taints), the node selector, then resources.
 */
import { rfc3339 } from "../clock.ts";
import type { SimClock } from "../clock.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import { type Controller, nsName, splitKey } from "./hub.ts";
import { recordEvent } from "./events.ts";
import { quantityValue } from "./quantity.ts";
import { type Taint, tolerates, type Toleration, untoleratedTaint } from "../taints.ts";

export interface PodRequests {
  /** Millicores (whole numbers, as the scheduler counts them: 40 x 100m fit in 4 CPUs exactly). */
  readonly cpu: number;
  /** Bytes. */
  readonly memory: number;
}

const millicores = (q: unknown) => Math.ceil(Math.round(quantityValue(q) * 1e6) / 1e3);

/** Sum of container requests; a limit without a request counts as the request, as Kubernetes defaults it. */
const podRequests = (pod: KObj): PodRequests => {
  let cpu = 0, memory = 0;
  for (const c of pod.spec?.containers ?? []) {
    const r = c.resources ?? {};
    cpu += millicores(r.requests?.cpu ?? r.limits?.cpu);
    memory += Math.ceil(quantityValue(r.requests?.memory ?? r.limits?.memory));
  }
  return { cpu, memory };
};

const isTerminal = (p: KObj) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";

interface Usage {
  cpu: number;
  memory: number;
  pods: number;
}

/** What the scheduler reads of a Node, parsed once per change of the Node. */
interface NodeInfo {
  readonly name: string;
  readonly unschedulable: boolean;
  /** Its taints, with the one the node lifecycle controller puts on a node that is not Ready. */
  readonly taints: readonly Taint[];
  readonly labels: Record<string, string>;
  readonly cap: { readonly cpu: number; readonly memory: number; readonly pods: number };
}

/** Taints that keep pods off a node (PreferNoSchedule only weighs in scoring). */
const doNotSchedule = new Set(["NoSchedule", "NoExecute"]);

const unschedulableTaint: Taint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" };

/**
 * A node that is not Ready has the taint the node lifecycle controller adds for it (TaintNodesByCondition):
 * unreachable while its Ready condition is Unknown, not-ready while it is False. The scheduler reads
 * taints, not conditions.
 */
const taintsOf = (node: KObj): Taint[] => {
  const taints: Taint[] = node.spec?.taints ?? [];
  const ready = (node.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready");
  if (ready?.status === "True") return taints;
  const key = ready?.status === "Unknown" ? "node.kubernetes.io/unreachable" : "node.kubernetes.io/not-ready";
  return taints.some((t) => t.key === key && t.effect === "NoSchedule")
    ? taints
    : [...taints, { key, effect: "NoSchedule" }];
};

/** Reasons the scheduler cannot resolve by preempting pods (UnschedulableAndUnresolvable). */
const unresolvable = "Preemption is not helpful for scheduling";
const noVictims = "No preemption victims found for incoming pod";

/** FitError's histogram: "<count> <reason>", sorted as strings, joined with ", ". */
const histogram = (reasons: ReadonlyMap<string, number>) =>
  [...reasons.entries()].map(([r, n]) => `${n} ${r}`).sort().join(", ");

const nodeInfo = (node: KObj): NodeInfo => {
  const alloc = node.status?.allocatable ?? {};
  return {
    name: node.metadata.name!,
    unschedulable: Boolean(node.spec?.unschedulable),
    taints: taintsOf(node),
    labels: node.metadata.labels ?? {},
    cap: {
      cpu: millicores(alloc.cpu),
      memory: quantityValue(alloc.memory),
      pods: quantityValue(alloc.pods ?? "110"),
    },
  };
};

export class Scheduler implements Controller {
  readonly name = "scheduler";
  /** What each pod bound to a node (and not finished) holds there, by pod key. */
  private readonly bound = new Map<string, { node: string; cpu: number; memory: number }>();
  /** The sum of `bound` per node. */
  private readonly used = new Map<string, Usage>();
  /** Pods waiting for a node (not bound, not being deleted), by key. */
  private readonly pending = new Set<string>();

  constructor(private readonly store: Store, private readonly clock: SimClock) {}

  /** The nodes as the scheduler sees them, by name (rebuilt after a Node changes). */
  private nodeCache?: NodeInfo[];

  /** Keeps the indexes in step with the store (read from the store, so the order of events does not matter). */
  observe(e: StoreEvent): void {
    if (e.kind === Kinds.Node) this.nodeCache = undefined;
    if (e.kind !== Kinds.Pod) return;
    const key = nsName(e.object);
    const pod = this.store.peek(Kinds.Pod, e.object.metadata.namespace, e.object.metadata.name!);
    if (pod && !pod.spec?.nodeName && !pod.metadata.deletionTimestamp) this.pending.add(key);
    else this.pending.delete(key);
    if (pod?.spec?.nodeName && !isTerminal(pod)) {
      if (this.bound.get(key)?.node !== pod.spec.nodeName) {
        this.hold(key, pod.spec.nodeName, podRequests(pod));
      }
    } else this.release(key);
  }

  private hold(key: string, node: string, r: PodRequests) {
    const before = this.bound.get(key);
    if (before?.node === node && before.cpu === r.cpu && before.memory === r.memory) return;
    this.release(key);
    this.bound.set(key, { node, cpu: r.cpu, memory: r.memory });
    const u = this.used.get(node) ?? { cpu: 0, memory: 0, pods: 0 };
    this.used.set(node, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 });
  }

  private release(key: string) {
    const b = this.bound.get(key);
    if (!b) return;
    this.bound.delete(key);
    const u = this.used.get(b.node)!;
    this.used.set(b.node, { cpu: u.cpu - b.cpu, memory: u.memory - b.memory, pods: u.pods - 1 });
  }

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Pod) {
      if (e.type !== "DELETED" && !e.object.spec?.nodeName) return [nsName(e.object)];
      // Capacity has freed up (a bound pod went, or finished): retry every pending pod.
      const freed = e.type === "DELETED"
        ? Boolean(e.object.spec?.nodeName) && !isTerminal(e.object)
        : isTerminal(e.object) && !(e.old && isTerminal(e.old));
      return freed ? [...this.pending] : [];
    }
    if (e.kind === Kinds.Node) return [...this.pending];
    return [];
  }

  /** Every node, by name (cached until a Node changes: scheduling a pod reads them all). */
  private nodes(): NodeInfo[] {
    return this.nodeCache ??= [...this.store.scan(Kinds.Node)].map(nodeInfo).sort((a, b) =>
      a.name.localeCompare(b.name)
    );
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const pod = this.store.peek(Kinds.Pod, ns, name);
    if (!pod || pod.spec?.nodeName || pod.metadata.deletionTimestamp) return;
    const want = podRequests(pod);
    const nodes = this.nodes();
    const reasons = new Map<string, number>();
    const note = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
    /** Per node, what preemption could do there. */
    const preemption = new Map<string, number>();
    const notePreemption = (r: string) => preemption.set(r, (preemption.get(r) ?? 0) + 1);
    const refuse = (r: string) => {
      note(r);
      notePreemption(unresolvable);
    };
    let best: { node: NodeInfo; score: number } | undefined;
    const selector = Object.entries(pod.spec.nodeSelector ?? {});
    const tolerations: Toleration[] = pod.spec.tolerations ?? [];
    for (const node of nodes) {
      if (node.unschedulable && !tolerations.some((t) => tolerates(t, unschedulableTaint))) {
        refuse("node(s) were unschedulable");
        continue;
      }
      const taint = untoleratedTaint(node.taints, tolerations, doNotSchedule);
      if (taint) {
        refuse(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`);
        continue;
      }
      if (selector.some(([k, v]) => node.labels[k] !== v)) {
        refuse("node(s) didn't match Pod's node affinity/selector");
        continue;
      }
      const cap = node.cap;
      const u = this.used.get(node.name) ?? { cpu: 0, memory: 0, pods: 0 };
      let fits = true;
      if (u.pods + 1 > cap.pods) {
        note("Too many pods");
        fits = false;
      }
      if (u.cpu + want.cpu > cap.cpu) {
        note("Insufficient cpu");
        fits = false;
      }
      if (u.memory + want.memory > cap.memory) {
        note("Insufficient memory");
        fits = false;
      }
      if (!fits) {
        // Every pod has the same priority here: none is a victim to preempt.
        notePreemption(noVictims);
        continue;
      }
      const score = (u.cpu + want.cpu) / (cap.cpu || 1) + (u.memory + want.memory) / (cap.memory || 1);
      if (!best || score < best.score) best = { node, score };
    }
    const now = rfc3339(this.clock.now());
    if (!best) {
      const message = `0/${nodes.length} nodes are available: ${
        histogram(reasons)
      }. preemption: 0/${nodes.length} nodes are available: ${histogram(preemption)}.`;
      const before = (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === "PodScheduled");
      if (before?.message !== message) {
        this.store.mutate(Kinds.Pod, ns, name, (o) => {
          o.status = {
            ...o.status,
            phase: "Pending",
            conditions: [{
              type: "PodScheduled",
              status: "False",
              reason: "Unschedulable",
              message,
              lastTransitionTime: now,
            }],
          };
        });
        recordEvent(this.store, this.clock, pod, "Warning", "FailedScheduling", message, "default-scheduler");
      }
      return;
    }
    const nodeName = best.node.name;
    // Held at once: the next pod in this turn must see it, before the event comes round.
    this.hold(key, nodeName, want);
    this.pending.delete(key);
    this.store.mutate(Kinds.Pod, ns, name, (o) => {
      o.spec.nodeName = nodeName;
      o.status = {
        ...o.status,
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: now }],
      };
    });
    recordEvent(
      this.store,
      this.clock,
      pod,
      "Normal",
      "Scheduled",
      `Successfully assigned ${ns}/${name} to ${nodeName}`,
      "default-scheduler",
    );
  }
}
