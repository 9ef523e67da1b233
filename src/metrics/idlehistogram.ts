/**
 * The hybrid histogram keep-alive policy of "Serverless in the Wild" (Shahrad et
 * al., ATC'20): per function, a histogram of idle times (1-minute bins, 4 hours);
 * when it is representative, unload after an invocation, pre-warm at the 5th
 * percentile of idle time (minus a 10% margin) and keep alive until the 99th
 * (plus 10%); otherwise fall back to a fixed keep-alive.
 *
 * Representativeness: besides enough samples and not mostly out-of-range idle
 * times, the histogram's windows must have done better than the fixed
 * keep-alive on the function's own idle-time history, scored as warm replica
 * time plus `coldStartCostMs` per cold start. Candidates are the paper's
 * windows, the paper's pre-warm point with the best keep-alive for it, and no
 * pre-warm with the best keep-alive (which also unloads sooner than the fixed
 * keep-alive when that would only have kept an idle replica); the best one wins,
 * and when the fixed keep-alive scores best the caller falls back to it.
 */

const binMs = 60_000;
const rangeMs = 4 * 60 * 60_000;
/** 240 buckets: what a persisted history holds at most (src/cluster/history.ts), plus the out-of-range count. */
export const bins = rangeMs / binMs;
/** A bucket's count as persisted is capped here (9 digits), which bounds the record's size. */
export const maxPersistedCount = 999_999_999;

/** The histogram's counts, as persisted: the non-empty buckets as [index, count], and the out-of-range count. */
export interface IdleCounts {
  readonly bins: readonly (readonly [number, number])[];
  readonly outOfRange: number;
}

export interface Windows {
  /** Time after the last invocation to keep the function warm before unloading (ms). */
  readonly prewarmMs: number;
  /** Time after the last invocation until which a warm instance is kept (ms). */
  readonly keepAliveUntilMs: number;
  readonly reason: string;
}

/** Fewer idle times than this are not representative. */
const minSamples = 5;
/** The fraction by which pre-warm comes before the head of the distribution and keep-alive goes past its tail. */
const margin = 0.1;
/** Replica time a cold start is worth when comparing windows. */
const coldStartCostMs = 60 * 60_000;

/**
 * Pre-warm points below this are not worth an unload (a pod stopped and started
 * again for a few minutes of idle replica time): the function stays warm from the start.
 */
const minPrewarmMs = 5 * 60_000;

export class IdleHistogram {
  private readonly counts = new Array<number>(bins).fill(0);
  private inRange = 0;
  private outOfRange = 0;
  /** windows() per fixed keep-alive, until the next record (the scaler asks every tick). */
  private readonly cached = new Map<number, Windows | undefined>();

  record(idleMs: number) {
    if (idleMs < 0) return;
    this.cached.clear();
    if (idleMs >= rangeMs) {
      this.outOfRange++;
      return;
    }
    this.counts[Math.floor(idleMs / binMs)]++;
    this.inRange++;
  }

  /** The non-empty buckets and the out-of-range count, each capped at maxPersistedCount. */
  snapshot(): IdleCounts {
    const out: [number, number][] = [];
    this.counts.forEach((c, i) => c > 0 && out.push([i, Math.min(c, maxPersistedCount)]));
    return { bins: out, outOfRange: Math.min(this.outOfRange, maxPersistedCount) };
  }

  /** Adds counts (a loaded history) to this histogram; out-of-range bucket indexes are ignored. */
  add(counts: IdleCounts) {
    this.cached.clear();
    for (const [i, c] of counts.bins) {
      if (!Number.isInteger(i) || i < 0 || i >= bins || !(c > 0)) continue;
      this.counts[i] += c;
      this.inRange += c;
    }
    this.outOfRange += Math.max(0, counts.outOfRange);
  }

