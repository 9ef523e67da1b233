/**
 * What a DELETE does to a stored object, as the API server's generic registry decides it
 * (apiserver registry/generic/registry/store.go and registry/rest/delete.go):
 *
 * - Pods are deleted gracefully: a deletionTimestamp `gracePeriodSeconds` ahead (the pod's
 *   terminationGracePeriodSeconds by default, 0 for a pod on no node or one that has finished); a
 *   later DELETE may only shorten it. A grace period of 0 removes the pod at once.
 * - The garbage collector's finalizers follow the propagation policy: `Foreground` adds
 *   `foregroundDeletion`, `Orphan` adds `orphan`, `Background` (every kind's default here: apps/v1
 *   deletes dependents) adds neither; the legacy `orphanDependents` wins over the policy.
 * - An object left with finalizers is only marked (deletionTimestamp now, deletionGracePeriodSeconds 0)
 *   and goes when an update removes the last one; one without is removed at once.
 *
 * The store applies the plan (sim/store.ts); the garbage collector (sim/controllers/gc.ts) does the rest.
 */
import { rfc3339 } from "./clock.ts";
import { ApiError, invalid, resourceDetails } from "./apierror.ts";
import { type KindInfo, Kinds, type KObj, qualifiedName } from "./kinds.ts";

export const foregroundFinalizer = "foregroundDeletion";
export const orphanFinalizer = "orphan";

export type PropagationPolicy = "Foreground" | "Background" | "Orphan";
export const propagationPolicies: readonly string[] = ["Foreground", "Background", "Orphan"];

