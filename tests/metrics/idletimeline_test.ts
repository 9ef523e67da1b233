/**
 * The idle-time fold (src/metrics/idletimeline.ts): the gaps it records, however often and at whatever
 * horizons it is folded, and however each replica's periods were read, are the gaps of the union of every
 * replica's busy periods; with one replica, the idle times between its own busy periods.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type BusyPeriods, IdleTimeline } from "../../src/metrics/idletimeline.ts";

type Span = readonly [number, number];

/** One replica's busy periods: disjoint, oldest first, on whole milliseconds, separated by at least 1 ms. */
const replicaPeriods = fc.array(
  fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 0, max: 3_000 })),
  {
    maxLength: 25,
  },
).map((steps) => {
  const out: Span[] = [];
  let t = 0;
  for (const [gap, length] of steps) {
    const start = t + gap;
    out.push([start, start + length]);
    t = start + length;
  }
  return out;
});

/** The gaps of the union, as one replica recording at each start with none in flight would see them. */
const unionGaps = (replicas: readonly Span[][]): number[] => {
  const all = replicas.flat().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const gaps: number[] = [];
  let end = 0;
  for (const [s, e] of all) {
    if (end > 0 && s >= end) gaps.push(s - end);
    end = Math.max(end, e);
  }
  return gaps;
};

/** What a replica read at `t` reports: periods closed by then, and the one open at `t`. */
const readAt = (periods: readonly Span[], t: number): BusyPeriods => {
  const closed = periods.filter(([, e]) => e < t);
  const open = periods.find(([s, e]) => s <= t && t <= e);
  return { periods: closed, since: open ? open[0] : 0 };
};

Deno.test("idle timeline: one replica's gaps are the idle times between its busy periods, folded at any horizons", () => {
  fc.assert(
    fc.property(
      replicaPeriods,
      fc.array(fc.integer({ min: 0, max: 200_000 }), { maxLength: 30 }),
      (periods, hs) => {
        const timeline = new IdleTimeline();
        const gaps: number[] = [];
        // Horizons between milliseconds: no period starts exactly at one.
        for (const h of [...new Set(hs)].sort((a, b) => a - b)) {
          timeline.fold([readAt(periods, h + 0.5)], h + 0.5, (g) => gaps.push(g));
        }
        timeline.fold([readAt(periods, 1e9)], 1e9, (g) => gaps.push(g));
        assert.deepEqual(gaps, unionGaps([periods]));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("idle timeline: several replicas, each read at its own time, give the gaps of their union", () => {
  fc.assert(
    fc.property(
      fc.array(replicaPeriods, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 200_000 }), fc.array(fc.nat(3_000), { maxLength: 4 })), {
        maxLength: 25,
      }),
      (replicas, folds) => {
        const timeline = new IdleTimeline();
        const gaps: number[] = [];
        for (const [h, lags] of [...folds].sort((a, b) => a[0] - b[0])) {
          // Each replica read at the horizon or later: the horizon is the earliest read.
          const reads = replicas.map((p, i) => readAt(p, h + 0.5 + (i === 0 ? 0 : lags[i] ?? 0)));
          timeline.fold(reads, h + 0.5, (g) => gaps.push(g));
        }
        timeline.fold(replicas.map((p) => readAt(p, 1e9)), 1e9, (g) => gaps.push(g));
        assert.deepEqual(gaps, unionGaps(replicas));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("idle timeline: a period open at a fold is busy up to it; a horizon before the frontier changes nothing", () => {
  const timeline = new IdleTimeline();
  const gaps: number[] = [];
  const record = (g: number) => gaps.push(g);
  timeline.fold([{ periods: [[1_000, 2_000]], since: 0 }], 3_000, record);
  timeline.fold([{ periods: [[1_000, 2_000]], since: 10_000 }], 12_000, record);
  assert.deepEqual(gaps, [8_000], "none before the first busy period; the open one starts a gap's end");
  assert.equal(timeline.lastBusyEnd, 12_000);
  // Another replica's period, begun before the frontier, continues what was folded: no gap.
  timeline.fold([{ periods: [[10_000, 15_000], [11_000, 16_000]], since: 0 }], 20_000, record);
  assert.deepEqual(gaps, [8_000]);
  timeline.fold([{ periods: [[30_000, 31_000]], since: 0 }], 19_000, record);
  assert.equal(timeline.frontier, 20_000, "an older horizon is ignored");
  timeline.fold([{ periods: [[30_000, 31_000]], since: 40_000 }], 41_000, record);
  assert.deepEqual(gaps, [8_000, 14_000, 9_000]);
  // Restored from a record: folded up to when it was saved.
  timeline.reset(50_000, 45_000);
  timeline.fold([{ periods: [[44_000, 45_000], [60_000, 61_000]], since: 0 }], 70_000, record);
  assert.deepEqual(gaps, [8_000, 14_000, 9_000, 15_000]);
});
