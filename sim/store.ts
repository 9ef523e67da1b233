/**
 * The simulator's object store: what etcd plus the API server's registry do for
 * the kinds we hold. One global resourceVersion, optimistic concurrency, label
 * selectors, generated names, an event history for watches (410 Expired once
 * compacted), an index of dependents by owner uid (the garbage collector in
 * sim/controllers/gc.ts deletes them), and synchronous change notification: every
 * change reaches every listener, in resourceVersion order, before the write that
 * caused it returns, and a listener that throws affects neither the write nor the
 * other listeners.
 */
import { rfc3339, seededRandom } from "./clock.ts";
import {
  applyDefaults,
  type DefaultingContext,
  type KindInfo,
  kindKey,
  KindRegistry,
  Kinds,
  type KObj,
  qualifiedName,
  validate,
} from "./kinds.ts";
import { matches, type Selector } from "../src/domain/selectors.ts";
import { nextGeneration } from "./generation.ts";
import { ApiError, conflict, invalid, notFound, resourceDetails } from "./apierror.ts";
import {
  type DeleteOptions,
  type DeleteResult,
  finalizedByUpdate,
  newFinalizerErrors,
  planDeletion,
  planNamespaceDeletion,
} from "./deletion.ts";
import { Delivery } from "./delivery.ts";
import { checkInt32 } from "./decode.ts";
import { generatedName, generateNameAttempts, randomNameSuffix } from "./names.ts";
import { type EventType, type StoreEvent, type WatchFilter, WatchHistory } from "./watch.ts";
import { StoreIndexes } from "./storeindex.ts";

export interface StoreOptions {
  readonly now: () => number;
  readonly uid: () => string;
  /** How many events are kept for watches that resume from a resourceVersion. */
  readonly historySize?: number;
  /** The random suffix of a name made from `metadata.generateName` (default: `randomNameSuffix`, seeded). */
  readonly nameSuffix?: () => string;
  /** Told about a listener or settle hook that threw (default: a line on stderr). */
  readonly onListenerError?: (error: unknown) => void;
}

const clone = <T>(o: T): T => structuredClone(o);
const objKey = (ns: string | undefined, name: string) => `${ns ?? ""}/${name}`;
const ownerUids = (o: KObj): string[] =>
  (o.metadata?.ownerReferences ?? []).map((r: { uid?: string }) => r.uid).filter((u: unknown) =>
    typeof u === "string"
  );

export class Store {
  /** The cluster's clock (ms since the epoch). */
  readonly now: () => number;
  /** The kinds served: built-ins and those of established CRDs (kept by sim/crds.ts). */
  readonly kinds = new KindRegistry();
  private readonly tables = new Map<string, Map<string, KObj>>();
  private readonly history: WatchHistory;
  private readonly delivery: Delivery;
  /** Dependents by owner uid: ownerReferences[].uid -> "kind key NUL object key" -> [kind, object key]. */
  private readonly dependentIndex = new Map<string, Map<string, [KindInfo, string]>>();
  /** Objects by label and Services by selector (sim/storeindex.ts). */
  private readonly indexes = new StoreIndexes();
  private revision = 0;
  private clusterIPs = 0;
  private readonly defaulting: DefaultingContext;
  private readonly nameSuffix: () => string;

  constructor(private readonly opts: StoreOptions) {
    this.now = opts.now;
    const random = seededRandom(1);
    this.nameSuffix = opts.nameSuffix ?? (() => randomNameSuffix(random));
    this.delivery = new Delivery(
      opts.onListenerError ??
        ((e) => console.error(`sim: a store listener failed: ${e instanceof Error ? e.stack : String(e)}`)),
    );
    this.history = new WatchHistory(opts.historySize ?? 50_000);
    this.defaulting = {
      allocateClusterIP: () => {
        const n = ++this.clusterIPs;
        return `10.96.${(n >> 8) & 255}.${n & 255}`;
      },
    };
  }

  /** How many events the watch history keeps. */
  get historyLength(): number {
    return this.history.length;
  }

