/**
 * Informer: a cache fed by list-then-watch, resumed from the last seen
 * resourceVersion, relisted on 410 Gone, reconnected with back-off. Writers put
 * their own results in with `upsert`/`remove` for read-after-write; events older
 * than what the cache holds are ignored.
 */
import { Deferred, Effect, type Scope, Stream } from "effect";
import { isGone, KubeApi, type KubeError, type WatchEvent } from "./api.ts";
import { watchReconnect } from "./retry.ts";

export interface ObjectMetaLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; deletionTimestamp?: string };
}

export interface Informer<T extends ObjectMetaLike> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(namespace?: string): T[];
  /** Read-after-write: records an object the caller just wrote. */
  upsert(obj: T): void;
  /** Read-after-write: records a deletion the caller just made (`resourceVersion` of the deleted object). */
  remove(namespace: string | undefined, name: string, resourceVersion?: string): void;
  /** Completes once the first list has been loaded. */
  readonly synced: Effect.Effect<void>;
  readonly hasSynced: () => boolean;
  /** The resourceVersion of the latest list or event seen. */
  readonly resourceVersion: () => string;
  /** Increases with every change to the cached contents (events, relists, writers' upserts). */
  readonly version: () => number;
  /** The last list/watch failure, until the next successful list (undefined when healthy). */
  readonly lastError: () => string | undefined;
}

export interface InformerOptions<T = unknown> {
  /** Collection path across namespaces or in one, e.g. `/apis/apps/v1/deployments`. */
  readonly path: string;
  readonly labelSelector?: string;
  /** Relist this often even when the watch is healthy (a periodic resync), in milliseconds. */
  readonly resyncMs?: number;
  /** What is kept of each object (e.g. without a Secret's data). */
  readonly keep?: (obj: T) => T;
  /** Items per page of a list (default `listPageSize`). */
  readonly pageSize?: number;
}

interface ListPage<T> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

/** Items per page of a list (client-go's reflector asks for 500). */
export const listPageSize = 500;

/** Numeric comparison where both are numbers (etcd revisions); otherwise "newer". */
const isOlder = (a: string | undefined, b: string | undefined): boolean => {
  if (!a || !b) return false;
  const x = Number(a), y = Number(b);
  return Number.isFinite(x) && Number.isFinite(y) && x < y;
};

