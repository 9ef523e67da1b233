/**
 * The namespace controller (kube-controller-manager's namespace lifecycle): a Namespace being
 * deleted (Terminating) has its contents deleted, every namespaced kind of it including custom
 * resources, each as a DELETE would (pods gracefully, finalizers respected, dependents in the
 * background); once nothing is left in it, the `kubernetes` finalizer is removed from its
 * spec.finalizers (its /finalize) and the Namespace goes (sim/deletion.ts planNamespaceDeletion).
 */
import { ApiError } from "../apierror.ts";
import { isDeleting, namespaceFinalizers } from "../deletion.ts";
import { type KindInfo, Kinds } from "../kinds.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import type { Controller } from "./hub.ts";

const finalizer = "kubernetes";

/** Owners before what they own, so that controllers do not make new objects in the meantime. */
const order = (k: KindInfo) =>
  k === Kinds.Deployment ? 0 : k === Kinds.ReplicaSet ? 1 : k === Kinds.Pod ? 3 : 2;

export class NamespaceController implements Controller {
  readonly name = "namespace";
  constructor(private readonly store: Store) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Namespace) {
      return e.type !== "DELETED" && isDeleting(e.object) ? [e.object.metadata.name!] : [];
    }
    // Something left a namespace: look again if that namespace is terminating.
    const ns = e.object.metadata?.namespace;
    if (e.type !== "DELETED" || !ns) return [];
    const owner = this.store.peek(Kinds.Namespace, undefined, ns);
    return owner && isDeleting(owner) ? [ns] : [];
  }

  reconcile(name: string): void {
    const ns = this.store.peek(Kinds.Namespace, undefined, name);
    if (!ns || !isDeleting(ns)) return;
    let left = 0;
    const kinds = this.store.kinds.all().filter((k) => k.namespaced).sort((a, b) => order(a) - order(b));
    for (const kind of kinds) {
      for (const o of [...this.store.scan(kind, name)]) {
        left++;
        if (isDeleting(o)) continue; // its finalizers or its grace period: it goes by itself
        try {
          this.store.delete(kind, name, o.metadata.name!, { propagationPolicy: "Background" });
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
    }
    if (left > 0 && kinds.some((k) => !this.empty(k, name))) return; // called again as they go
    if (namespaceFinalizers(ns).includes(finalizer)) {
      this.store.mutate(Kinds.Namespace, undefined, name, (o) => {
        o.spec.finalizers = namespaceFinalizers(o).filter((f) => f !== finalizer);
      });
    }
    const now = this.store.peek(Kinds.Namespace, undefined, name);
    if (now && namespaceFinalizers(now).length === 0) this.store.delete(Kinds.Namespace, undefined, name);
  }

  private empty(kind: KindInfo, ns: string): boolean {
    for (const _ of this.store.scan(kind, ns)) return false;
    return true;
  }
}