  get resourceVersion(): number {
    return this.revision;
  }

  private table(kind: KindInfo): Map<string, KObj> {
    const key = kindKey(kind);
    let t = this.tables.get(key);
    if (!t) this.tables.set(key, t = new Map());
    return t;
  }

  private notFound(kind: KindInfo, name: string): ApiError {
    return notFound(kind, name);
  }

  private emit(type: EventType, kind: KindInfo, object: KObj, old?: KObj) {
    const event: StoreEvent = { rv: this.revision, type, kind, object, old };
    this.history.record(event);
    this.delivery.deliver(event);
  }

  /**
   * Runs `f` (several writes that happen at one instant, such as timers falling due together) with
   * the settle hooks held until it ends: listeners see each change as it is made, and the
   * controllers react once to all of them.
   */
  batch(f: () => void): void {
    this.delivery.batch(f);
  }

  private indexDependent(kind: KindInfo, obj: KObj, uids: readonly string[], add: boolean) {
    const key = objKey(obj.metadata.namespace, obj.metadata.name!);
    const id = `${kindKey(kind)}\u0000${key}`;
    for (const uid of uids) {
      let set = this.dependentIndex.get(uid);
      if (add) {
        if (!set) this.dependentIndex.set(uid, set = new Map());
        set.set(id, [kind, key]);
      } else if (set) {
        set.delete(id);
        if (set.size === 0) this.dependentIndex.delete(uid);
      }
    }
  }

  /** The objects whose ownerReferences name `uid`, with their kinds (read-only views). */
  dependents(uid: string): { kind: KindInfo; object: KObj }[] {
    const out: { kind: KindInfo; object: KObj }[] = [];
    for (const [kind, key] of this.dependentIndex.get(uid)?.values() ?? []) {
      const object = this.table(kind).get(key);
      if (object) out.push({ kind, object });
    }
    return out;
  }

  /** The objects of `kind` whose ownerReferences name `uid` (read-only views). */
  dependentsOfKind(uid: string, kind: KindInfo): KObj[] {
    const out: KObj[] = [];
    const table = this.table(kind);
    for (const [k, key] of this.dependentIndex.get(uid)?.values() ?? []) {
      if (k !== kind) continue;
      const object = table.get(key);
      if (object) out.push(object);
    }
    return out;
  }

  /** Drops the whole watch history, so every resume from an older resourceVersion gets 410. */
  compact(): void {
    this.history.compact(this.revision);
  }

  /** Read-only view of a stored object (do not mutate). */
  peek(kind: KindInfo, namespace: string | undefined, name: string): KObj | undefined {
    return this.table(kind).get(objKey(kind.namespaced ? namespace : undefined, name));
  }

  /** Read-only view of all objects of a kind, optionally in one namespace. */
  *scan(kind: KindInfo, namespace?: string): Iterable<KObj> {
    for (const o of this.table(kind).values()) {
      if (!namespace || o.metadata.namespace === namespace) yield o;
    }
  }

  get(kind: KindInfo, namespace: string | undefined, name: string): KObj {
    const o = this.peek(kind, namespace, name);
    if (!o) throw this.notFound(kind, name);
    return clone(o);
  }

  /** Read-only views of the objects that match, unordered; from the label index when it narrows them. */
  select(kind: KindInfo, namespace?: string, selector: Selector = [], fieldMatch?: (o: KObj) => boolean) {
    const found = this.indexes.lookup(kind, this.table(kind), selector) ?? this.scan(kind, namespace);
    return [...found].filter((o) =>
      (!namespace || o.metadata.namespace === namespace) && matches(selector, o.metadata.labels) &&
      (!fieldMatch || fieldMatch(o))
    );
  }

  /** Read-only views of the Services in `namespace` whose `spec.selector` selects `labels` (indexed). */
  selecting(kind: KindInfo, namespace: string | undefined, labels: Record<string, string> | undefined) {
    return this.indexes.selecting(kind, this.table(kind), namespace, labels);
  }

