/**
 * The hybrid histogram keep-alive policy of "Serverless in the Wild" (Shahrad et
 * al., ATC'20): per function, a histogram of idle times (1-minute bins, 4 hours);
 * when it is representative, unload after an invocation, pre-warm at the 5th
 * percentile of idle time (minus a 10% margin) and keep alive until the 99th
 * (plus 10%); otherwise fall back to a fixed keep-alive.
 */

export const binMs = 60_000;
export const rangeMs = 4 * 60 * 60_000;
const bins = rangeMs / binMs;

export interface Windows {
  /** Time after the last invocation to keep the function warm before unloading (ms). */
  readonly prewarmMs: number;
  /** Time after the last invocation until which a warm instance is kept (ms). */
  readonly keepAliveUntilMs: number;
  readonly reason: string;
}

export class IdleHistogram {
  private readonly counts = new Array<number>(bins).fill(0);
  private inRange = 0;
  private outOfRange = 0;

  record(idleMs: number) {
    if (idleMs < 0) return;
    if (idleMs >= rangeMs) {
      this.outOfRange++;
      return;
    }
    this.counts[Math.floor(idleMs / binMs)]++;
    this.inRange++;
  }

  get samples(): number {
    return this.inRange + this.outOfRange;
  }

  /** The idle time (ms, upper edge of its bin) at percentile p in [0, 100]. */
  percentile(p: number): number {
    const rank = Math.max(1, Math.ceil((p / 100) * this.inRange));
    let seen = 0;
    for (let i = 0; i < bins; i++) {
      seen += this.counts[i];
      if (seen >= rank) return (i + 1) * binMs;
    }
    return rangeMs;
  }

  /** Coefficient of variation of the bin counts: high when idle times concentrate in few bins. */
  coefficientOfVariation(): number {
    const mean = this.inRange / bins;
    if (mean === 0) return 0;
    let sq = 0;
    for (const c of this.counts) sq += (c - mean) ** 2;
    return Math.sqrt(sq / bins) / mean;
  }

  /**
   * The windows to apply after an invocation, or undefined when the histogram
   * is not representative (the caller then uses its fixed keep-alive).
   */
  windows(options: { minSamples?: number; minCv?: number; margin?: number } = {}): Windows | undefined {
    const minSamples = options.minSamples ?? 5;
    const minCv = options.minCv ?? 2;
    const margin = options.margin ?? 0.1;
    if (this.samples < minSamples) return undefined;
    if (this.outOfRange > this.inRange) return undefined;
    const cv = this.coefficientOfVariation();
    if (cv < minCv) return undefined;
    const head = this.percentile(5);
    const tail = this.percentile(99);
    const prewarm = Math.max(0, Math.floor(head * (1 - margin)) - binMs);
    return {
      prewarmMs: prewarm,
      keepAliveUntilMs: Math.ceil(tail * (1 + margin)),
      reason: `histogram of ${this.samples} idle times (cv ${cv.toFixed(1)}): head ${head / 60_000}m, tail ${
        tail / 60_000
      }m`,
    };
  }
}
