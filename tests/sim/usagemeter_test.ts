/**
 * The simulator's UsageMeter, with a hand-driven clock: a cAdvisor-style CPU counter averaged over a
 * window and working-set memory, per pod; and the CPU and memory each image costs.
 */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import { type MeteredPod, UsageMeter } from "../../sim/usagemeter.ts";
import { defaultCosts, imageCosts } from "../../sim/images/catalog.ts";

const Mi = 1024 * 1024;
const t0 = Date.parse("2026-01-01T00:00:00Z");

const meterFor = (pods: Record<string, Partial<MeteredPod>>, options: { windowMs?: number } = {}) => {
  const clock = { t: t0 };
  const known = new Map(
    Object.entries(pods).map(([name, p]) => [name, {
      id: name,
      startedAt: t0,
      cpuLimitMillis: Infinity,
      baseMemoryBytes: 8 * Mi,
      ...p,
    }]),
  );
  const meter = new UsageMeter(
    { now: () => clock.t },
    (ns, name) => ns === "fn" ? known.get(name) : undefined,
    options,
  );
  const cpuMillis = (name: string) => meter.podMetrics("fn", name)!.cpuNanoCores / 1e6;
  return { clock, known, meter, cpuMillis };
};

Deno.test("usage meter: an idle pod uses 1m and its base memory", () => {
  const { clock, meter } = meterFor({ a: {} });
  clock.t = t0 + 120_000;
  const m = meter.podMetrics("fn", "a")!;
  assert.equal(m.cpuNanoCores, 1_000_000);
  assert.equal(m.memoryBytes, 8 * Mi);
  assert.equal(m.windowMs, 30_000);
  assert.equal(m.timestamp, t0 + 120_000);
});

Deno.test("usage meter: N requests in flight for the whole window add N x cpuMillis, capped by the limit", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: {}, capped: { cpuLimitMillis: 250 } });
  clock.t = t0 + 10_000;
  const ends = [1, 2, 3].flatMap(
    () => [meter.begin("fn", "a", 100, 2 * Mi), meter.begin("fn", "capped", 100, 0)],
  );
  clock.t = t0 + 60_000;
  assert.equal(cpuMillis("a"), 301);
  assert.equal(cpuMillis("capped"), 250, "3 x 100m + 1m capped at the 250m limit");
  assert.equal(meter.inFlight("fn", "a"), 3);
  ends.forEach((end) => end());
  assert.equal(meter.inFlight("fn", "a"), 0);
});

Deno.test("usage meter: after the load stops, usage decays to idle within one window", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: {} });
  clock.t = t0 + 5_000;
  const ends = [meter.begin("fn", "a", 100, 0), meter.begin("fn", "a", 100, 0)];
  clock.t = t0 + 60_000;
  assert.equal(cpuMillis("a"), 201);
  ends.forEach((end) => end());
  clock.t = t0 + 75_000;
  assert.equal(cpuMillis("a"), (15 * 201 + 15 * 1) / 30, "half the window busy");
  clock.t = t0 + 89_000;
  assert.ok(cpuMillis("a") > 1);
  clock.t = t0 + 90_000;
  assert.equal(cpuMillis("a"), 1);
  clock.t = t0 + 3_600_000;
  assert.equal(cpuMillis("a"), 1);
});

Deno.test("usage meter: memory is the base plus requests in flight; end is idempotent", () => {
  const { clock, meter } = meterFor({ a: { baseMemoryBytes: 12 * Mi } });
  const one = meter.begin("fn", "a", 20, 2 * Mi);
  const two = meter.begin("fn", "a", 20, 3 * Mi);
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 17 * Mi);
  one();
  one();
  clock.t += 1_000;
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 15 * Mi, "a second end() changes nothing");
  assert.equal(meter.inFlight("fn", "a"), 1);
  two();
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 12 * Mi);
});

Deno.test("usage meter: a pod younger than the window is averaged over its lifetime", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: { startedAt: t0 + 1_000 } });
  clock.t = t0 + 6_000;
  const end = meter.begin("fn", "a", 100, 0);
  clock.t = t0 + 11_000;
  const m = meter.podMetrics("fn", "a")!;
  assert.equal(m.windowMs, 10_000);
  assert.equal(cpuMillis("a"), (5 * 1 + 5 * 101) / 10);
  end();
  // Exactly at startup there is no interval yet: the current rate.
  const fresh = meterFor({ b: {} });
  assert.equal(fresh.meter.podMetrics("fn", "b")!.windowMs, 0);
  assert.equal(fresh.cpuMillis("b"), 1);
});

Deno.test("usage meter: the window is at most windowMs and at least windowMs - 1 s off the grid", () => {
  const { clock, meter } = meterFor({ a: {} });
  const end = meter.begin("fn", "a", 50, 0);
  clock.t = t0 + 100_500;
  const m = meter.podMetrics("fn", "a")!;
  assert.equal(m.windowMs, 29_500);
  assert.equal(m.cpuNanoCores, 51_000_000);
  end();
});