  list(kind: KindInfo, namespace?: string, selector: Selector = [], fieldMatch?: (o: KObj) => boolean) {
    // In key order, as etcd lists them (names are lower-case DNS names: the same order as before).
    const key = (o: KObj) => `${o.metadata.namespace ?? ""}\u0000${o.metadata.name}`;
    const items = this.select(kind, namespace, selector, fieldMatch).map((o) => [key(o), o] as const)
      .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, o]) => clone(o));
    return { items, resourceVersion: String(this.revision) };
  }

  create(kind: KindInfo, namespace: string | undefined, input: KObj, opts: { dryRun?: boolean } = {}): KObj {
    const obj = clone(input);
    obj.metadata ??= {};
    if (kind.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== namespace) {
        throw ApiError.of(
          400,
          "BadRequest",
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      obj.metadata.namespace = namespace;
      if (!namespace || !this.peek(Kinds.Namespace, undefined, namespace)) {
        throw notFound(Kinds.Namespace, namespace ?? "");
      }
      const ns = this.peek(Kinds.Namespace, undefined, namespace)!;
      if (ns.metadata.deletionTimestamp) {
        throw ApiError.of(
          403,
          "Forbidden",
          `${
            qualifiedName(kind)
          } "${obj.metadata.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        );
      }
    } else delete obj.metadata.namespace;
    if (obj.metadata.resourceVersion) {
      throw ApiError.of(500, "InternalError", "resourceVersion should not be set on objects to be created");
    }
    checkInt32(kind, obj);
    obj.apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
    obj.kind = kind.kind;
    applyDefaults(kind, obj, this.defaulting);
    // A generated name that is taken is drawn again, as the API server does (RetryGenerateName).
    const generate = !obj.metadata.name && typeof obj.metadata.generateName === "string" &&
      obj.metadata.generateName !== "";
    let key = "";
    for (let attempt = 1;; attempt++) {
      if (generate) {
        obj.metadata.name = generatedName(obj.metadata.generateName, this.nameSuffix());
      }
      if (attempt === 1 || generate) {
        const errors = validate(kind, obj);
        if (errors.length > 0) throw this.invalid(kind, obj.metadata.name ?? "", errors);
      }
      key = objKey(obj.metadata.namespace, obj.metadata.name!);
      if (!this.table(kind).has(key)) break;
      if (!generate) {
        throw ApiError.of(
          409,
          "AlreadyExists",
          `${qualifiedName(kind)} "${obj.metadata.name}" already exists`,
        ).withDetails(resourceDetails(kind, obj.metadata.name!));
      }
      if (attempt >= generateNameAttempts) {
        // What CheckGeneratedNameError answers when every generated name was taken: try again later.
        throw ApiError.of(
          500,
          "ServerTimeout",
          `The POST operation against ${
            qualifiedName(kind)
          } could not be completed at this time, please try again.`,
          0,
        );
      }
    }
    obj.metadata.uid = this.opts.uid();
    obj.metadata.creationTimestamp = rfc3339(this.opts.now());
    // Kinds with a generation start at 1; the others keep what the client sent (rest.BeforeCreate).
    if (kind.generation) obj.metadata.generation = 1;
    // A dry run answers the object as it would be stored, without a resourceVersion.
    if (opts.dryRun) return obj;
    obj.metadata.resourceVersion = String(++this.revision);
    this.table(kind).set(key, obj);
    this.indexDependent(kind, obj, ownerUids(obj), true);
    this.indexes.update(kind, key, undefined, obj);
    this.emit("ADDED", kind, obj);
    return clone(obj);
  }

  private invalid(kind: KindInfo, name: string, errors: string[]): ApiError {
    return invalid(kind, name, errors);
  }

  /**
   * Replaces an object (PUT). A non-empty `metadata.resourceVersion` that is not
   * the current one is a 409 Conflict. For kinds with a status subresource the
   * main resource keeps the stored status, and `status` updates only it.
   */
  update(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    input: KObj,
    opts: { subresource?: "status"; dryRun?: boolean } = {},
  ): KObj {
    const current = this.peek(kind, namespace, name);
    if (!current) throw this.notFound(kind, name);
    if (input.metadata?.name && input.metadata.name !== name) {
      throw ApiError.of(400, "BadRequest", "the name of the object does not match the name on the URL");
    }
    const rv = input.metadata?.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(kind, name);
    if (opts.subresource !== "status") checkInt32(kind, input);
    let next: KObj;
    if (opts.subresource === "status") {
      next = clone(current);
      next.status = clone(input.status);
    } else {
      next = clone(input);
      next.metadata = {
        ...clone(input.metadata ?? {}),
        name,
        namespace: current.metadata.namespace,
        uid: current.metadata.uid,
        creationTimestamp: current.metadata.creationTimestamp,
        generation: current.metadata.generation,
        deletionTimestamp: current.metadata.deletionTimestamp,
        deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds,
      };
      if (!kind.namespaced) delete next.metadata.namespace;
      next.apiVersion = current.apiVersion;
      next.kind = current.kind;
      if (kind.hasStatus) next.status = clone(current.status);
      applyDefaults(kind, next, this.defaulting);
      if (kind.kind === "Service") {
        if (next.spec.clusterIP !== current.spec?.clusterIP && current.spec?.clusterIP) {
          if (input.spec?.clusterIP) {
            throw this.invalid(kind, name, ["spec.clusterIP: Invalid value: field is immutable"]);
          }
          next.spec.clusterIP = current.spec.clusterIP;
          next.spec.clusterIPs = [current.spec.clusterIP];
        }
      }
      if (
        kind.kind === "Deployment" &&
        JSON.stringify(next.spec.selector) !== JSON.stringify(current.spec.selector)
      ) {
        throw this.invalid(kind, name, ["spec.selector: Invalid value: field is immutable"]);
      }
      const errors = [...validate(kind, next), ...newFinalizerErrors(current, next)];
      if (errors.length > 0) throw this.invalid(kind, name, errors);
      next.metadata.generation = nextGeneration(kind, current, next);
      if (next.metadata.generation === undefined) delete next.metadata.generation;
    }
    if (opts.dryRun) return next;
    return this.commit(kind, current, next);
  }

  /**
   * Stores `next` in place of `current` when it differs, with a new resourceVersion; an update that
   * removes the last finalizer of an object being deleted deletes it.
   */
  private commit(kind: KindInfo, current: KObj, next: KObj): KObj {
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(current)) return clone(current);
    if (finalizedByUpdate(current, next)) return this.remove(kind, current, next);
    next.metadata.resourceVersion = String(++this.revision);
    this.table(kind).set(objKey(current.metadata.namespace, current.metadata.name!), next);
    this.indexes.update(kind, objKey(current.metadata.namespace, current.metadata.name!), current, next);
    const before = ownerUids(current), after = ownerUids(next);
    if (before.join() !== after.join()) {
      this.indexDependent(kind, current, before, false);
      this.indexDependent(kind, next, after, true);
    }
    this.emit("MODIFIED", kind, next, current);
    return clone(next);
  }

  /**
   * Changes an object in place through `change` (which receives a copy) and
   * stores it when it differs. Used by controllers for status and by PATCH.
   */
  mutate(kind: KindInfo, namespace: string | undefined, name: string, change: (o: KObj) => void): KObj {
    const current = this.peek(kind, namespace, name);
    if (!current) throw this.notFound(kind, name);
    const next = clone(current);
    change(next);
    return this.commit(kind, current, next);
  }

  /**
   * PATCH: `apply` computes the patched object from a copy of the current one (the patch
   * algorithms are in sim/patch.ts), which is stored in one update. A resourceVersion in the result
   * that is not the current one (the patch set it) is a 409 Conflict. The main resource keeps the
   * stored status and `status` changes only it, as with `update`.
   */
  patch(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    apply: (current: KObj) => unknown,
    opts: { subresource?: "status"; dryRun?: boolean } = {},
  ): KObj {
    const current = this.peek(kind, namespace, name);
    if (!current) throw this.notFound(kind, name);
    const patched = apply(clone(current));
    if (!patched || typeof patched !== "object" || Array.isArray(patched)) {
      throw this.invalid(kind, name, ["the patched object must be a JSON object"]);
    }
    const merged = patched as KObj;
    merged.metadata ??= {};
    const rv = merged.metadata.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(kind, name);
    merged.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.update(kind, namespace, name, merged, opts);
  }

  /**
   * DELETE (sim/deletion.ts decides): removes the object, or marks it (a deletionTimestamp) when
   * finalizers or a pod's grace period keep it; the garbage collector (sim/controllers/gc.ts) handles
   * its dependents and the GC finalizers, the kubelet finishes terminating pods. A Namespace is
   * Terminating until the namespace controller has removed its contents and its finalizer.
   */
  delete(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): DeleteResult {
    const current = this.peek(kind, namespace, name);
    if (!current) throw this.notFound(kind, name);
    if (kind.kind === "Namespace") {
      // Terminating until the namespace controller has emptied it (sim/controllers/namespace.ts).
      const plan = planNamespaceDeletion(current, this.opts.now());
      if (opts.dryRun) {
        return plan.remove
          ? { object: clone(current), deleted: true }
          : { object: plan.next, deleted: false };
      }
      if (plan.remove) return { object: clone(this.remove(kind, current)), deleted: true };
      if (plan.next === current) return { object: clone(current), deleted: false };
      return { object: this.commit(kind, current, plan.next), deleted: false };
    }
    const plan = planDeletion(kind, current, opts, this.opts.now());
    if (opts.dryRun) {
      return plan.remove
        ? { object: clone(plan.last), deleted: true }
        : { object: plan.next, deleted: false };
    }
    if (plan.remove) {
      if (kind === Kinds.CustomResourceDefinition) {
        // Its custom resources go first (the CRD finalizer's cleanup), in every version's table.
        for (const k of this.kinds.definedBy(name)) {
          for (const o of [...this.scan(k)]) this.remove(k, o);
        }
      }
      // The answer is the object's last stored state (its resourceVersion too), as etcd returns it.
      this.remove(kind, current, plan.last);
      return { object: clone(plan.last), deleted: true };
    }
    // Marked: the answer is the object as this request left it, whatever the controllers do next.
    return { object: this.commit(kind, current, plan.next), deleted: false };
  }

  /** Removes `obj` (as stored); watchers get `last` (its final state) with a new resourceVersion. */
  private remove(kind: KindInfo, obj: KObj, last: KObj = obj): KObj {
    const key = objKey(obj.metadata.namespace, obj.metadata.name!);
    const gone = clone(last);
    if (!this.table(kind).delete(key)) return gone;
    this.indexDependent(kind, obj, ownerUids(obj), false);
    this.indexes.update(kind, key, obj, undefined);
    gone.metadata.resourceVersion = String(++this.revision);
    this.emit("DELETED", kind, gone, obj);
    return clone(gone);
  }

  /**
   * Synchronous notification of every change (watches, controllers), in resourceVersion order.
   * Returns an unsubscribe function.
   */
  subscribe(listener: (e: StoreEvent) => void): () => void {
    return this.delivery.subscribe(listener);
  }

  /**
   * Runs `hook` each time every stored change has been delivered to every listener (the
   * controllers reconcile there, so that a burst of changes is seen once). Returns an unsubscribe function.
   */
  onSettled(hook: () => void): () => void {
    return this.delivery.onSettled(hook);
  }

  /**
   * Events after `fromRv` that match the filter, for a watch that resumes.
   * Throws 410 Expired when that part of the history has been compacted.
   */
  eventsSince(fromRv: number, filter: WatchFilter): StoreEvent[] {
    return this.history.since(fromRv, this.revision, filter);
  }
}