  /** Forgets every count (a loaded history replaces what this replica kept). */
  clear() {
    this.cached.clear();
    this.counts.fill(0);
    this.inRange = 0;
    this.outOfRange = 0;
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
   * Score of windows (pre-warm `p`, keep alive until `k`) over the recorded idle
   * times (bin midpoints; out-of-range ones are cold and cost `k - p`): warm
   * replica time plus `coldCost` per cold start.
   */
  score(p: number, k: number, coldCost: number): { score: number; cold: number; warmMs: number } {
    let cold = this.outOfRange, warmMs = this.outOfRange * Math.max(0, k - p);
    for (let i = 0; i < bins; i++) {
      const c = this.counts[i];
      if (c === 0) continue;
      const x = (i + 0.5) * binMs;
      if (x < p || x >= k) cold += c;
      warmMs += c * Math.max(0, Math.min(x, k) - p);
    }
    return { score: warmMs + cold * coldCost, cold, warmMs };
  }

  /** The keep-alive (a bin edge above `p`, up to the range) with the lowest score for pre-warm point `p`. */
  bestKeepAlive(p: number, coldCost: number): number {
    // One sweep over the bin edges k = e * binMs with running sums: bins below e are warm (idle < k).
    let belowP = 0, above = this.outOfRange;
    for (let i = 0; i < bins; i++) {
      if ((i + 0.5) * binMs < p) belowP += this.counts[i];
      above += this.counts[i];
    }
    let warmMs = 0, best = rangeMs, bestScore = Infinity;
    for (let e = 1; e <= bins; e++) {
      const c = this.counts[e - 1];
      warmMs += c * Math.max(0, (e - 0.5) * binMs - p);
      above -= c;
      const k = e * binMs;
      if (k <= p) continue;
      const score = warmMs + above * (k - p) + coldCost * (belowP + above);
      if (score < bestScore) {
        bestScore = score;
        best = k;
      }
    }
    return best;
  }

  /**
   * The windows to apply after an invocation, or undefined when the histogram
   * is not representative (the caller then uses its fixed keep-alive, which
   * the windows must beat).
   */
  windows(fixedKeepAliveMs = 15 * 60_000): Windows | undefined {
    if (this.cached.has(fixedKeepAliveMs)) return this.cached.get(fixedKeepAliveMs);
    const w = this.compute(fixedKeepAliveMs);
    this.cached.set(fixedKeepAliveMs, w);
    return w;
  }

  private compute(fixed: number): Windows | undefined {
    const coldCost = coldStartCostMs;
    if (this.samples < minSamples) return undefined;
    if (this.outOfRange > this.inRange) return undefined;
    const head = this.percentile(5);
    const tail = this.percentile(99);
    let prewarm = Math.max(0, Math.floor(head * (1 - margin)) - binMs);
    if (prewarm < minPrewarmMs) prewarm = 0;
    const candidates: [string, number, number][] = [
      ["paper", prewarm, Math.max(prewarm + binMs, Math.ceil(tail * (1 + margin)))],
      ["pre-warm, best keep-alive", prewarm, this.bestKeepAlive(prewarm, coldCost)],
      ["best keep-alive", 0, this.bestKeepAlive(0, coldCost)],
    ];
    const baseline = this.score(0, fixed, coldCost);
    let best: { name: string; p: number; k: number; score: number; cold: number } | undefined;
    for (const [name, p, k] of candidates) {
      const s = this.score(p, k, coldCost);
      if (!best || s.score < best.score) best = { name, p, k, score: s.score, cold: s.cold };
    }
    if (!best || best.score >= baseline.score) return undefined;
    const cv = this.coefficientOfVariation();
    const min = (ms: number) => `${(ms / 60_000).toFixed(0)}m`;
    return {
      prewarmMs: best.p,
      keepAliveUntilMs: best.k,
      reason: `histogram of ${this.samples} idle times (cv ${cv.toFixed(1)}): head ${min(head)}, tail ${
        min(tail)
      }; ${best.name}: warm from ${min(best.p)} to ${
        min(best.k)
      } (${best.cold} cold vs ${baseline.cold} with the fixed ${min(fixed)})`,
    };
  }
}
