/**
 * The garbage collector, as Kubernetes' (pkg/controller/garbagecollector) decides:
 *
 * - An object whose owners (ownerReferences) are all gone, or gone and being deleted in the foreground,
 *   is deleted: in the foreground when an owner waits for it and it has dependents of its own, else
 *   with the policy its own finalizers ask for (background by default). References to owners that are
 *   gone are dropped from an object that still has a live owner.
 * - An owner deleted in the foreground (the `foregroundDeletion` finalizer) has its dependents deleted,
 *   and loses the finalizer once no dependent that blocks it (`blockOwnerDeletion`) is left; then the
 *   store removes it.
 * - An owner deleted with `orphan` has its reference removed from every dependent, then loses the
 *   finalizer.
 *
 * Dependents are found through the store's owner index, and a big family is handled in batches, one per
 * turn, so that deleting a Deployment with thousands of pods neither blocks the cluster nor costs more
 * than one pass over them. Terminating pods are the kubelet's to finish.
 */
import { ApiError } from "../apierror.ts";
import {
  type DeleteOptions,
  finalizersOf,
  foregroundFinalizer,
  isDeleting,
  orphanFinalizer,
  waitsForDependents,
} from "../deletion.ts";
import type { KindInfo, KObj } from "../kinds.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import type { Controller, WorkQueue } from "./hub.ts";

/** Dependents deleted per step (the ReplicaSet controller's burst, for a like pace). */
export const gcBatch = 500;
/** Cluster time between two steps of one owner's dependents. */
const gcStepMs = 10;
/** Dependents deleted in one turn of the controller, within a step. */
const gcSubBatch = 100;

interface OwnerRef {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly uid?: string;
  readonly blockOwnerDeletion?: boolean;
}

const refsOf = (o: KObj): OwnerRef[] =>
  Array.isArray(o.metadata?.ownerReferences) ? o.metadata.ownerReferences : [];

/** A work item: what to do (`d`eleted owner uid, `f`oreground owner, `o`rphaning owner, `a`ttempt) and to what. */
const sep = "\u0000";

export class GarbageCollector implements Controller {
  readonly name = "garbage-collector";
  private queue?: WorkQueue;
  /** Deletions left in the current step, by key. */
  private readonly stepLeft = new Map<string, number>();
  constructor(private readonly store: Store) {}

  attach(queue: WorkQueue) {
    this.queue = queue;
  }

  private objectKey(tag: string, kind: KindInfo, o: KObj): string {
    return [tag, kind.group, kind.version, kind.plural, o.metadata.namespace ?? "", o.metadata.name].join(
      sep,
    );
  }

  keysFor(e: StoreEvent): string[] {
    const o = e.object;
    const keys: string[] = [];
    if (e.type === "DELETED") {
      if (o.metadata.uid) keys.push(`d${sep}${o.metadata.uid}`);
    } else {
      if (waitsForDependents(o)) keys.push(this.objectKey("f", e.kind, o));
      if (isDeleting(o) && finalizersOf(o).includes(orphanFinalizer)) {
        keys.push(this.objectKey("o", e.kind, o));
      }
      // An object created with owners that are gone is collected (the graph's virtual owners).
      if (e.type === "ADDED" && refsOf(o).length > 0) keys.push(this.objectKey("a", e.kind, o));
    }
    // A dependent that goes, or lets go of its owners, may be the last one a foreground owner waits for.
    const refs = e.type === "DELETED" ? refsOf(o) : e.type === "MODIFIED" ? refsOf(e.old ?? o) : [];
    if (refs.length > 0 && (e.type === "DELETED" || JSON.stringify(refs) !== JSON.stringify(refsOf(o)))) {
      for (const ref of refs) {
        const owner = this.ownerOf(ref, o);
        if (owner && waitsForDependents(owner.object)) {
          keys.push(this.objectKey("f", owner.kind, owner.object));
        }
      }
    }
    return keys;
  }

  reconcile(key: string): void {
    const [tag, ...rest] = key.split(sep);
    if (tag === "d") return this.ownerGone(key, rest[0]);
    const [group, version, plural, namespace, name] = rest;
    const kind = this.store.kinds.find(group, version, plural);
    const object = kind && this.store.peek(kind, namespace || undefined, name);
    if (!kind || !object) return;
    if (tag === "a") this.attemptToDelete(kind, object);
    else if (tag === "f") this.foreground(key, kind, object);
    else if (tag === "o") this.orphan(kind, object);
  }

  /** The live owner a reference names (same uid), with its kind; undefined when it is gone. */
  private ownerOf(ref: OwnerRef, dependent: KObj): { kind: KindInfo; object: KObj } | undefined {
    const kind = this.kindOfRef(ref);
    if (!kind || !ref.name) return undefined;
    const object = this.store.peek(
      kind,
      kind.namespaced ? dependent.metadata.namespace : undefined,
      ref.name,
    );
    return object && object.metadata.uid === ref.uid ? { kind, object } : undefined;
  }

  private kindOfRef(ref: OwnerRef): KindInfo | undefined {
    const slash = (ref.apiVersion ?? "").indexOf("/");
    const group = slash >= 0 ? ref.apiVersion!.slice(0, slash) : "";
    return this.store.kinds.all().find((k) => k.group === group && k.kind === ref.kind);
  }

