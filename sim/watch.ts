/**
 * The store's change events and what a watch sees of them: the history kept for watches that resume
 * from a resourceVersion (410 Expired once compacted), and the translation of an event for a watcher
 * that selects part of a kind.
 */
import { ApiError } from "./apierror.ts";
import { type KindInfo, kindKey, type KObj } from "./kinds.ts";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  readonly rv: number;
  readonly type: EventType;
  readonly kind: KindInfo;
  readonly object: KObj;
  /** The object before a MODIFIED or DELETED event. */
  readonly old?: KObj;
}

export interface WatchFilter {
  readonly kind: KindInfo;
  readonly namespace?: string;
  /** Which objects the watcher selects (labels, fields, a name); none: every object in scope. */
  readonly match?: (o: KObj) => boolean;
}

/**
 * The last `size` events, in resourceVersion order, for watches that resume. Bounded by count, as the
 * API server's watch cache is (per resource there, up to about 100k events): an event holds the
 * object it changed (and the version before it), so what the history costs is the superseded
 * versions it keeps alive, about 3 to 5 KiB per event of a pod (`deno task bench:sim` measures it:
 * some 150 to 250 MiB for the default 50,000 events, a tenth of the heap of a 100,000-pod cluster).
 */
export class WatchHistory {
  /** `events[start..]` are kept, the ones before are dropped. */
  private events: StoreEvent[] = [];
  private start = 0;
  /** The oldest resourceVersion a watch may resume from. */
  private compactedRv = 0;

  constructor(private readonly size: number) {}

  /** How many events are kept. */
  get length(): number {
    return this.events.length - this.start;
  }

  record(event: StoreEvent): void {
    this.events.push(event);
    if (this.events.length - this.start > this.size) {
      // The oldest event leaves the window; the array is trimmed in chunks (amortised O(1)).
      this.start = this.events.length - this.size;
      this.compactedRv = this.events[this.start - 1].rv;
      if (this.start >= Math.max(this.size, 1024)) {
        this.events = this.events.slice(this.start);
        this.start = 0;
      }
    }
  }

  /** Drops every event, so every resume from before `rv` gets 410. */
  compact(rv: number): void {
    this.compactedRv = rv;
    this.events = [];
    this.start = 0;
  }

  /**
   * Events after `fromRv` that match the filter. Throws 410 Expired when that part of the history
   * has been dropped; `currentRv` is named in the message, as the API server does.
   */
  since(fromRv: number, currentRv: number, filter: WatchFilter): StoreEvent[] {
    if (fromRv < this.compactedRv) {
      throw ApiError.of(410, "Expired", `too old resource version: ${fromRv} (${currentRv})`);
    }
    // resourceVersions increase along the history: binary search for the first event after fromRv.
    let lo = this.start, hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid].rv > fromRv) hi = mid;
      else lo = mid + 1;
    }
    const out: StoreEvent[] = [];
    for (let i = lo; i < this.events.length; i++) {
      const translated = translateForWatch(this.events[i], filter);
      if (translated) out.push(translated);
    }
    return out;
  }
}

/**
 * What a watcher with `filter` sees of an event: nothing, or the event with its type adjusted
 * when the object starts (ADDED) or stops (DELETED) matching the filter's selection.
 */
export const translateForWatch = (e: StoreEvent, f: WatchFilter): StoreEvent | undefined => {
  if (kindKey(e.kind) !== kindKey(f.kind)) return undefined;
  if (f.namespace && e.object.metadata.namespace !== f.namespace) return undefined;
  if (!f.match) return e;
  if (e.type === "ADDED") return f.match(e.object) ? e : undefined;
  const before = e.old ? f.match(e.old) : false;
  if (e.type === "DELETED") return before ? e : undefined;
  const now = f.match(e.object);
  if (now && before) return e;
  if (now) return { ...e, type: "ADDED" };
  // As the watch cache does: the object as the watcher last saw it, at the event's resourceVersion.
  if (before && e.old) {
    return {
      ...e,
      type: "DELETED",
      object: { ...e.old, metadata: { ...e.old.metadata, resourceVersion: String(e.rv) } },
    };
  }
  return undefined;
};
