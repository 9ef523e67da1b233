/**
 * Synchronous change notification for the store: every event reaches every listener, in
 * resourceVersion order, before the write that caused it returns; then the settle hooks (the
 * controllers) run once for the burst. A listener or hook that throws affects neither the write nor
 * the others.
 */
import type { StoreEvent } from "./watch.ts";

export class Delivery {
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly settleHooks = new Set<() => void>();
  /** Events stored but not yet delivered to every listener (a listener's own writes wait here). */
  private undelivered: StoreEvent[] = [];
  private dispatching = false;
  /** Open `batch` calls: settle hooks wait until the last one ends. */
  private holding = 0;
  /** Events were delivered since the settle hooks last ran. */
  private unsettled = false;

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  /** Queues a stored event and delivers it (at once, unless a delivery is already running). */
  deliver(event: StoreEvent): void {
    this.undelivered.push(event);
    this.dispatch();
  }

  /**
   * Delivers undelivered events to every listener, oldest first, then runs the settle hooks (the
   * controllers), until nothing is left. Re-entrant calls (a listener or hook that writes) return at
   * once: their events are queued and delivered by the loop already running, after the current one.
   */
  private dispatch() {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (true) {
        while (this.undelivered.length > 0) {
          const events = this.undelivered;
          this.undelivered = [];
          for (const event of events) {
            for (const l of [...this.listeners]) this.guarded(() => l(event));
          }
          this.unsettled = true;
        }
        if (this.holding > 0 || !this.unsettled) break;
        this.unsettled = false;
        for (const h of [...this.settleHooks]) this.guarded(h);
        if (this.undelivered.length === 0) break;
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** Runs `f` with the settle hooks held until it ends (see Store.batch). */
  batch(f: () => void): void {
    this.holding++;
    try {
      f();
    } finally {
      this.holding--;
      if (this.holding === 0) this.dispatch();
    }
  }

  private guarded(f: () => void) {
    try {
      f();
    } catch (e) {
      try {
        this.onListenerError(e);
      } catch { /* reporting must not break delivery */ }
    }
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onSettled(hook: () => void): () => void {
    this.settleHooks.add(hook);
    return () => this.settleHooks.delete(hook);
  }
}