  /**
   * Runs `work` on up to a step's worth of `items`, and asks for another turn while some are left
   * (unless nothing in this turn could be done: those wait for the next change).
   */
  private inSteps<T>(key: string, items: T[], work: (item: T) => boolean) {
    const left = this.stepLeft.get(key) ?? gcBatch;
    const n = Math.min(left, gcSubBatch, items.length);
    let acted = 0;
    for (const item of items.slice(0, n)) if (work(item)) acted++;
    if (items.length <= n || acted === 0) this.stepLeft.delete(key);
    else if (left > n) {
      // The step goes on in the next turn.
      this.stepLeft.set(key, left - n);
      this.queue?.requeueNow(key);
    } else {
      this.stepLeft.delete(key);
      this.queue?.requeueAfter(key, gcStepMs);
    }
  }

  /** An owner is gone: each of its dependents not already going is looked at. */
  private ownerGone(key: string, uid: string) {
    const dependents = this.store.dependents(uid).filter(({ object }) => !isDeleting(object));
    this.inSteps(key, dependents, ({ kind, object }) => this.attemptToDelete(kind, object));
  }

  /** attemptToDeleteItem: deletes an object whose owners are all gone or waiting for it. */
  private attemptToDelete(kind: KindInfo, item: KObj): boolean {
    if (isDeleting(item)) return false;
    const refs = refsOf(item);
    if (refs.length === 0) return false;
    const solid: OwnerRef[] = [], dangling: OwnerRef[] = [], waiting: OwnerRef[] = [];
    for (const ref of refs) {
      const refKind = this.kindOfRef(ref);
      // An owner of a kind this server does not serve cannot be looked up: it is left alone.
      if (!refKind) return false;
      const owner = this.ownerOf(ref, item);
      if (!owner) dangling.push(ref);
      else if (waitsForDependents(owner.object)) waiting.push(ref);
      else solid.push(ref);
    }
    const ns = item.metadata.namespace, name = item.metadata.name!;
    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return false;
      const drop = new Set([...dangling, ...waiting].map((r) => r.uid));
      this.store.mutate(kind, ns, name, (o) => {
        o.metadata.ownerReferences = refsOf(o).filter((r) => !drop.has(r.uid));
      });
      return true;
    }
    let policy: DeleteOptions["propagationPolicy"];
    if (waiting.length > 0 && this.store.dependents(item.metadata.uid).length > 0) policy = "Foreground";
    else if (finalizersOf(item).includes(orphanFinalizer)) policy = "Orphan";
    else if (finalizersOf(item).includes(foregroundFinalizer)) policy = "Foreground";
    else policy = "Background";
    this.remove(kind, item, policy);
    return true;
  }

  private remove(kind: KindInfo, item: KObj, propagationPolicy: DeleteOptions["propagationPolicy"]) {
    try {
      // A bound pod is marked terminating (graceful); anything else goes at once or waits for its finalizers.
      this.store.delete(kind, item.metadata.namespace, item.metadata.name!, {
        propagationPolicy,
        preconditions: { uid: item.metadata.uid },
      });
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  /**
   * processDeletingDependentsItem: an owner deleted in the foreground has its dependents deleted, and
   * its finalizer removed once none blocks it.
   */
  private foreground(key: string, kind: KindInfo, owner: KObj) {
    if (!waitsForDependents(owner)) return;
    const uid = owner.metadata.uid;
    const dependents = this.store.dependents(uid);
    const blocking = dependents.filter(({ object }) =>
      refsOf(object).some((r) => r.uid === uid && r.blockOwnerDeletion === true)
    );
    if (blocking.length === 0) {
      this.store.mutate(kind, owner.metadata.namespace, owner.metadata.name!, (o) => {
        const rest = finalizersOf(o).filter((f) => f !== foregroundFinalizer);
        if (rest.length === 0) delete o.metadata.finalizers;
        else o.metadata.finalizers = rest;
      });
      return;
    }
    const pending = dependents.filter(({ object }) => !isDeleting(object));
    this.inSteps(key, pending, ({ kind, object }) => this.attemptToDelete(kind, object));
  }

  /** orphanDependents: every dependent lets go of the owner, then the owner loses its `orphan` finalizer. */
  private orphan(kind: KindInfo, owner: KObj) {
    if (!isDeleting(owner) || !finalizersOf(owner).includes(orphanFinalizer)) return;
    const uid = owner.metadata.uid;
    for (const { kind: k, object } of this.store.dependents(uid)) {
      this.store.mutate(k, object.metadata.namespace, object.metadata.name!, (o) => {
        o.metadata.ownerReferences = refsOf(o).filter((r) => r.uid !== uid);
        if (o.metadata.ownerReferences.length === 0) delete o.metadata.ownerReferences;
      });
    }
    this.store.mutate(kind, owner.metadata.namespace, owner.metadata.name!, (o) => {
      const rest = finalizersOf(o).filter((f) => f !== orphanFinalizer);
      if (rest.length === 0) delete o.metadata.finalizers;
      else o.metadata.finalizers = rest;
    });
  }
}