/** metav1.DeleteOptions, decoded (sim/requestoptions.ts). */
export interface DeleteOptions {
  readonly dryRun?: boolean;
  readonly gracePeriodSeconds?: number;
  readonly propagationPolicy?: PropagationPolicy;
  /** Deprecated, and when set it wins over propagationPolicy (true: Orphan, false: Foreground). */
  readonly orphanDependents?: boolean;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

export interface DeleteResult {
  /** The object as the request left it: marked (still stored), or as it was when removed. */
  readonly object: KObj;
  /** Removed from the store (false: marked, left to its finalizers or its grace period). */
  readonly deleted: boolean;
}

/** Remove `last` (the object's final state) now, or store `next` (marked for deletion). */
export type DeletionPlan =
  | { readonly remove: true; readonly last: KObj }
  | { readonly remove: false; readonly next: KObj };

/** Kinds whose registry answers a DELETE with the deleted object rather than a Status (ReturnDeletedObject). */
const returnsDeletedObject = new Set<string>(["Pod", "Service", "ServiceAccount", "Namespace"]);

export const finalizersOf = (o: KObj): string[] =>
  Array.isArray(o.metadata?.finalizers) ? o.metadata.finalizers : [];

export const isDeleting = (o: KObj): boolean => Boolean(o.metadata?.deletionTimestamp);

/** Being deleted, waiting for its dependents (the foregroundDeletion finalizer). */
export const waitsForDependents = (o: KObj): boolean =>
  isDeleting(o) && finalizersOf(o).includes(foregroundFinalizer);

/**
 * An update that leaves a deleting object without finalizers deletes it (ShouldDeleteDuringUpdate),
 * unless its grace period is still running (a terminating pod: the kubelet finishes it).
 */
export const finalizedByUpdate = (current: KObj, next: KObj): boolean =>
  isDeleting(current) && finalizersOf(next).length === 0 &&
  !(Number(current.metadata.deletionGracePeriodSeconds) > 0) &&
  // A Namespace goes by a DELETE once its spec.finalizers are done (the namespace registry's Delete).
  current.kind !== "Namespace";

/** The finalizers a Namespace waits for before it can go (`kubernetes`: the namespace controller's). */
export const namespaceFinalizers = (ns: KObj): string[] =>
  Array.isArray(ns.spec?.finalizers) ? ns.spec.finalizers : [];

/**
 * A Namespace's DELETE (the namespace registry's Delete): one with no finalizers left goes; otherwise
 * it is marked (deletionTimestamp now, status.phase Terminating) for the namespace controller to
 * empty, and a DELETE of a namespace already terminating answers it as it is (`next` is `current`).
 */
export const planNamespaceDeletion = (current: KObj, now: number): DeletionPlan => {
  if (namespaceFinalizers(current).length === 0 && finalizersOf(current).length === 0) {
    return { remove: true, last: current };
  }
  if (isDeleting(current)) return { remove: false, next: current };
  const next = structuredClone(current);
  next.metadata.deletionTimestamp = rfc3339(now);
  next.metadata.deletionGracePeriodSeconds = 0;
  next.status = { ...next.status, phase: "Terminating" };
  return { remove: false, next };
};

/** An update may not add finalizers to an object being deleted (ValidateNoNewFinalizers). */
export const newFinalizerErrors = (current: KObj, next: KObj): string[] => {
  if (!isDeleting(current)) return [];
  const old = new Set(finalizersOf(current));
  const extra = [...new Set(finalizersOf(next))].filter((f) => !old.has(f)).sort();
  if (extra.length === 0) return [];
  return [
    `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${
      extra.map((f) => JSON.stringify(f)).join(", ")
    }}`,
  ];
};

const setFinalizers = (o: KObj, finalizers: string[]) => {
  if (finalizers.length === 0) delete o.metadata.finalizers;
  else o.metadata.finalizers = finalizers;
};

/** The finalizers the garbage collector needs after this DELETE (deletionFinalizersForGarbageCollection). */
const gcFinalizers = (o: KObj, opts: DeleteOptions): string[] => {
  const current = finalizersOf(o);
  let orphan: boolean, foreground: boolean;
  if (opts.orphanDependents !== undefined) {
    orphan = opts.orphanDependents;
    foreground = false;
  } else if (opts.propagationPolicy !== undefined) {
    orphan = opts.propagationPolicy === "Orphan";
    foreground = opts.propagationPolicy === "Foreground";
  } else {
    // An existing GC finalizer stands; otherwise the kind's default, which deletes dependents.
    const first = current.find((f) => f === orphanFinalizer || f === foregroundFinalizer);
    orphan = first === orphanFinalizer;
    foreground = first === foregroundFinalizer;
  }
  const out = current.filter((f) => f !== orphanFinalizer && f !== foregroundFinalizer);
  if (orphan) out.push(orphanFinalizer);
  if (foreground) out.push(foregroundFinalizer);
  return out;
};

/** Marks a non-graceful object as deleting (markAsDeleting). */
const markAsDeleting = (o: KObj, now: number) => {
  const m = o.metadata;
  if (!m.deletionTimestamp && Number(m.generation) > 0) m.generation += 1;
  if (!m.deletionTimestamp || Date.parse(m.deletionTimestamp) > now) m.deletionTimestamp = rfc3339(now);
  m.deletionGracePeriodSeconds = 0;
};

const preconditionFailed = (kind: KindInfo, name: string, message: string) =>
  ApiError.of(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedName(kind)} "${name}": ${message}`,
  )
    .withDetails(resourceDetails(kind, name));

/**
 * A pod's graceful deletion (BeforeDelete with the pod strategy): marks `next` and says whether the
 * deletion is graceful, or already pending with a grace period this request may not shorten.
 */
const podGrace = (
  pod: KObj,
  next: KObj,
  opts: DeleteOptions,
  now: number,
): "graceful" | "pending" | "none" => {
  const m = next.metadata;
  if (m.deletionTimestamp) {
    const grace = Number(m.deletionGracePeriodSeconds ?? 0);
    if (grace === 0) return "none";
    if (opts.gracePeriodSeconds === undefined || opts.gracePeriodSeconds >= grace) return "pending";
    m.deletionTimestamp = rfc3339(
      Date.parse(m.deletionTimestamp) - grace * 1000 + opts.gracePeriodSeconds * 1000,
    );
    m.deletionGracePeriodSeconds = opts.gracePeriodSeconds;
    return "graceful";
  }
  let period = opts.gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 0;
  if (!pod.spec?.nodeName || pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded") period = 0;
  m.deletionTimestamp = rfc3339(now + period * 1000);
  m.deletionGracePeriodSeconds = period;
  if (Number(m.generation) > 0) m.generation += 1;
  return "graceful";
};

/** Decides what a DELETE with `opts` does to `current` (not changed) at `now` (ms). */
export const planDeletion = (
  kind: KindInfo,
  current: KObj,
  opts: DeleteOptions,
  now: number,
): DeletionPlan => {
  const name = current.metadata.name!;
  const pre = opts.preconditions;
  if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
    throw preconditionFailed(
      kind,
      name,
      `the UID in the precondition (${pre.uid}) does not match the UID in record (${current.metadata.uid}). The object might have been deleted and then recreated`,
    );
  }
  if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
    throw preconditionFailed(
      kind,
      name,
      `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${current.metadata.resourceVersion}). The object might have been modified`,
    );
  }
  const next = structuredClone(current);
  const grace = kind === Kinds.Pod ? podGrace(current, next, opts, now) : "none";
  // Finalizers cannot be changed through DeleteOptions once a graceful deletion is pending.
  if (grace === "pending") return { remove: false, next: structuredClone(current) };
  const wanted = gcFinalizers(current, opts);
  const changed = wanted.length !== finalizersOf(current).length ||
    wanted.some((f) => !finalizersOf(current).includes(f));
  if (grace === "none" && finalizersOf(current).length === 0 && !changed) {
    return { remove: true, last: current };
  }
  if (changed) setFinalizers(next, wanted);
  const pending = finalizersOf(next).length > 0;
  if (grace === "none") {
    if (!pending) return { remove: true, last: current };
    markAsDeleting(next, now);
    return { remove: false, next };
  }
  if (pending || Number(next.metadata.deletionGracePeriodSeconds) > 0) return { remove: false, next };
  return { remove: true, last: next };
};

/** ValidateDeleteOptions: 422 for options that contradict each other or a policy that does not exist. */
export const deleteOptionsErrors = (opts: {
  readonly propagationPolicy?: string;
  readonly orphanDependents?: boolean;
}): ApiError | undefined => {
  const errors: string[] = [];
  const policy = opts.propagationPolicy;
  if (opts.orphanDependents !== undefined && policy !== undefined) {
    errors.push(
      `propagationPolicy: Invalid value: "${policy}": orphanDependents and deletionPropagation cannot be both set`,
    );
  }
  if (policy !== undefined && !propagationPolicies.includes(policy)) {
    errors.push(
      `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
    );
  }
  return errors.length === 0
    ? undefined
    : invalid({ kind: "DeleteOptions", group: "meta.k8s.io" }, "", errors);
};

