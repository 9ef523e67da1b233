/**
 * The garbage collector: once an owner is deleted, its dependents (objects whose
 * ownerReferences name its uid) are deleted too, in the background, as with
 * Kubernetes' default propagation. A pod bound to a node is deleted gracefully
 * (the kubelet stops it). Dependents are found through the store's owner index,
 * and a big family is deleted in batches, one per turn, so that deleting a
 * Deployment with thousands of pods neither blocks the cluster nor costs more
 * than one pass over them.
 */
import { ApiError } from "../apierror.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import type { Controller, WorkQueue } from "./hub.ts";

/** Dependents deleted per step (the ReplicaSet controller's burst, for a like pace). */
export const gcBatch = 500;
/** Cluster time between two steps of one owner's dependents. */
const gcStepMs = 10;
/** Dependents deleted in one turn of the controller, within a step. */
const gcSubBatch = 100;

export class GarbageCollector implements Controller {
  readonly name = "garbage-collector";
  private queue?: WorkQueue;
  /** Deletions left in the current step, by owner uid. */
  private readonly stepLeft = new Map<string, number>();
  constructor(private readonly store: Store) {}

  attach(queue: WorkQueue) {
    this.queue = queue;
  }

  /** Keys are the uids of deleted objects (owners). */
  keysFor(e: StoreEvent): string[] {
    return e.type === "DELETED" && e.object.metadata.uid ? [e.object.metadata.uid] : [];
  }

  reconcile(uid: string): void {
    // Terminating pods are the kubelet's to finish.
    const dependents = this.store.dependents(uid).filter(({ object }) => !object.metadata.deletionTimestamp);
    const left = this.stepLeft.get(uid) ?? gcBatch;
    const n = Math.min(left, gcSubBatch, dependents.length);
    for (const { kind, object } of dependents.slice(0, n)) {
      try {
        // A bound pod is marked terminating (graceful); anything else goes at once.
        this.store.delete(kind, object.metadata.namespace, object.metadata.name!);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    if (dependents.length <= n) this.stepLeft.delete(uid);
    else if (left > n) {
      // The step goes on in the next turn.
      this.stepLeft.set(uid, left - n);
      this.queue?.requeueNow(uid);
    } else {
      this.stepLeft.delete(uid);
      this.queue?.requeueAfter(uid, gcStepMs);
    }
  }
}
