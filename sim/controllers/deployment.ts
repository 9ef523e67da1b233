/**
 * The deployment controller: keeps `spec.replicas` pods of the current pod
 * template, rolls pods on a template change within maxSurge/maxUnavailable, and
 * maintains status. As in Kubernetes, each template has a ReplicaSet
 * (`<deployment>-<pod-template-hash>`, with a revision annotation) owned by the
 * Deployment and owning the pods (named from `generateName`, `<replicaset>-xxxxx`);
 * here one controller does the work of both, and a ReplicaSet's `spec.replicas`
 * follows the pods it keeps. Old ReplicaSets beyond `revisionHistoryLimit` are
 * removed once they have no pods.
 *
 * Like the ReplicaSet controller, a big change is made in steps: pods are created
 * in slow-start batches (1, 2, 4, ... up to `burstReplicas` per step) and deleted
 * up to `burstReplicas` per step, with `stepMs` of cluster time between steps, so
 * scaling to thousands of replicas never holds the cluster (or the write that
 * asked for it) in one long loop. Within a step, pods are made `subBatch` at a
 * time, each a turn of the controller queue (the other controllers, and on the
 * live clock the event loop, get their turns in between). A failed create ends
 * the step and is retried with back-off, starting again from a batch of 1.
 */
import { rfc3339 } from "../clock.ts";
import type { SimClock } from "../clock.ts";
import { Kinds, type KObj } from "../kinds.ts";
import { ApiError } from "../apierror.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import { type Controller, nsName, retryDelayMs, shortHash, splitKey, type WorkQueue } from "./hub.ts";
import { recordEvent } from "./events.ts";

/** The ReplicaSet controller's burstReplicas: pods created or deleted in one step at most. */
export const burstReplicas = 500;
/** Cluster time between two steps of one Deployment's scale (the next sync). */
export const stepMs = 10;
/** Pods created or deleted in one turn of the controller, within a step. */
const subBatch = 100;

/** Where a Deployment's scale is: the slow-start batch, what is left of the step, whether one is scheduled. */
interface Pace {
  batch: number;
  /** Creations and deletions left in the current step (unset between steps). */
  createLeft?: number;
  deleteLeft?: number;
  /** A step is scheduled (this token's): until then reconciles only keep status. */
  waiting?: number;
  failures: number;
}

/** How much one turn may still do, and what it left. */
interface Budget {
  create: number;
  delete: number;
  created: number;
  deleted: number;
  /** Creations (deletions) were left for later. */
  moreCreate: boolean;
  moreDelete: boolean;
  failed: boolean;
}

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

const templateHash = (d: KObj) => shortHash(JSON.stringify(d.spec.template), 10);

/** The name of an object's owner of the given kind. */
const ownerOfKind = (o: KObj, kind: string): string | undefined =>
  (o.metadata.ownerReferences ?? []).find((r: { kind: string }) => r.kind === kind)?.name;

const revisionOf = (rs: KObj) => Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0);

const byName = (a: KObj, b: KObj) =>
  a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0;

export class DeploymentController implements Controller {
  readonly name = "deployment";
  private queue?: WorkQueue;
  private readonly pacing = new Map<string, Pace>();
  private steps = 0;
  constructor(private readonly store: Store, private readonly clock: SimClock) {}

  attach(queue: WorkQueue) {
    this.queue = queue;
  }

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

  /** The Deployment's ReplicaSets, oldest revision first (from the store's owner index). */
  private replicaSets(d: KObj): KObj[] {
    return this.store.dependentsOfKind(d.metadata.uid, Kinds.ReplicaSet)
      .sort((a, b) => revisionOf(a) - revisionOf(b));
  }

  /** A ReplicaSet's pods that are not terminating: terminating ones no longer count, as in Kubernetes. */
  private podsOf(rs: KObj): KObj[] {
    return this.store.dependentsOfKind(rs.metadata.uid, Kinds.Pod).filter((p) =>
      !p.metadata.deletionTimestamp
    );
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
      this.clock,
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
    if (!d || d.metadata.deletionTimestamp) {
      this.pacing.delete(key);
      return;
    }
    const hash = templateHash(d);
    const pace = this.pacing.get(key) ?? { batch: 1, failures: 0 };
    if (pace.waiting === undefined) {
      pace.createLeft ??= pace.batch;
      pace.deleteLeft ??= burstReplicas;
      const budget: Budget = {
        create: Math.min(subBatch, pace.createLeft),
        delete: Math.min(subBatch, pace.deleteLeft),
        created: 0,
        deleted: 0,
        moreCreate: false,
        moreDelete: false,
        failed: false,
      };
      this.sync(d, hash, budget);
      this.pace(key, pace, budget);
    }
    this.syncReplicaSets(d, hash);
    this.updateStatus(ns, name);
  }

