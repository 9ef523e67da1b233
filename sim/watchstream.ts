/**
 * Watch streams over the store: what one watcher is sent and when (see startWatch).
 */
import { ApiError } from "./apierror.ts";
import { apiVersionOf, type KObj } from "./kinds.ts";
import type { Store } from "./store.ts";
import type { Selector } from "../src/domain/selectors.ts";
import { type StoreEvent, translateForWatch, type WatchFilter } from "./watch.ts";

/** A boolean query parameter (`allowWatchBookmarks=true`). */
const truthy = (v: string | undefined) => v === "1" || v === "true";

/** Where a watch's events go (the HTTP stream, the in-process transport's queue). */
export interface WatchSink {
  event(type: string, object: unknown): void;
  /** The server ended the watch (e.g. dropped by fault injection). */
  close(): void;
}

/** Timers on the cluster's clock (SimClock.after). */
export interface WatchTimers {
  after(ms: number, fn: () => void): () => void;
}

/** How the watched kind is served: objects in the version asked for, and the change that ends the watch. */
export interface Served {
  readonly view?: (o: KObj) => KObj;
  /** A change after which the watch ends (a custom resource's CRD deleted), once its event is sent. */
  readonly endsWith?: (raw: StoreEvent) => boolean;
  /** The label selector inside `filter.match`, so the initial list can use the store's label index. */
  readonly selector?: Selector;
}

/** How often a watch that allows bookmarks gets one (the watch cache's bookmark frequency). */
export const bookmarkIntervalMs = 60_000;

/** A resourceVersion in a query: a non-negative integer, else 400 as the API server answers. */
export const parseResourceVersion = (text: string): number => {
  const rv = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(rv)) {
    throw ApiError.of(400, "BadRequest", `invalid resource version: ${text}`);
  }
  return rv;
};

/**
 * A watch over the store, as the API server's watch cache serves it: the initial list (no
 * resourceVersion, or 0) or the history since a resourceVersion (410 Expired once compacted),
 * then every change, once each and in resourceVersion order, and, when the client allows them, a
 * BOOKMARK about every minute of cluster time. Returns a cancel function.
 */
export const startWatch = (
  store: Store,
  filter: WatchFilter,
  query: Readonly<Record<string, string | undefined>>,
  sink: WatchSink,
  timers?: WatchTimers,
  served: Served = {},
): () => void => {
  const view = served.view ?? ((o: KObj) => o);
  const rvText = query.resourceVersion ?? "";
  const backlog: { type: string; object: KObj }[] = [];
  // The newest change this watcher has accounted for: an event at or below it is already in its
  // initial list or backlog (a watch started while changes were still being delivered) and is
  // not sent again, so every watcher sees each change once, in resourceVersion order.
  let seenRv = store.resourceVersion;
  if (rvText === "" || rvText === "0") {
    const { items } = store.list(filter.kind, filter.namespace, served.selector ?? [], filter.match);
    for (const o of items) backlog.push({ type: "ADDED", object: o });
  } else {
    const rv = parseResourceVersion(rvText);
    for (const e of store.eventsSince(rv, filter)) {
      backlog.push({ type: e.type, object: structuredClone(e.object) });
    }
  }
  // Changes made while the backlog is being sent (by whoever reads it) follow it, in order.
  let replaying = true;
  const pending: StoreEvent[] = [];
  const send = (raw: StoreEvent) => {
    const e = translateForWatch(raw, filter);
    if (e) sink.event(e.type, view(structuredClone(e.object)));
    if (served.endsWith?.(raw)) sink.close();
  };
  const unsubscribe = store.subscribe((raw) => {
    if (raw.rv <= seenRv) return;
    seenRv = raw.rv;
    if (replaying) pending.push(raw);
    else send(raw);
  });
  for (const e of backlog) sink.event(e.type, view(e.object));
  for (const raw of pending) send(raw);
  replaying = false;
  if (!truthy(query.allowWatchBookmarks) || !timers) return unsubscribe;
  // Periodic bookmarks (the watch cache sends one about every minute), on the cluster's clock: the
  // watched kind with only the resourceVersion every change up to which this watcher has seen.
  let stopTimer = () => {};
  const bookmark = () => {
    sink.event("BOOKMARK", {
      kind: filter.kind.kind,
      apiVersion: apiVersionOf(filter.kind),
      metadata: { resourceVersion: String(seenRv) },
    });
    stopTimer = timers.after(bookmarkIntervalMs, bookmark);
  };
  stopTimer = timers.after(bookmarkIntervalMs, bookmark);
  return () => {
    stopTimer();
    unsubscribe();
  };
};
