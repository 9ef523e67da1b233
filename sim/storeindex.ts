/**
 * The store's secondary indexes, so that a read or a controller's lookup costs in proportion to what
 * it finds rather than to the size of the cluster (the real API server's watch cache indexes pods
 * by node and label the same way):
 *
 * - labels: per kind, per label `key=value`, the keys of the objects that carry it. A list with a
 *   label selector starts from the smallest set its equality (`=`, `in`) requirements name, and
 *   checks the rest of the selector on those objects only; a selector with no such requirement
 *   falls back to a scan of the kind.
 * - selectors: for a Service, its `spec.selector` (a plain map) filed under one of its pairs, so
 *   that the Services selecting a pod are found from the pod's labels (what the endpoints
 *   controller asks on every pod change).
 *
 * Keys are the store's object keys (`namespace/name`); the store keeps these indexes in step with
 * its tables on every create, update and removal.
 */
import type { Labels, Selector } from "../src/domain/selectors.ts";
import { type KindInfo, kindKey, Kinds, type KObj } from "./kinds.ts";

const pair = (key: string, value: string) => `${key}\u0000${value}`;

/** The label map a kind selects pods with, when this index keeps it (Service `spec.selector`). */
const selectorMapOf = (kind: KindInfo, o: KObj | undefined): Record<string, string> | undefined => {
  if (kind !== Kinds.Service || !o) return undefined;
  const s = o.spec?.selector;
  if (!s || typeof s !== "object" || Array.isArray(s)) return undefined;
  const entries = Object.entries(s).filter(([, v]) => typeof v === "string");
  return entries.length > 0 ? Object.fromEntries(entries) as Record<string, string> : undefined;
};

/** Where a selector map is filed: its smallest key's pair, in the object's namespace. */
const selectorSlot = (namespace: string | undefined, selector: Record<string, string>) => {
  const first = Object.keys(selector).sort()[0];
  return `${namespace ?? ""}\u0000${pair(first, selector[first])}`;
};

const sameLabels = (a: Labels, b: Labels) => {
  const ak = Object.keys(a ?? {}), bk = Object.keys(b ?? {});
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(b ?? {}, k) && a![k] === b![k]);
};

export class StoreIndexes {
  /** kind key -> label pair -> object keys. */
  private readonly labels = new Map<string, Map<string, Set<string>>>();
  /** kind key -> namespace + selector pair -> object keys (Services by `spec.selector`). */
  private readonly selectors = new Map<string, Map<string, Set<string>>>();

  private static file(index: Map<string, Map<string, Set<string>>>, kind: KindInfo) {
    const k = kindKey(kind);
    let m = index.get(k);
    if (!m) index.set(k, m = new Map());
    return m;
  }

  private static put(m: Map<string, Set<string>>, slot: string, key: string, add: boolean) {
    let set = m.get(slot);
    if (add) {
      if (!set) m.set(slot, set = new Set());
      set.add(key);
    } else if (set) {
      set.delete(key);
      if (set.size === 0) m.delete(slot);
    }
  }

  private fileObject(kind: KindInfo, key: string, o: KObj, add: boolean) {
    const labels = StoreIndexes.file(this.labels, kind);
    for (const [k, v] of Object.entries(o.metadata?.labels ?? {})) {
      if (typeof v === "string") StoreIndexes.put(labels, pair(k, v), key, add);
    }
    const selector = selectorMapOf(kind, o);
    if (selector) {
      StoreIndexes.put(
        StoreIndexes.file(this.selectors, kind),
        selectorSlot(o.metadata.namespace, selector),
        key,
        add,
      );
    }
  }

  /** Keeps the indexes in step with a change of the object stored under `key` (either side may be absent). */
  update(kind: KindInfo, key: string, before: KObj | undefined, after: KObj | undefined) {
    if (
      before && after && sameLabels(before.metadata?.labels, after.metadata?.labels) &&
      sameLabels(selectorMapOf(kind, before), selectorMapOf(kind, after))
    ) return;
    if (before) this.fileObject(kind, key, before, false);
    if (after) this.fileObject(kind, key, after, true);
  }

  /**
   * The objects of `kind` (in `table`) that may match `selector` (a superset: the caller checks the
   * whole selector), from its narrowest equality requirement; undefined when none narrows it.
   */
  lookup(kind: KindInfo, table: ReadonlyMap<string, KObj>, selector: Selector): KObj[] | undefined {
    const labels = this.labels.get(kindKey(kind));
    let best: Iterable<string> | undefined;
    let bestSize = Infinity;
    for (const req of selector) {
      if (req.op === "=") {
        const set = labels?.get(pair(req.key, req.value));
        if (!set) return [];
        if (set.size < bestSize) [best, bestSize] = [set, set.size];
      } else if (req.op === "in") {
        const sets = req.values.map((v) => labels?.get(pair(req.key, v))).filter((s) => s !== undefined);
        const size = sets.reduce((n, s) => n + s.size, 0);
        if (size < bestSize) [best, bestSize] = [new Set(sets.flatMap((s) => [...s])), size];
      }
    }
    return best && objectsOf(table, best);
  }

  /** The objects of `kind` (in `table`) in `namespace` whose selector map selects `labels`. */
  selecting(
    kind: KindInfo,
    table: ReadonlyMap<string, KObj>,
    namespace: string | undefined,
    labels: Labels,
  ): KObj[] {
    const m = this.selectors.get(kindKey(kind));
    if (!m) return [];
    const keys = new Set<string>();
    for (const [k, v] of Object.entries(labels ?? {})) {
      for (const key of m.get(`${namespace ?? ""}\u0000${pair(k, v)}`) ?? []) keys.add(key);
    }
    return objectsOf(table, keys).filter((o) =>
      Object.entries(selectorMapOf(kind, o) ?? {}).every(([k, v]) => labels?.[k] === v)
    );
  }
}

const objectsOf = (table: ReadonlyMap<string, KObj>, keys: Iterable<string>): KObj[] => {
  const out: KObj[] = [];
  for (const key of keys) {
    const o = table.get(key);
    if (o) out.push(o);
  }
  return out;
};
