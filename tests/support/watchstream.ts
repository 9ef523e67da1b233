/**
 * A raw watch over HTTP, read as client-go's decoder reads it: newline-delimited JSON events,
 * collected as they arrive, with nothing forgiven (no reordering, no dropping of stale events).
 */
import assert from "node:assert/strict";
import { lineReader } from "./fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

export interface RawEvent {
  readonly type: string;
  readonly object: Json;
}

export interface RawWatch {
  readonly status: number;
  /** Every event received so far, in the order it arrived. */
  readonly events: RawEvent[];
  /** Resolves once an event satisfying `pred` has arrived; fails after `timeoutMs` of wall time. */
  until(pred: (e: RawEvent) => boolean, what: string, timeoutMs?: number): Promise<RawEvent>;
  /** Whether the server ended the stream. */
  readonly ended: boolean;
  close(): Promise<void>;
}

/** Starts a watch with a GET to `url` (which carries `watch=1` and whatever else it needs). */
export const rawWatch = async (url: string, init: RequestInit = {}): Promise<RawWatch> => {
  const res = await fetch(url, init);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const next = lineReader(reader);
  const events: RawEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const pump = (async () => {
    try {
      while (true) {
        const e = await next();
        if (e === undefined) break;
        events.push(e);
        for (const w of [...waiters]) w();
      }
    } catch { /* cancelled */ }
    ended = true;
    for (const w of [...waiters]) w();
  })();
  return {
    status: res.status,
    events,
    get ended() {
      return ended;
    },
    until: (pred, what, timeoutMs = 5_000) =>
      new Promise<RawEvent>((resolve, reject) => {
        const check = () => {
          const found = events.find(pred);
          if (found) {
            done();
            resolve(found);
          } else if (ended) {
            done();
            reject(new Error(`the watch ended before ${what}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${what} in ${timeoutMs} ms (${events.length} events)`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: async () => {
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
};

/**
 * What a client that keeps the last event per object (client-go's reflector) may rely on: strictly
 * increasing resourceVersions, bookmarks never behind the last event, an object first ADDED (when
 * it was created during the watch), nothing after its DELETED. Returns the last event per uid.
 */
export const assertWatchOrder = (
  events: readonly RawEvent[],
  opts: { createdDuringWatch?: (uid: string) => boolean; what?: string } = {},
): Map<string, RawEvent> => {
  const what = opts.what ?? "watch";
  let last = 0;
  const byUid = new Map<string, RawEvent>();
  for (const [i, e] of events.entries()) {
    const rv = Number(e.object?.metadata?.resourceVersion);
    assert.ok(Number.isInteger(rv), `${what}: event ${i} (${e.type}) has a resourceVersion`);
    if (e.type === "BOOKMARK") {
      assert.ok(rv >= last, `${what}: bookmark ${rv} behind the last event ${last}`);
      last = rv;
      continue;
    }
    assert.ok(rv > last, `${what}: event ${i} ${e.type} ${e.object.metadata.name} rv ${rv} after ${last}`);
    last = rv;
    const uid = e.object.metadata.uid;
    const before = byUid.get(uid);
    assert.notEqual(before?.type, "DELETED", `${what}: ${e.type} of ${e.object.metadata.name} after DELETED`);
    if (!before && opts.createdDuringWatch?.(uid)) {
      assert.equal(e.type, "ADDED", `${what}: the first event of ${e.object.metadata.name} is ${e.type}`);
    }
    if (before) assert.notEqual(e.type, "ADDED", `${what}: ${e.object.metadata.name} ADDED twice`);
    byUid.set(uid, e);
  }
  return byUid;
};