export const makeInformer = <T extends ObjectMetaLike>(
  options: InformerOptions<T>,
): Effect.Effect<Informer<T>, never, KubeApi | Scope.Scope> =>
  Effect.gen(function* () {
    const kube = yield* KubeApi;
    const byNamespace = new Map<string, Map<string, T>>();
    /** Deletions we made or saw, so a late event cannot resurrect the object. */
    const tombstones = new Map<string, string>();
    const synced = yield* Deferred.make<void>();
    let rv = "";
    let version = 0;
    let lastError: string | undefined;

    const key = (ns: string | undefined, name: string) => `${ns ?? ""}/${name}`;
    const bucket = (ns: string | undefined) => {
      let b = byNamespace.get(ns ?? "");
      if (!b) byNamespace.set(ns ?? "", b = new Map());
      return b;
    };
    const current = (ns: string | undefined, name: string) => byNamespace.get(ns ?? "")?.get(name);

    /** `kept`: already what `options.keep` makes of it (a relist projects each page as it arrives). */
    const put = (obj: T, fromWriter: boolean, kept = false) => {
      const m = obj.metadata ?? {};
      // Being deleted (e.g. a foreground delete waiting for its pods): gone for the provider's purposes.
      if (m.deletionTimestamp) return drop(m.namespace, m.name!, m.resourceVersion);
      const existing = current(m.namespace, m.name!);
      if (existing && isOlder(m.resourceVersion, existing.metadata?.resourceVersion)) return;
      const tomb = tombstones.get(key(m.namespace, m.name!));
      if (tomb !== undefined) {
        if (!fromWriter && !isOlder(tomb, m.resourceVersion)) return;
        tombstones.delete(key(m.namespace, m.name!));
      }
      bucket(m.namespace).set(m.name!, options.keep && !kept ? options.keep(obj) : obj);
      version++;
    };
    const drop = (ns: string | undefined, name: string, atRv: string | undefined) => {
      const existing = current(ns, name);
      if (existing && atRv && isOlder(atRv, existing.metadata?.resourceVersion)) return;
      if (byNamespace.get(ns ?? "")?.delete(name)) version++;
      // Without a resourceVersion no later event can be told apart from a stale one: keep no tombstone.
      const tomb = atRv ?? existing?.metadata?.resourceVersion;
      if (tomb === undefined || tomb === "") return;
      tombstones.set(key(ns, name), tomb);
      if (tombstones.size > 10_000) tombstones.delete(tombstones.keys().next().value!);
    };

    const apply = (e: WatchEvent<T>) => {
      const m = e.object?.metadata ?? {};
      if (m.resourceVersion && !isOlder(m.resourceVersion, rv)) rv = m.resourceVersion;
      if (e.type === "BOOKMARK") return;
      if (e.type === "DELETED") drop(m.namespace, m.name!, m.resourceVersion);
      else put(e.object, false);
    };

    /**
     * The whole list in pages of `listPageSize` items (as client-go's reflector pages its lists), each page
     * projected as it arrives: the process never holds the whole list's text and objects at once, only a
     * page of them and what the cache keeps. Every page shows the list's first resourceVersion; an expired
     * continue token fails with 410 and the list starts over.
     */
    const relist = Effect.gen(function* () {
      const items: T[] = [];
      let listRv = "";
      let token: string | undefined;
      do {
        const page = yield* kube.request<ListPage<T>>({
          method: "GET",
          path: options.path,
          query: {
            labelSelector: options.labelSelector,
            limit: String(options.pageSize ?? listPageSize),
            continue: token,
          },
        });
        for (const item of page.items) items.push(options.keep ? options.keep(item) : item);
        listRv = page.metadata.resourceVersion;
        token = page.metadata.continue || undefined;
      } while (token !== undefined);
      byNamespace.clear();
      version++;
      for (const item of items) put(item, true, true);
      rv = listRv;
      lastError = undefined;
      yield* Deferred.succeed(synced, undefined);
    });

    /** Watches from `rv` until the server ends the stream (then resumes) or fails. */
    const watchLoop: Effect.Effect<never, KubeError> = Effect.gen(function* () {
      while (true) {
        yield* kube.watch<T>(options.path, {
          labelSelector: options.labelSelector,
          resourceVersion: rv,
          allowWatchBookmarks: "true",
        }).pipe(
          Stream.runForEach((e) => Effect.sync(() => apply(e))),
        );
      }
    });

    /** One list-then-watch cycle, ended by the periodic resync (a full relist) when configured. */
    const cycle = Effect.gen(function* () {
      yield* relist;
      if (options.resyncMs) yield* Effect.raceFirst(watchLoop, Effect.sleep(options.resyncMs));
      else yield* watchLoop;
    });

    const run = cycle.pipe(
      Effect.catch((e: KubeError) =>
        isGone(e)
          ? Effect.logDebug(`informer ${options.path}: watch expired, relisting`)
          : Effect.sync(() => (lastError = e.message)).pipe(
            Effect.andThen(Effect.logWarning(`informer ${options.path}: ${e.message}; retrying`)),
            Effect.andThen(Effect.fail(e)),
          )
      ),
      Effect.retry(watchReconnect),
      Effect.forever,
    );
    yield* Effect.forkScoped(run);

    return {
      get: (ns, name) => current(ns, name),
      list: (ns) => {
        if (ns !== undefined) return [...(byNamespace.get(ns)?.values() ?? [])];
        return [...byNamespace.values()].flatMap((b) => [...b.values()]);
      },
      upsert: (obj) => put(obj, true),
      remove: (ns, name, resourceVersion) => drop(ns, name, resourceVersion),
      synced: Deferred.await(synced),
      hasSynced: () => Deferred.isDoneUnsafe(synced),
      resourceVersion: () => rv,
      version: () => version,
      lastError: () => lastError,
    } satisfies Informer<T>;
  });

/** An informer that watches nothing: always synced and empty (for a kind the provider may not read). */
export const emptyInformer = <T extends ObjectMetaLike>(): Informer<T> => ({
  get: () => undefined,
  list: () => [],
  upsert: () => {},
  remove: () => {},
  synced: Effect.void,
  hasSynced: () => true,
  resourceVersion: () => "",
  version: () => 0,
  lastError: () => undefined,
});
