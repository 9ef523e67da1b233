/**
 * Runs controllers level-triggered: store events enqueue keys, and the queue is
 * drained synchronously after the change that caused them, so the simulated
 * cluster is deterministic and settles before control returns to the caller.
 */
import type { Store, StoreEvent } from "../store.ts";

export interface Controller {
  readonly name: string;
  /** Maps a store event to the keys this controller must reconcile. */
  keysFor(event: StoreEvent): Iterable<string>;
  reconcile(key: string): void;
}

/** Guards against two controllers fighting forever over one object. */
const maxStepsPerDrain = 1_000_000;

export class ControllerHub {
  private readonly queue: [Controller, string][] = [];
  private readonly queued = new Set<string>();
  private draining = false;

  constructor(store: Store, private readonly controllers: readonly Controller[]) {
    store.subscribe((e) => this.onEvent(e));
  }

  private onEvent(e: StoreEvent) {
    for (const c of this.controllers) for (const key of c.keysFor(e)) this.enqueue(c, key);
    this.drain();
  }

  enqueue(c: Controller, key: string) {
    const id = `${c.name}\u0000${key}`;
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push([c, key]);
  }

  drain() {
    if (this.draining) return;
    this.draining = true;
    try {
      let steps = 0;
      while (this.queue.length > 0) {
        const [c, key] = this.queue.shift()!;
        this.queued.delete(`${c.name}\u0000${key}`);
        c.reconcile(key);
        if (++steps > maxStepsPerDrain) {
          throw new Error(`controllers did not settle (last: ${c.name} ${key})`);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

export const nsName = (o: { metadata: { namespace?: string; name?: string } }) =>
  `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

export const splitKey = (key: string): [string, string] => {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
};

/** A short stable hash (FNV-1a), rendered like Kubernetes' pod-template-hash. */
export const shortHash = (text: string, length = 10): string => {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let out = "";
  let x = h;
  for (let i = 0; i < length; i++) {
    out += alphabet[x % alphabet.length];
    x = Math.floor(x / alphabet.length) ^ Math.imul(h, i + 7) >>> 3;
    x >>>= 0;
  }
  return out;
};
