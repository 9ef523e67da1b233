/**
 * The deployment controller: keeps `spec.replicas` pods of the current pod
 * template, rolls pods on a template change within maxSurge/maxUnavailable, and
 * maintains status. As in Kubernetes, each template has a ReplicaSet
 * (`<deployment>-<pod-template-hash>`, with a revision annotation) owned by the
 * Deployment and owning the pods; here one controller does the work of both,
 * and a ReplicaSet's `spec.replicas` follows the pods it keeps. Old ReplicaSets
 * beyond `revisionHistoryLimit` are removed once they have no pods.
 */
import { rfc3339 } from "../env.ts";
import type { SimEnv } from "../env.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store, StoreEvent } from "../store.ts";
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

/** The name of an object's owner of the given kind. */
const ownerOfKind = (o: KObj, kind: string): string | undefined =>
  (o.metadata.ownerReferences ?? []).find((r: { kind: string }) => r.kind === kind)?.name;

const revisionOf = (rs: KObj) => Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0);

export class DeploymentController implements Controller {
  readonly name = "deployment";
  constructor(private readonly store: Store, private readonly env: SimEnv) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Deployment) return [nsName(e.object)];
    if (e.kind === Kinds.ReplicaSet) {
      const owner = ownerOfKind(e.object, "Deployment");
      return owner ? [`${e.object.metadata.namespace}/${owner}`] : [];
    }
    if (e.kind === Kinds.Pod) {
      const rs = ownerOfKind(e.object, "ReplicaSet");
      const set = rs ? this.store.peek(Kinds.ReplicaSet, e.object.metadata.namespace, rs) : undefined;
      const owner = set ? ownerOfKind(set, "Deployment") : undefined;
      return owner ? [`${e.object.metadata.namespace}/${owner}`] : [];
    }
    return [];
  }

  /** The Deployment's ReplicaSets, oldest revision first. */
  private replicaSets(d: KObj): KObj[] {
    const sets: KObj[] = [];
    for (const rs of this.store.scan(Kinds.ReplicaSet, d.metadata.namespace)) {
      if ((rs.metadata.ownerReferences ?? []).some((r: { uid: string }) => r.uid === d.metadata.uid)) {
        sets.push(rs);
      }
    }
    return sets.sort((a, b) => revisionOf(a) - revisionOf(b));
  }

  /** A ReplicaSet's pods that are not terminating: terminating ones no longer count, as in Kubernetes. */
  private podsOf(rs: KObj): KObj[] {
    const pods: KObj[] = [];
    for (const p of this.store.scan(Kinds.Pod, rs.metadata.namespace)) {
      if (p.metadata.deletionTimestamp) continue;
      if ((p.metadata.ownerReferences ?? []).some((r: { uid: string }) => r.uid === rs.metadata.uid)) {
        pods.push(p);
      }
    }
    return pods;
  }

  private ownedPods(d: KObj): KObj[] {
    return this.replicaSets(d).flatMap((rs) => this.podsOf(rs));
  }

  /** The ReplicaSet of the Deployment's current template, created (with the next revision) when missing. */
  private currentReplicaSet(d: KObj, hash: string, sets: KObj[]): KObj {
    const found = sets.find((rs) => rs.metadata.labels?.["pod-template-hash"] === hash);
    if (found) return found;
    const template = structuredClone(d.spec.template);
    template.metadata = {
      ...template.metadata,
      labels: { ...template.metadata?.labels, "pod-template-hash": hash },
    };
    const revision = Math.max(0, ...sets.map(revisionOf)) + 1;
    const rs = this.store.create(Kinds.ReplicaSet, d.metadata.namespace, {
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        labels: { ...d.spec.template.metadata?.labels, "pod-template-hash": hash },
        annotations: {
          "deployment.kubernetes.io/revision": String(revision),
          "deployment.kubernetes.io/desired-replicas": String(d.spec.replicas ?? 1),
        },
        ownerReferences: [{
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: d.metadata.name,
          uid: d.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        }],
      },
      spec: {
        replicas: 0,
        selector: {
          ...d.spec.selector,
          matchLabels: { ...d.spec.selector?.matchLabels, "pod-template-hash": hash },
        },
        template,
      },
    });
    recordEvent(
      this.store,
      this.env,
      d,
      "Normal",
      "ScalingReplicaSet",
      `Created new replica set "${rs.metadata.name}"`,
      "deployment-controller",
    );
    return rs;
  }

  /** Each ReplicaSet's replicas and status follow its pods; old empty ones beyond the history limit go. */
  private syncReplicaSets(d: KObj, hash: string) {
    const sets = this.replicaSets(d);
    for (const rs of sets) {
      const pods = this.podsOf(rs);
      const ready = pods.filter(isPodReady).length;
      const status: Record<string, unknown> = {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: rs.metadata.generation ?? 1,
      };
      for (const k of ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"]) {
        if (status[k] === 0) delete status[k];
      }
      if (rs.spec.replicas !== pods.length || JSON.stringify(rs.status ?? {}) !== JSON.stringify(status)) {
        this.store.mutate(Kinds.ReplicaSet, rs.metadata.namespace, rs.metadata.name!, (o) => {
          o.spec.replicas = pods.length;
          o.status = status;
        });
      }
    }
    const history = d.spec.revisionHistoryLimit ?? 10;
    const old = sets.filter((rs) =>
      rs.metadata.labels?.["pod-template-hash"] !== hash && this.podsOf(rs).length === 0
    );
    for (const rs of old.slice(0, Math.max(0, old.length - history))) {
      this.store.delete(Kinds.ReplicaSet, rs.metadata.namespace, rs.metadata.name!);
    }
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const d = this.store.peek(Kinds.Deployment, ns, name);
    if (!d || d.metadata.deletionTimestamp) return;
    const desired: number = d.spec.replicas ?? 1;
    const hash = templateHash(d);
    const sets = this.replicaSets(d);
    const rs = this.currentReplicaSet(d, hash, sets);
    const current = this.podsOf(rs);
    const old = sets.filter((s) => s.metadata.uid !== rs.metadata.uid).flatMap((s) => this.podsOf(s));
    const strategy = d.spec.strategy ?? {};

    if (strategy.type === "Recreate") {
      if (old.length > 0) old.forEach((p) => this.deletePod(d, p));
      else this.scaleTo(d, rs, current, desired);
    } else if (old.length === 0) {
      this.scaleTo(d, rs, current, desired);
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
      for (let i = 0; i < toCreate; i++) this.createPod(d, rs);
      let available = oldReady.length + newReady;
      while (
        oldReady.length > 0 &&
        (available - 1 >= minAvailable || oldReady.length + current.length > desired + surge)
      ) {
        const victim = oldReady.pop()!;
        this.deletePod(d, victim);
        available--;
      }
      if (current.length > desired) this.scaleTo(d, rs, current, desired);
    }
    this.syncReplicaSets(d, hash);
    this.updateStatus(ns, name);
  }

  private scaleTo(d: KObj, rs: KObj, current: KObj[], desired: number) {
    if (current.length < desired) {
      for (let i = current.length; i < desired; i++) this.createPod(d, rs);
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

  private createPod(d: KObj, rs: KObj) {
    const template = structuredClone(rs.spec.template);
    const hash = rs.metadata.labels["pod-template-hash"];
    const suffix = this.env.uid().replaceAll("-", "").slice(0, 5);
    const pod: KObj = {
      metadata: {
        ...template.metadata,
        name: `${d.metadata.name}-${hash}-${suffix}`,
        labels: { ...template.metadata?.labels, "pod-template-hash": hash },
        ownerReferences: [{
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: rs.metadata.name,
          uid: rs.metadata.uid,
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
      rs,
      "Normal",
      "SuccessfulCreate",
      `Created pod: ${created.metadata.name}`,
      "replicaset-controller",
    );
  }

  private deletePod(d: KObj, p: KObj) {
    if (!this.store.peek(Kinds.Pod, p.metadata.namespace, p.metadata.name!)) return;
    this.store.delete(Kinds.Pod, p.metadata.namespace, p.metadata.name!);
    const rs = ownerOfKind(p, "ReplicaSet");
    const set = rs ? this.store.peek(Kinds.ReplicaSet, p.metadata.namespace, rs) : undefined;
    recordEvent(
      this.store,
      this.env,
      set ?? d,
      "Normal",
      "SuccessfulDelete",
      `Deleted pod: ${p.metadata.name}`,
      "replicaset-controller",
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
