/** Kubernetes Events recorded by the simulated components (`kubectl describe` shows them). */
import { rfc3339 } from "../clock.ts";
import type { SimClock } from "../clock.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store } from "../store.ts";
import { Fifo } from "../fifo.ts";

/** The API server's `--event-ttl`: an Event not updated for this long is deleted. */
const eventTtlMs = 60 * 60_000;

interface Recorded {
  /** The Event already recorded for (object, reason, message), to count repeats. */
  readonly byKey: Map<string, string>;
  /**
   * Events in the order they were recorded: [time, namespace, name, key]; one written again since
   * is put back at the end with its new time when it comes to the front.
   */
  readonly order: Fifo<[number, string, string, string]>;
}

/** Per store. */
const seen = new WeakMap<Store, Recorded>();

/** Deletes Events not written for `eventTtlMs` (the oldest are at the front of `order`). */
const expire = (store: Store, recorded: Recorded, now: number) => {
  for (let head = recorded.order.peek(); head && head[0] <= now - eventTtlMs; head = recorded.order.peek()) {
    const [, ns, name, key] = recorded.order.shift()!;
    const event = store.peek(Kinds.Event, ns, name);
    const last = event ? Date.parse(event.lastTimestamp ?? "") : NaN;
    if (event && last > now - eventTtlMs) {
      recorded.order.push([last, ns, name, key]); // written again since: expires later
      continue;
    }
    if (event) store.delete(Kinds.Event, ns, name);
    if (recorded.byKey.get(key) === name) recorded.byKey.delete(key);
  }
};

/**
 * Records an Event about `involved` (a repeat counts up the existing one). Like client-go's
 * recorder it is best effort: an Event that cannot be written is dropped, and never fails the
 * component that reports it.
 */
export const recordEvent = (
  store: Store,
  clock: SimClock,
  involved: KObj,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
  component: string,
): void => {
  try {
    const ns = involved.metadata.namespace ?? "default";
    if (!store.peek(Kinds.Namespace, undefined, ns)) return;
    const now = rfc3339(clock.now());
    let recorded = seen.get(store);
    if (!recorded) seen.set(store, recorded = { byKey: new Map(), order: new Fifo() });
    expire(store, recorded, clock.now());
    const index = recorded.byKey;
    const key = `${involved.metadata.uid}\u0000${reason}\u0000${message}`;
    const existing = index.get(key);
    if (existing && store.peek(Kinds.Event, ns, existing)) {
      store.mutate(Kinds.Event, ns, existing, (o) => {
        o.count = (o.count ?? 1) + 1;
        o.lastTimestamp = now;
      });
      return;
    }
    const name = `${involved.metadata.name}.${clock.uid().replaceAll("-", "").slice(0, 16)}`;
    index.set(key, name);
    recorded.order.push([clock.now(), ns, name, key]);
    store.create(Kinds.Event, ns, {
      metadata: { name },
      involvedObject: {
        kind: involved.kind,
        namespace: involved.metadata.namespace,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: involved.apiVersion,
      },
      type,
      reason,
      message,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  } catch {
    // Dropped, as the real recorder drops what it cannot write.
  }
};
