/**
 * Wall-clock deadlines for many in-flight exchanges on one timer. `AbortSignal.timeout` (and the
 * `AbortSignal.any` that joins it to the client's signal) costs a timer, a signal and weak references per
 * invocation, kept until the timeout even after the answer; here a deadline is a list entry, dropped as
 * soon as the exchange is over, and one timer waits for the earliest.
 */

/** A pending deadline; `clear` it once what it bounds has finished. */
export interface Deadline {
  readonly at: number;
  /** Set once expired or cleared. */
  done: boolean;
  prev: Deadline | undefined;
  next: Deadline | undefined;
  readonly expire: () => void;
}

/** The longest wait a timer takes: setTimeout fires at once past 2^31 - 1 ms (about 24.8 days). */
export const maxTimerMs = 2 ** 31 - 1;

export interface DeadlineClock {
  now(): number;
  /** Calls `fn` after `ms`; the returned handle cancels it. The timer must not keep the process alive. */
  schedule(fn: () => void, ms: number): () => void;
}

const wallClock: DeadlineClock = {
  now: () => performance.now(),
  schedule: (fn, ms) => {
    const id = setTimeout(fn, ms);
    // Like AbortSignal.timeout: a pending deadline alone does not keep the process running.
    Deno.unrefTimer(id);
    return () => clearTimeout(id);
  },
};

export class Deadlines {
  #head: Deadline | undefined;
  #tail: Deadline | undefined;
  /** When the armed timer fires (Infinity: none armed), and how to cancel it. */
  #armedAt = Infinity;
  #cancel: (() => void) | undefined;
  #size = 0;

  constructor(private readonly clock: DeadlineClock = wallClock) {}

  /** Entries not yet expired or cleared. */
  get size(): number {
    return this.#size;
  }

  /** Calls `expire` once, `ms` from now, unless the returned deadline is cleared first. */
  add(ms: number, expire: () => void): Deadline {
    const d: Deadline = { at: this.clock.now() + ms, done: false, prev: undefined, next: undefined, expire };
    // Deadlines mostly arrive in order (one timeout for every invocation): append, else walk back.
    let after = this.#tail;
    while (after !== undefined && after.at > d.at) after = after.prev;
    d.prev = after;
    d.next = after ? after.next : this.#head;
    if (d.next) d.next.prev = d;
    else this.#tail = d;
    if (after) after.next = d;
    else this.#head = d;
    this.#size++;
    if (d.at < this.#armedAt) this.#arm(d.at);
    return d;
  }

  /** Drops a deadline that has not expired (nothing happens at its time); clearing twice is harmless. */
  clear(d: Deadline): void {
    if (d.done) return;
    d.done = true;
    this.#unlink(d);
  }

  #unlink(d: Deadline) {
    if (d.prev) d.prev.next = d.next;
    else this.#head = d.next;
    if (d.next) d.next.prev = d.prev;
    else this.#tail = d.prev;
    d.prev = d.next = undefined;
    this.#size--;
  }

  #arm(at: number) {
    this.#cancel?.();
    this.#armedAt = at;
    // A deadline further off than a timer can wait: wait that long, then re-arm for the rest.
    const ms = Math.min(maxTimerMs, Math.max(0, at - this.clock.now()));
    this.#cancel = this.clock.schedule(() => this.#fire(), ms);
  }

  #fire() {
    this.#armedAt = Infinity;
    this.#cancel = undefined;
    const now = this.clock.now();
    const expired: Deadline[] = [];
    for (let d = this.#head; d !== undefined && d.at <= now; d = this.#head) {
      d.done = true;
      this.#unlink(d);
      expired.push(d);
    }
    // Re-armed before the callbacks run, which may add deadlines of their own.
    if (this.#head) this.#arm(this.#head.at);
    for (const d of expired) d.expire();
  }
}