/**
 * What the DELETE handler answers (endpoints/handlers/delete.go): 202 only when the object stays and
 * the client asked for cascading with `orphanDependents: false`, else 200; the object while it stays
 * (and when the kind's registry returns deleted objects), else a Status Success naming it.
 */
export const deleteResponse = (
  kind: KindInfo,
  result: DeleteResult,
  opts: DeleteOptions,
): { status: number; body: unknown } => {
  const status = !result.deleted && opts.orphanDependents === false ? 202 : 200;
  if (!result.deleted || returnsDeletedObject.has(kind.kind)) return { status, body: result.object };
  const m = result.object.metadata;
  return {
    status,
    body: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name: m.name, ...(kind.group ? { group: kind.group } : {}), kind: kind.plural, uid: m.uid },
    },
  };
};

/**
 * deletecollection: deletes each listed object with the request's options (one already gone is
 * skipped) and answers the list of them, as the registry's DeleteCollection does.
 */
export const deleteCollection = (
  store: {
    delete(kind: KindInfo, namespace: string | undefined, name: string, opts: DeleteOptions): unknown;
  },
  kind: KindInfo,
  list: { readonly items: KObj[]; readonly resourceVersion: string },
  opts: DeleteOptions,
): { status: number; body: unknown } => {
  for (const o of list.items) {
    try {
      store.delete(kind, o.metadata.namespace, o.metadata.name!, opts);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }
  return {
    status: 200,
    body: {
      apiVersion: kind.group ? `${kind.group}/${kind.version}` : kind.version,
      kind: `${kind.kind}List`,
      metadata: { resourceVersion: list.resourceVersion },
      items: list.items,
    },
  };
};
