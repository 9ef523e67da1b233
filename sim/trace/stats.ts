/** Summary statistics shared by trace replays and the benchmarks. */

/** The nearest-rank `q` quantile (0..1) of ascending `sorted`; 0 when it is empty. */
export const percentile = (sorted: ArrayLike<number>, q: number): number =>
  sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