  /**
   * After a turn: the step goes on now while it has room and work is left; then the next step is
   * scheduled while work is left (bigger when all went well, later and from 1 after a failure).
   */
  private pace(key: string, pace: Pace, budget: Budget) {
    pace.createLeft! -= budget.created;
    pace.deleteLeft! -= budget.deleted;
    if (!budget.moreCreate && !budget.moreDelete && !budget.failed) {
      this.pacing.delete(key);
      return;
    }
    this.pacing.set(key, pace);
    if (
      !budget.failed &&
      ((budget.moreCreate && pace.createLeft! > 0) || (budget.moreDelete && pace.deleteLeft! > 0))
    ) {
      this.queue?.requeueNow(key);
      return;
    }
    const token = ++this.steps;
    let delay = stepMs;
    if (budget.failed) {
      pace.failures++;
      pace.batch = 1;
      delay = retryDelayMs(pace.failures);
    } else {
      pace.failures = 0;
      pace.batch = Math.min(burstReplicas, pace.batch * 2);
    }
    pace.createLeft = pace.deleteLeft = undefined;
    pace.waiting = token;
    const due = () => {
      const p = this.pacing.get(key);
      if (p?.waiting === token) p.waiting = undefined;
    };
    if (this.queue) this.queue.requeueAfter(key, delay, due);
    else due();
  }

  /** One step towards the desired pods, within the budget. */
  private sync(d: KObj, hash: string, budget: Budget) {
    const desired: number = d.spec.replicas ?? 1;
    const sets = this.replicaSets(d);
    const rs = this.currentReplicaSet(d, hash, sets);
    const current = this.podsOf(rs);
    const old = sets.filter((s) => s.metadata.uid !== rs.metadata.uid).flatMap((s) => this.podsOf(s));
    const strategy = d.spec.strategy ?? {};

    if (strategy.type === "Recreate") {
      if (old.length > 0) this.deletePods(d, old, budget);
      else this.scaleTo(d, rs, current, desired, budget);
    } else if (old.length === 0) {
      this.scaleTo(d, rs, current, desired, budget);
    } else {
      const surge = intOrPercent(strategy.rollingUpdate?.maxSurge ?? "25%", desired, true);
      let unavailable = intOrPercent(strategy.rollingUpdate?.maxUnavailable ?? "25%", desired, false);
      if (surge === 0 && unavailable === 0) unavailable = 1;
      const minAvailable = Math.max(0, desired - unavailable);
      // Old pods that are not ready count for nothing: remove them first.
      this.deletePods(d, old.filter((p) => !isPodReady(p)), budget);
      const oldReady = old.filter(isPodReady);
      const newReady = current.filter(isPodReady).length;
      const room = desired + surge - (oldReady.length + current.length);
      const toCreate = Math.min(Math.max(0, room), Math.max(0, desired - current.length));
      this.createPods(d, rs, toCreate, budget);
      let available = oldReady.length + newReady;
      const victims: KObj[] = [];
      while (
        oldReady.length > 0 &&
        (available - 1 >= minAvailable || oldReady.length + current.length > desired + surge)
      ) {
        victims.push(oldReady.pop()!);
        available--;
      }
      this.deletePods(d, victims, budget);
      if (current.length > desired) this.scaleTo(d, rs, current, desired, budget);
    }
  }

  private scaleTo(d: KObj, rs: KObj, current: KObj[], desired: number, budget: Budget) {
    if (current.length < desired) {
      this.createPods(d, rs, desired - current.length, budget);
    } else if (current.length > desired) {
      // Like the ReplicaSet controller: unscheduled, then not ready, then newest first.
      const rank = (p: KObj) => (p.spec.nodeName ? 2 : 0) + (isPodReady(p) ? 1 : 0);
      const created = (p: KObj) => p.metadata.creationTimestamp ?? "";
      const victims = [...current].sort((a, b) =>
        rank(a) - rank(b) ||
        (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : 0) ||
        byName(b, a)
      );
      this.deletePods(d, victims.slice(0, current.length - desired), budget);
    }
  }

  /** Creates up to `count` pods of `rs`, as many as the step's budget allows; stops at the first failure. */
  private createPods(d: KObj, rs: KObj, count: number, budget: Budget) {
    if (count <= 0) return;
    const n = Math.min(count, budget.create);
    if (n < count) budget.moreCreate = true;
    for (let i = 0; i < n && !budget.failed; i++) {
      budget.create--;
      budget.created++;
      this.createPod(d, rs, budget);
    }
  }

  private deletePods(d: KObj, pods: readonly KObj[], budget: Budget) {
    if (pods.length === 0) return;
    const n = Math.min(pods.length, budget.delete);
    if (n < pods.length) budget.moreDelete = true;
    budget.delete -= n;
    budget.deleted += n;
    for (let i = 0; i < n; i++) this.deletePod(d, pods[i]);
  }

  private createPod(d: KObj, rs: KObj, budget: Budget) {
    const template = structuredClone(rs.spec.template);
    const hash = rs.metadata.labels["pod-template-hash"];
    const pod: KObj = {
      metadata: {
        ...template.metadata,
        // The API server draws the name (and draws again on a clash), as for the ReplicaSet controller.
        generateName: `${rs.metadata.name}-`,
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
    delete pod.metadata.name;
    let created: KObj;
    try {
      created = this.store.create(Kinds.Pod, d.metadata.namespace, pod);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      budget.failed = true;
      recordEvent(
        this.store,
        this.clock,
        rs,
        "Warning",
        "FailedCreate",
        `Error creating: ${e.message}`,
        "replicaset-controller",
      );
      return;
    }
    recordEvent(
      this.store,
      this.clock,
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
      this.clock,
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
    const now = rfc3339(this.clock.now());
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