Deno.test("usage meter: deleted pods are forgotten; a restarted container starts a new counter", () => {
  const { clock, known, meter, cpuMillis } = meterFor({ a: {}, b: {} });
  const endA = meter.begin("fn", "a", 100, 0);
  meter.begin("fn", "b", 100, 0);
  assert.equal(meter.size, 2);
  meter.forget("fn", "b");
  assert.equal(meter.size, 1);
  // A pod that is gone (or no longer running) is dropped when read.
  known.delete("a");
  clock.t = t0 + 10_000;
  assert.equal(meter.podMetrics("fn", "a"), undefined);
  assert.equal(meter.size, 0);
  endA(); // ending a request of a forgotten pod is harmless
  // Same name, new container run: a fresh counter, not the old one's history.
  known.set("a", { id: "a#2", startedAt: t0 + 10_000, cpuLimitMillis: Infinity, baseMemoryBytes: 0 });
  const old = meter.begin("fn", "a", 500, 0);
  clock.t = t0 + 20_000;
  assert.equal(cpuMillis("a"), 501);
  known.set("a", { id: "a#3", startedAt: t0 + 20_000, cpuLimitMillis: Infinity, baseMemoryBytes: 0 });
  clock.t = t0 + 30_000;
  old();
  assert.equal(cpuMillis("a"), 1, "the restart dropped the old counter and its in-flight request");
  assert.equal(meter.podMetrics("other-namespace", "a"), undefined);
  assert.equal(meter.begin("fn", "unknown", 100, 0)(), undefined, "an unknown pod is not metered");
  assert.equal(meter.size, 1);
});

Deno.test("usage meter: the average equals the exact integral of the capped rate over the reported window", () => {
  fc.assert(
    fc.property(
      fc.record({
        startOffset: fc.integer({ min: 0, max: 5_000 }),
        cap: fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
        ops: fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 9_000 }),
            op: fc.constantFrom("begin", "begin", "end", "query"),
            cpu: fc.integer({ min: 0, max: 300 }),
            mem: fc.integer({ min: 0, max: 4 * Mi }),
            pick: fc.nat(),
          }),
          { maxLength: 60 },
        ),
      }),
      ({ startOffset, cap, ops }) => {
        const startedAt = t0 + startOffset;
        const { clock, meter } = meterFor({ a: { startedAt, cpuLimitMillis: cap ?? Infinity } });
        clock.t = startedAt;
        const requests: { start: number; end?: number; cpu: number; mem: number; stop: () => void }[] = [];
        const rateAt = (t: number) => {
          let r = 1;
          for (const q of requests) if (q.start <= t && (q.end === undefined || t < q.end)) r += q.cpu;
          return Math.min(r, cap ?? Infinity);
        };
        const check = () => {
          const m = meter.podMetrics("fn", "a")!;
          const now = clock.t;
          const from = now - m.windowMs;
          if (now - startedAt < 30_000) assert.equal(from, startedAt);
          else assert.ok(m.windowMs <= 30_000 && m.windowMs > 29_000, `window ${m.windowMs}`);
          const points = [
            from,
            now,
            ...requests.flatMap((q) => [q.start, q.end ?? now]).filter((t) => t > from && t < now),
          ].sort((a, b) => a - b);
          let integral = 0;
          for (let i = 1; i < points.length; i++) {
            integral += rateAt(points[i - 1]) * (points[i] - points[i - 1]);
          }
          const expected = m.windowMs > 0 ? integral / m.windowMs : rateAt(now);
          assert.ok(
            Math.abs(m.cpuNanoCores / 1e6 - expected) < 1e-5,
            `${m.cpuNanoCores / 1e6} vs ${expected}`,
          );
          const open = requests.filter((q) => q.end === undefined).reduce((s, q) => s + q.mem, 0);
          assert.equal(m.memoryBytes, 8 * Mi + open);
        };
        for (const o of ops) {
          clock.t += o.dt;
          const open = requests.filter((q) => q.end === undefined);
          if (o.op === "begin") {
            const stop = meter.begin("fn", "a", o.cpu, o.mem);
            requests.push({ start: clock.t, cpu: o.cpu, mem: o.mem, stop });
          } else if (o.op === "end" && open.length > 0) {
            const q = open[o.pick % open.length];
            q.stop();
            q.stop();
            q.end = clock.t;
          } else check();
        }
        clock.t += 1_234;
        check();
      },
    ),
    { numRuns: runs(200) },
  );
});

Deno.test("usage meter: a million requests keep the per-pod state small and the result exact", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: {} });
  // 1000 requests per second of 10 ms each at 100m: 1 request in flight on average.
  for (let i = 0; i < 1_000_000; i++) {
    const end = meter.begin("fn", "a", 100, 1024);
    clock.t += 10;
    end();
  }
  assert.equal(clock.t, t0 + 10_000_000);
  assert.ok(Math.abs(cpuMillis("a") - 101) < 1e-6, String(cpuMillis("a")));
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 8 * Mi);
  assert.equal(meter.size, 1);
});

Deno.test("image costs: defaults by behaviour, an image's own fields win, oom uses its memoryBytes", () => {
  const watchdog = {
    repository: "x/w",
    behaviour: "watchdog",
    pullMs: 0,
    startupMs: 0,
    description: "",
  } as const;
  assert.deepEqual(imageCosts(watchdog), {
    cpuMillisPerRequest: 100,
    memoryBytesPerRequest: 2 * Mi,
    baseMemoryBytes: 8 * Mi,
  });
  assert.equal(imageCosts({ ...watchdog, cpuMillisPerRequest: 7 }).cpuMillisPerRequest, 7);
  assert.equal(
    imageCosts({ ...watchdog, behaviour: "oom", memoryBytes: 512 * Mi }).baseMemoryBytes,
    512 * Mi,
  );
  assert.equal(defaultCosts["http-echo"].cpuMillisPerRequest, 20);
  assert.equal(defaultCosts["http-echo"].baseMemoryBytes, 12 * Mi);
  assert.equal(defaultCosts.sleep.cpuMillisPerRequest, 5);
});
