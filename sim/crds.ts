/**
 * CustomResourceDefinitions at work: while a CRD exists and its names are accepted, the kinds it
 * defines are served (one per version: list, watch, CRUD, `status` when declared, in its scope), and
 * its status says so, as the API server's naming and establishing controllers write it
 * (NamesAccepted, Established, acceptedNames, storedVersions). Its custom resources are removed with
 * it (Store.delete), and then their paths are 404 again.
 */
import type { Store } from "./store.ts";
import { type KindInfo, kindKey, Kinds, type KObj } from "./kinds.ts";
import { rfc3339 } from "./clock.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const crdKey = kindKey(Kinds.CustomResourceDefinition);

/** The kinds a CRD defines under its names, one per version (served or not). */
export const kindsOf = (crd: KObj): KindInfo[] => {
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  return ((spec.versions ?? []) as Json[]).map((v) => ({
    group: spec.group,
    version: v.name,
    kind: names.kind,
    plural: names.plural,
    namespaced: spec.scope === "Namespaced",
    hasStatus: v.subresources?.status !== undefined && v.subresources?.status !== null,
    ...(names.shortNames?.length ? { shortNames: [...names.shortNames] } : {}),
    singular: names.singular ?? String(names.kind).toLowerCase(),
    ...(names.categories?.length ? { categories: [...names.categories] } : {}),
    generation: "content" as const,
    custom: {
      crd: crd.metadata.name!,
      printerColumns: v.additionalPrinterColumns ?? [],
      served: v.served === true,
    },
  }));
};

/** Why a CRD's names cannot be accepted (another CRD of its group holds one of them), if so. */
const namesConflict = (store: Store, crd: KObj): { reason: string; message: string } | undefined => {
  const names = crd.spec?.names ?? {};
  for (const other of store.scan(Kinds.CustomResourceDefinition)) {
    if (other.metadata.name === crd.metadata.name || other.spec?.group !== crd.spec?.group) continue;
    // Only names another CRD holds count (those it serves under now).
    if (store.kinds.definedBy(other.metadata.name!).length === 0) continue;
    const theirs = other.spec?.names ?? {};
    const taken = (reason: string, value: string) => ({ reason, message: `"${value}" is already in use` });
    if (names.plural === theirs.plural) return taken("PluralConflict", names.plural);
    if (names.singular && [theirs.singular, theirs.plural].includes(names.singular)) {
      return taken("SingularConflict", names.singular);
    }
    for (const s of names.shortNames ?? []) {
      if ((theirs.shortNames ?? []).includes(s)) return taken("ShortNamesConflict", s);
    }
    if (names.kind === theirs.kind) return taken("KindConflict", names.kind);
    if (names.listKind && names.listKind === theirs.listKind) {
      return taken("ListKindConflict", names.listKind);
    }
  }
  return undefined;
};

const condition = (
  old: Json[] | undefined,
  type: string,
  status: string,
  reason: string,
  message: string,
  now: string,
) => {
  const before = (old ?? []).find((c) => c.type === type);
  return {
    type,
    status,
    lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
    reason,
    message,
  };
};

/** The status the naming and establishing controllers give a CRD. */
const statusOf = (crd: KObj, conflict: { reason: string; message: string } | undefined, now: string) => {
  const old = crd.status ?? {};
  const names = crd.spec?.names ?? {};
  const storage = ((crd.spec?.versions ?? []) as Json[]).find((v) => v.storage === true)?.name;
  const stored: string[] = [...(old.storedVersions ?? [])];
  if (storage && !stored.includes(storage)) stored.push(storage);
  const accepted = conflict ? (old.acceptedNames ?? { plural: "", kind: "" }) : {
    plural: names.plural,
    singular: names.singular,
    ...(names.shortNames?.length ? { shortNames: names.shortNames } : {}),
    kind: names.kind,
    listKind: names.listKind,
    ...(names.categories?.length ? { categories: names.categories } : {}),
  };
  return {
    ...old,
    conditions: [
      conflict
        ? condition(old.conditions, "NamesAccepted", "False", conflict.reason, conflict.message, now)
        : condition(old.conditions, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now),
      conflict
        ? condition(old.conditions, "Established", "False", "NotAccepted", "not all names are accepted", now)
        : condition(
          old.conditions,
          "Established",
          "True",
          "InitialNamesAccepted",
          "the initial names have been accepted",
          now,
        ),
    ],
    acceptedNames: accepted,
    storedVersions: stored,
  };
};

/**
 * Makes `store` serve the kinds of its CRDs from now on (and those it already holds). Kinds are
 * defined as the CRD is written, before the write returns; the status follows once the change has
 * settled. Returns a function that stops it.
 */
export const installCustomResources = (store: Store): () => void => {
  /** CRDs whose names and status are to be looked at again. */
  const pending = new Set<string>();
  const define = (crd: KObj) => {
    const conflict = namesConflict(store, crd);
    store.kinds.define(crd.metadata.name!, conflict ? [] : kindsOf(crd));
    return conflict;
  };
  const unsubscribe = store.subscribe((e) => {
    if (kindKey(e.kind) !== crdKey) return;
    const name = e.object.metadata.name!;
    if (e.type === "DELETED") store.kinds.define(name, []);
    else define(e.object);
    // A change in a group may settle another CRD's conflict: look at the whole group again.
    for (const other of store.scan(Kinds.CustomResourceDefinition)) {
      if (other.spec?.group === e.object.spec?.group) pending.add(other.metadata.name!);
    }
  });
  const unsettle = store.onSettled(() => {
    for (const name of [...pending]) {
      pending.delete(name);
      const crd = store.peek(Kinds.CustomResourceDefinition, undefined, name);
      if (!crd) continue;
      const conflict = define(crd);
      const status = statusOf(crd, conflict, rfc3339(store.now()));
      if (JSON.stringify(status) === JSON.stringify(crd.status)) continue;
      store.mutate(Kinds.CustomResourceDefinition, undefined, name, (o) => {
        o.status = status;
      });
    }
  });
  for (const crd of store.scan(Kinds.CustomResourceDefinition)) {
    define(crd);
    pending.add(crd.metadata.name!);
  }
  return () => {
    unsubscribe();
    unsettle();
  };
};

/**
 * A custom resource (or a list of them) as the version asked for serves it: every version of a CRD
 * shares one store, and with conversion `None` only the apiVersion differs. Other kinds are left as
 * they are. Changes `body` in place and returns it.
 */
export const asServedVersion = <T>(kind: KindInfo | undefined, body: T): T => {
  if (!kind?.custom || !body || typeof body !== "object") return body;
  const apiVersion = `${kind.group}/${kind.version}`;
  const o = body as { apiVersion?: string; kind?: string; items?: { apiVersion?: string }[] };
  if (Array.isArray(o.items)) {
    o.apiVersion = apiVersion;
    for (const item of o.items) item.apiVersion = apiVersion;
  } else if (o.kind === kind.kind) o.apiVersion = apiVersion;
  return body;
};
