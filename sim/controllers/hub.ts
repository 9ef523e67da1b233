/**
 * Runs controllers level-triggered: store events enqueue keys, and the queue is
 * drained synchronously once the change that caused them (and every change it led
 * to) has reached every watcher, so the simulated cluster is deterministic and
 * settles before control returns to the caller. A controller spreads big jobs
 * over steps (`requeueAfter`) instead of doing them in one go. A controller that
 * throws is logged and retried with back-off, as client-go's workqueue does; the
 * failure never reaches the write that woke it, nor the other controllers.
 */
import type { SimClock } from "../clock.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";

/** How a controller asks for another turn. */
export interface WorkQueue {
  /** Reconciles `key` again after `ms` milliseconds of cluster time (calling `onDue` first). */
  requeueAfter(key: string, ms: number, onDue?: () => void): void;
  /** Reconciles `key` again in this drain, after the keys already queued (to go on with a job in turns). */
  requeueNow(key: string): void;
}

export interface Controller {
  readonly name: string;
  /** Sees every store event first, in order (to keep an index). */
  observe?(event: StoreEvent): void;
  /** Maps a store event to the keys this controller must reconcile. */
  keysFor(event: StoreEvent): Iterable<string>;
  reconcile(key: string): void;
  /** Receives its queue when the hub starts. */
  attach?(queue: WorkQueue): void;
}

export interface ControllerError {
  readonly controller: string;
  readonly key: string;
  readonly error: unknown;
  /** When the key is tried again (ms of cluster time from now). */
  readonly retryInMs: number;
}

export interface HubOptions {
  /** Told about each failed reconcile (default: one line on stderr). */
  readonly onError?: (e: ControllerError) => void;
}

/** Guards against two controllers fighting forever over one object: the rest waits for a later turn. */
const maxStepsPerDrain = 1_000_000;

/**
 * Wall time one drain may take before the rest of the queue waits for the next turn of the event
 * loop, so that a big change never holds the process (its HTTP server) for long. The next turn is
 * `env.nextTurn`: on the live clock a real turn, under TestClock the rest runs at once, so virtual
 * time runs are the same however the work is cut.
 */
const turnBudgetMs = 10;

/** client-go's per-item rate limiter: 5 ms doubling to 1000 s. */
export const retryDelayMs = (failures: number) => Math.min(1_000_000, 5 * 2 ** Math.max(0, failures - 1));

const describe = (e: unknown) => e instanceof Error ? e.message : String(e);

export class ControllerHub {
  private readonly queue: [Controller, string][] = [];
  private readonly queued = new Set<string>();
  private readonly failures = new Map<string, number>();
  private draining = false;
  /** The rest of the queue waits for the next turn. */
  private resuming = false;
  private readonly onError: (e: ControllerError) => void;

  constructor(
    store: Store,
    private readonly controllers: readonly Controller[],
    private readonly clock: SimClock,
    options: HubOptions = {},
  ) {
    this.onError = options.onError ??
      ((e) =>
        console.error(
          `sim: controller ${e.controller} failed on ${e.key} (retry in ${e.retryInMs} ms): ${
            describe(e.error)
          }`,
        ));
    store.subscribe((e) => this.onEvent(e));
    store.onSettled(() => this.drain());
    for (const c of controllers) {
      c.attach?.({
        requeueAfter: (key, ms, onDue) => this.requeueAfter(c, key, ms, onDue),
        requeueNow: (key) => {
          this.enqueue(c, key);
          this.drain();
        },
      });
    }
  }

  private onEvent(e: StoreEvent) {
    for (const c of this.controllers) {
      try {
        c.observe?.(e);
        for (const key of c.keysFor(e)) this.enqueue(c, key);
      } catch (error) {
        this.onError({ controller: c.name, key: `(event ${e.type} ${e.kind.kind})`, error, retryInMs: 0 });
      }
    }
  }

  enqueue(c: Controller, key: string) {
    const id = `${c.name}\u0000${key}`;
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push([c, key]);
  }

  /** Reconciles `key` with `c` after `ms` of cluster time (a later turn, even for 0). */
  requeueAfter(c: Controller, key: string, ms: number, onDue?: () => void) {
    this.clock.after(ms, () => {
      onDue?.();
      this.enqueue(c, key);
      this.drain();
    });
  }

  drain() {
    if (this.draining || this.resuming) return;
    this.draining = true;
    let paused = false;
    try {
      const started = performance.now();
      let steps = 0;
      // An index, not shift(): a drain may take many thousands of keys.
      let next = 0;
      for (; next < this.queue.length; next++) {
        if (++steps > maxStepsPerDrain) {
          const [c, key] = this.queue[next];
          this.onError({
            controller: c.name,
            key,
            error: new Error(`controllers did not settle in ${maxStepsPerDrain} steps`),
            retryInMs: 1_000,
          });
          const rest = this.queue.slice(next);
          this.clock.after(1_000, () => {
            for (const [c, key] of rest) this.enqueue(c, key);
            this.drain();
          });
          for (const [c, key] of rest) this.queued.delete(`${c.name}\u0000${key}`);
          next = this.queue.length;
          break;
        }
        if (steps > 1 && performance.now() - started > turnBudgetMs) {
          paused = true;
          break;
        }
        const [c, key] = this.queue[next];
        const id = `${c.name}\u0000${key}`;
        this.queued.delete(id);
        try {
          c.reconcile(key);
          this.failures.delete(id);
        } catch (error) {
          const failures = (this.failures.get(id) ?? 0) + 1;
          this.failures.set(id, failures);
          const retryInMs = retryDelayMs(failures);
          this.onError({ controller: c.name, key, error, retryInMs });
          this.requeueAfter(c, key, retryInMs);
        }
      }
      this.queue.splice(0, next);
    } finally {
      this.draining = false;
    }
    if (paused) {
      this.resuming = true;
      this.clock.nextTurn(() => {
        this.resuming = false;
        this.drain();
      });
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
