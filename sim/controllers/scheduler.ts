/**
 * The scheduler: binds pending pods to simulated nodes with room for their
 * requests (least-allocated first). A pod that fits nowhere stays Pending with
 * PodScheduled=False, reason Unschedulable, and a FailedScheduling event saying
 * why ("3 Insufficient cpu"); it is retried whenever capacity may have freed up.
 */
import { rfc3339 } from "../env.ts";
import type { SimEnv } from "../env.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store, StoreEvent } from "../store.ts";
import { type Controller, nsName, splitKey } from "./hub.ts";
import { recordEvent } from "./events.ts";
import { quantityValue } from "./quantity.ts";

export interface PodRequests {
  readonly cpu: number;
  readonly memory: number;
}

/** Sum of container requests; a limit without a request counts as the request, as Kubernetes defaults it. */
export const podRequests = (pod: KObj): PodRequests => {
  let cpu = 0, memory = 0;
  for (const c of pod.spec?.containers ?? []) {
    const r = c.resources ?? {};
    cpu += quantityValue(r.requests?.cpu ?? r.limits?.cpu);
    memory += quantityValue(r.requests?.memory ?? r.limits?.memory);
  }
  return { cpu, memory };
};

const isTerminal = (p: KObj) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";

export class Scheduler implements Controller {
  readonly name = "scheduler";
  constructor(private readonly store: Store, private readonly env: SimEnv) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Pod) {
      if (e.type !== "DELETED" && !e.object.spec?.nodeName) return [nsName(e.object)];
      // Capacity may have freed up: retry every pending pod.
      if (e.type === "DELETED") return this.pending();
      return [];
    }
    if (e.kind === Kinds.Node) return this.pending();
    return [];
  }

  private pending(): string[] {
    const keys: string[] = [];
    for (const p of this.store.scan(Kinds.Pod)) if (!p.spec?.nodeName) keys.push(nsName(p));
    return keys;
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const pod = this.store.peek(Kinds.Pod, ns, name);
    if (!pod || pod.spec?.nodeName || pod.metadata.deletionTimestamp) return;
    const want = podRequests(pod);
    const used = new Map<string, { cpu: number; memory: number; pods: number }>();
    for (const p of this.store.scan(Kinds.Pod)) {
      if (!p.spec?.nodeName || isTerminal(p)) continue;
      const u = used.get(p.spec.nodeName) ?? { cpu: 0, memory: 0, pods: 0 };
      const r = podRequests(p);
      used.set(p.spec.nodeName, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 });
    }
    const nodes = [...this.store.scan(Kinds.Node)].sort((a, b) =>
      a.metadata.name!.localeCompare(b.metadata.name!)
    );
    const reasons = new Map<string, number>();
    const note = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
    let best: { node: KObj; score: number } | undefined;
    for (const node of nodes) {
      const ready = (node.status?.conditions ?? []).some((c: { type: string; status: string }) =>
        c.type === "Ready" && c.status === "True"
      );
      if (!ready || node.spec?.unschedulable) {
        note(node.spec?.unschedulable ? "node(s) were unschedulable" : "node(s) were not ready");
        continue;
      }
      const selector: Record<string, string> = pod.spec.nodeSelector ?? {};
      if (Object.entries(selector).some(([k, v]) => node.metadata.labels?.[k] !== v)) {
        note("node(s) didn't match Pod's node affinity/selector");
        continue;
      }
      const alloc = node.status?.allocatable ?? {};
      const cap = {
        cpu: quantityValue(alloc.cpu),
        memory: quantityValue(alloc.memory),
        pods: quantityValue(alloc.pods ?? "110"),
      };
      const u = used.get(node.metadata.name!) ?? { cpu: 0, memory: 0, pods: 0 };
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
      if (!fits) continue;
      const score = (u.cpu + want.cpu) / (cap.cpu || 1) + (u.memory + want.memory) / (cap.memory || 1);
      if (!best || score < best.score) best = { node, score };
    }
    const now = rfc3339(this.env.now());
    if (!best) {
      const detail = [...reasons.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([r, n]) =>
        `${n} ${r}`
      )
        .join(", ");
      const message =
        `0/${nodes.length} nodes are available: ${detail}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} No preemption victims found for incoming pod.`;
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
        recordEvent(this.store, this.env, pod, "Warning", "FailedScheduling", message, "default-scheduler");
      }
      return;
    }
    const nodeName = best.node.metadata.name!;
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
      this.env,
      pod,
      "Normal",
      "Scheduled",
      `Successfully assigned ${ns}/${name} to ${nodeName}`,
      "default-scheduler",
    );
  }
}
