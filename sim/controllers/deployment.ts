/**
 * The deployment controller: keeps `spec.replicas` pods of the current pod
 * template, rolls pods on a template change within maxSurge/maxUnavailable, and
 * maintains status. Pods are owned by the Deployment directly (the simulator has
 * no ReplicaSets) and carry `pod-template-hash` like real ones.
 */
import { rfc3339 } from "../env.ts";
import type { SimEnv } from "../env.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store, StoreEvent } from "../store.ts";
import { fromSpec, matches } from "../../src/kube/selectors.ts";
import { type Controller, nsName, shortHash, splitKey } from "./hub.ts";
import { recordEvent } from "./events.ts";

/** The pod's Ready condition is True (terminating or not). */
export const hasReadyCondition = (p: KObj): boolean =>
  (p.status?.conditions ?? []).some((c: { type: string; status: string }) =>
    c.type === "Ready" && c.status === "True"
  );

/** Ready and not terminating: can take new requests. */
export const isPodReady = (p: KObj): boolean => !p.metadata.deletionTimestamp && hasReadyCondition(p);

const intOrPercent = (v: unknown, total: number, roundUp: boolean): number => {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.endsWith("%")) {
    const x = (Number(v.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return Number(v) || 0;
};

export const templateHash = (d: KObj) => shortHash(JSON.stringify(d.spec.template), 10);

export class DeploymentController implements Controller {
  readonly name = "deployment";
  constructor(private readonly store: Store, private readonly env: SimEnv) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Deployment) return [nsName(e.object)];
    if (e.kind === Kinds.Pod) {
      const owner = (e.object.metadata.ownerReferences ?? []).find((r: { kind: string }) =>
        r.kind === "Deployment"
      );
      return owner ? [`${e.object.metadata.namespace}/${owner.name}`] : [];
    }
    return [];
  }

  private ownedPods(d: KObj): KObj[] {
    const selector = fromSpec(d.spec.selector);
    const pods: KObj[] = [];
    for (const p of this.store.scan(Kinds.Pod, d.metadata.namespace)) {
      // Terminating pods no longer count: their replacements start at once, as in the ReplicaSet controller.
      if (p.metadata.deletionTimestamp) continue;
      if (
        (p.metadata.ownerReferences ?? []).some((r: { uid: string }) => r.uid === d.metadata.uid) &&
        matches(selector, p.metadata.labels)
      ) pods.push(p);
    }
    return pods;
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const d = this.store.peek(Kinds.Deployment, ns, name);
    if (!d || d.metadata.deletionTimestamp) return;
    const desired: number = d.spec.replicas ?? 1;
    const hash = templateHash(d);
    const pods = this.ownedPods(d);
    const current = pods.filter((p) => p.metadata.labels?.["pod-template-hash"] === hash);
    const old = pods.filter((p) => p.metadata.labels?.["pod-template-hash"] !== hash);
    const strategy = d.spec.strategy ?? {};

    if (strategy.type === "Recreate") {
      if (old.length > 0) old.forEach((p) => this.deletePod(d, p));
      else this.scaleTo(d, current, desired, hash);
    } else if (old.length === 0) {
      this.scaleTo(d, current, desired, hash);
    } else {
      const surge = intOrPercent(strategy.rollingUpdate?.maxSurge ?? "25%", desired, true);
      let unavailable = intOrPercent(strategy.rollingUpdate?.maxUnavailable ?? "25%", desired, false);
      if (surge === 0 && unavailable === 0) unavailable = 1;
      const minAvailable = Math.max(0, desired - unavailable);
      // Old pods that are not ready count for nothing: remove them first.
      for (const p of old.filter((p) => !isPodReady(p))) this.deletePod(d, p);
      const oldReady = old.filter(isPodReady);
      const newReady = current.filter(isPodReady).length;
      const room = desired + surge - (oldReady.length + current.length);
      const toCreate = Math.min(Math.max(0, room), Math.max(0, desired - current.length));
      for (let i = 0; i < toCreate; i++) this.createPod(d, hash);
      let available = oldReady.length + newReady;
      while (
        oldReady.length > 0 &&
        (available - 1 >= minAvailable || oldReady.length + current.length > desired + surge)
      ) {
        const victim = oldReady.pop()!;
        this.deletePod(d, victim);
        available--;
      }
      if (current.length > desired) this.scaleTo(d, current, desired, hash);
    }
    this.updateStatus(ns, name);
  }

  private scaleTo(d: KObj, current: KObj[], desired: number, hash: string) {
    if (current.length < desired) {
      for (let i = current.length; i < desired; i++) this.createPod(d, hash);
    } else if (current.length > desired) {
      // Like the ReplicaSet controller: unscheduled, then not ready, then newest first.
      const rank = (p: KObj) => (p.spec.nodeName ? 2 : 0) + (isPodReady(p) ? 1 : 0);
      const victims = [...current].sort((a, b) =>
        rank(a) - rank(b) ||
        (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? "") ||
        b.metadata.name!.localeCompare(a.metadata.name!)
      );
      victims.slice(0, current.length - desired).forEach((p) => this.deletePod(d, p));
    }
  }

  private createPod(d: KObj, hash: string) {
    const template = structuredClone(d.spec.template);
    const suffix = this.env.uid().replaceAll("-", "").slice(0, 5);
    const pod: KObj = {
      metadata: {
        ...template.metadata,
        name: `${d.metadata.name}-${hash}-${suffix}`,
        labels: { ...template.metadata?.labels, "pod-template-hash": hash },
        ownerReferences: [{
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: d.metadata.name,
          uid: d.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        }],
      },
      spec: template.spec,
    };
    delete pod.metadata.namespace;
    const created = this.store.create(Kinds.Pod, d.metadata.namespace, pod);
    recordEvent(
      this.store,
      this.env,
      d,
      "Normal",
      "SuccessfulCreate",
      `Created pod: ${created.metadata.name}`,
      "deployment-controller",
    );
  }

  private deletePod(d: KObj, p: KObj) {
    if (!this.store.peek(Kinds.Pod, p.metadata.namespace, p.metadata.name!)) return;
    this.store.delete(Kinds.Pod, p.metadata.namespace, p.metadata.name!);
    recordEvent(
      this.store,
      this.env,
      d,
      "Normal",
      "SuccessfulDelete",
      `Deleted pod: ${p.metadata.name}`,
      "deployment-controller",
    );
  }

  private updateStatus(ns: string, name: string) {
    const d = this.store.peek(Kinds.Deployment, ns, name);
    if (!d) return;
    const hash = templateHash(d);
    const pods = this.ownedPods(d);
    const desired: number = d.spec.replicas ?? 1;
    const ready = pods.filter(isPodReady).length;
    const updated = pods.filter((p) => p.metadata.labels?.["pod-template-hash"] === hash).length;
    const updatedReady =
      pods.filter((p) => p.metadata.labels?.["pod-template-hash"] === hash && isPodReady(p)).length;
    const strategy = d.spec.strategy ?? {};
    const maxUnavailable = strategy.type === "Recreate"
      ? 0
      : intOrPercent(strategy.rollingUpdate?.maxUnavailable ?? "25%", desired, false);
    const now = rfc3339(this.env.now());
    const complete = updated === desired && updatedReady === desired && pods.length === desired;
    const availableOk = ready >= desired - maxUnavailable;
    const previous: { type: string; status: string; lastTransitionTime?: string }[] = d.status?.conditions ??
      [];
    const condition = (type: string, status: string, reason: string, message: string) => {
      const before = previous.find((c) => c.type === type);
      return {
        type,
        status,
        lastUpdateTime: before?.status === status && (before as { reason?: string }).reason === reason
          ? (before as { lastUpdateTime?: string }).lastUpdateTime
          : now,
        lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
        reason,
        message,
      };
    };
    const status: Record<string, unknown> = {
      observedGeneration: d.metadata.generation,
      replicas: pods.length,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: Math.max(0, pods.length - ready, desired - ready),
      conditions: [
        availableOk
          ? condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
          : condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
          ),
        complete
          ? condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            `ReplicaSet "${name}-${hash}" has successfully progressed.`,
          )
          : condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            `ReplicaSet "${name}-${hash}" is progressing.`,
          ),
      ],
    };
    // Kubernetes omits zero counts.
    for (
      const k of ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"]
    ) {
      if (status[k] === 0) delete status[k];
    }
    if (JSON.stringify(d.status) !== JSON.stringify(status)) {
      this.store.mutate(Kinds.Deployment, ns, name, (o) => {
        o.status = status;
      });
    }
  }
}
