/**
 * Idle times across the provider's replicas. Each replica knows only when the requests it proxied for a
 * function were in flight: its busy periods (from a request starting with none in flight to the last one
 * ending). The function was idle only where no replica was busy, so the leader folds every replica's
 * periods into one timeline and records the gaps of their union in the function's idle-time histogram.
 *
 * The fold runs up to a horizon: the earliest time at which every replica's periods were read (a replica
 * read 3 s ago may since have started a request that closes a gap). Periods that end before the last
 * horizon were folded already and are skipped; a period seen open (requests still in flight) counts as busy
 * up to the horizon. A gap is recorded when a period starts at or after the last horizon, after the end of
 * everything before it: with one replica these are exactly the idle times between its busy periods, the
 * same values as recording at each request that starts with none in flight.
 */

/** One replica's busy periods for a function: closed ones `[start, end]`, oldest first, and the open one. */
export interface BusyPeriods {
  readonly periods: readonly (readonly [number, number])[];
  /** When the period still open began (requests in flight), or 0. */
  readonly since: number;
}

export class IdleTimeline {
  /** The horizon of the last fold: everything before it is in the histogram. */
  frontier = 0;
  /** The end of the last busy time before the frontier (the frontier itself if busy there; 0: never busy). */
  lastBusyEnd = 0;

  /**
   * Folds the sources' busy periods up to `horizon` and calls `record` with each idle time found, in order.
   * A horizon before the frontier changes nothing.
   */
  fold(sources: readonly BusyPeriods[], horizon: number, record: (idleMs: number) => void) {
    if (horizon < this.frontier) return;
    const from = this.frontier;
    const spans: (readonly [number, number])[] = [];
    for (const s of sources) {
      for (const p of s.periods) if (p[1] >= from && p[0] <= horizon) spans.push(p);
      if (s.since > 0 && s.since <= horizon) spans.push([s.since, horizon]);
    }
    if (spans.length > 1) spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let end = this.lastBusyEnd;
    for (const [start, stop] of spans) {
      // A period begun before the frontier continues what was folded: no gap before it. One begun at the
      // frontier may have been folded already (open then): only a gap of more than zero is sure to be new.
      if (end > 0 && (start > from ? start >= end : start === from && start > end)) record(start - end);
      if (stop > end) end = stop;
    }
    this.lastBusyEnd = end;
    this.frontier = horizon;
  }

  /** Starts again from a persisted state: folded up to `frontier`, last busy until `lastBusyEnd`. */
  reset(frontier: number, lastBusyEnd: number) {
    this.frontier = frontier;
    this.lastBusyEnd = lastBusyEnd;
  }
}
