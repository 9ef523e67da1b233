/** Trace replay (sim/trace.ts): CSV parsing, generators, policies on small traces, the HTML report. */
import assert from "node:assert/strict";
import { generate } from "../../sim/trace/generators.ts";
import { main } from "../../sim/trace.ts";
import { parseTrace, TraceParseError } from "../../sim/trace/csv.ts";
import type { PolicyResult, Trace, TraceEvent } from "../../sim/trace/types.ts";
import { renderHtml } from "../../sim/trace/report.ts";
import { replay } from "../../sim/trace/replay.ts";
import { compareReplicas } from "../../bench/scaling_bench.ts";

const every = (fn: string, periodMs: number, hours: number, durationMs = 100, offset = 0): TraceEvent[] =>
  Array.from({ length: Math.floor((hours * 3_600_000 - offset) / periodMs) }, (_, i) => ({
    t: offset + i * periodMs,
    fn,
    durationMs,
  }));

const traceOf = (events: TraceEvent[], hours: number): Trace => {
  const sorted = [...events].sort((a, b) => a.t - b.t);
  return { events: sorted, functions: [...new Set(sorted.map((e) => e.fn))], durationMs: hours * 3_600_000 };
};

Deno.test("CSV: seconds, explicit units, header, comments, unsorted lines", () => {
  const t = parseTrace(
    [
      "# a comment",
      "timestamp,function,duration_ms",
      "",
      "2.5,resize,120",
      "1500ms,thumb,80.5",
      "0,resize,10",
      "3s,thumb,0",
    ].join("\n"),
  );
  assert.deepEqual(t.events, [
    { t: 0, fn: "resize", durationMs: 10 },
    { t: 1500, fn: "thumb", durationMs: 80.5 },
    { t: 2500, fn: "resize", durationMs: 120 },
    { t: 3000, fn: "thumb", durationMs: 0 },
  ]);
  assert.deepEqual(t.functions, ["resize", "thumb"]);
  assert.ok(t.durationMs > 3000);
  // timestamp_ms header and --time-unit ms: bare numbers are milliseconds
  assert.equal(parseTrace("timestamp_ms,function,duration_ms\n250,a,1\n").events[0].t, 250);
  assert.equal(parseTrace("250,a,1\n", { timeUnit: "ms" }).events[0].t, 250);
});

Deno.test("CSV: RFC 3339 timestamps are relative to the earliest", () => {
  const t = parseTrace("2026-01-01T08:00:01.250Z,a,5\n2026-01-01T09:00:00+01:00,b,7\n");
  assert.deepEqual(t.events.map((e) => [e.t, e.fn]), [[0, "b"], [1250, "a"]]);
});

Deno.test("CSV: bad lines are reported with their line numbers", () => {
  const text = [
    "timestamp,function,duration_ms", // 1
    "1,ok,5", // 2
    "x,ok,5", // 3: bad timestamp
    "2,Bad_Name,5", // 4: bad function
    "3,ok,-1", // 5: bad duration
    "4,ok", // 6: too few fields
    "# fine", // 7
    "5,ok,7", // 8
  ].join("\n");
  let error: unknown;
  try {
    parseTrace(text);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof TraceParseError, "throws TraceParseError");
  assert.deepEqual(error.errors.map((e) => e.line), [3, 4, 5, 6]);
  assert.match(error.message, /^line 3: timestamp "x"/m);
  assert.match(error.message, /^line 4: function "Bad_Name"/m);
  assert.match(error.message, /^line 5: duration_ms "-1"/m);
  assert.match(error.message, /^line 6: expected 3 fields/m);
  assert.throws(() => parseTrace("1,a,1\n2026-01-01T00:00:00Z,a,1\n"), /line 2: mixes relative and RFC 3339/);
  assert.throws(() => parseTrace("# nothing\n"), /no invocations/);
});

Deno.test("generators are deterministic per seed and differ between seeds", () => {
  for (const kind of ["poisson", "diurnal", "bursty", "periodic"] as const) {
    const a = generate(kind, { functions: 3, hours: 2, seed: 7 });
    const b = generate(kind, { functions: 3, hours: 2, seed: 7 });
    const c = generate(kind, { functions: 3, hours: 2, seed: 8 });
    assert.ok(a.events.length > 0, `${kind} has events`);
    assert.deepEqual(a, b, `${kind}: same seed, same trace`);
    assert.notDeepEqual(a.events, c.events, `${kind}: another seed, another trace`);
    assert.ok(a.events.every((e, i) => i === 0 || a.events[i - 1].t <= e.t), `${kind}: sorted`);
    assert.ok(a.events.every((e) => e.t >= 0 && e.t < a.durationMs && e.durationMs > 0));
  }
});

Deno.test("fixed policy: no cold starts after warm-up, one replica per function all the time", async () => {
  const trace = generate("poisson", { functions: 3, hours: 2, seed: 3 });
  const r = await replay(trace, { policy: "fixed" });
  assert.equal(r.invocations, trace.events.length);
  assert.equal(r.errors, 0);
  assert.equal(r.coldStarts, 0);
  assert.equal(r.scaleEvents, 0);
  assert.equal(r.addedLatencyP99, 0, "warm requests take exactly duration_ms");
  assert.equal(Math.round(r.replicaSeconds), 3 * 2 * 3600);
});

Deno.test("reactive+idler: sparse functions cold-start, busy ones do not", async () => {
  const trace = traceOf([...every("sparse", 35 * 60_000, 2, 100, 60_000), ...every("busy", 10_000, 2)], 2);
  const r = await replay(trace, { policy: "reactive+idler" });
  assert.equal(r.errors, 0);
  assert.equal(r.perFunction.busy.coldStarts, 0);
  // at 1, 36 and 71 minutes: the first finds the warm start-up replica, the others come after 15m idle
  assert.equal(r.perFunction.sparse.coldStarts, 2);
  assert.ok(r.addedLatencyMax > 500, `a cold start adds latency (${r.addedLatencyMax} ms)`);
  assert.ok(r.perFunction.sparse.replicaSeconds < 0.5 * 7200, "sparse spends most of the time at zero");
  assert.ok(r.perFunction.busy.replicaSeconds >= 7200);
});

Deno.test("replicas: 2 replicas (leader election, traffic round-robin) match 1 replica within 5%", async () => {
  const trace = traceOf(
    [
      ...every("sparse", 35 * 60_000, 2, 100, 60_000),
      ...every("mid", 4 * 60_000, 2, 300),
      ...every("warm", 150_000, 2, 50, 5_000),
      ...every("busy", 10_000, 2),
    ],
    2,
  );
  const options = { policy: "reactive+idler", zeroDurationMs: 3 * 60_000 } as const;
  const one = await replay(trace, options);
  const two = await replay(trace, { ...options, replicas: 2 });
  assert.equal(two.errors + one.errors, 0);
  assert.equal(two.invocations, trace.events.length);
  assert.deepEqual(Object.keys(two.perFunction).sort(), ["busy", "mid", "sparse", "warm"]);
  // Every 2.5 min, under the 3 min zero-duration, but each replica alone sees it less often: it stays warm
  // only if the leader counts every replica's traffic.
  assert.equal(two.perFunction.warm.coldStarts, 0);
  assert.ok(one.coldStarts >= 10, `the trace scales to zero and back (${one.coldStarts} cold starts)`);
  // Tolerance: 5% of the 1-replica figure, the bench's target (bench/scaling_bench.ts --replicas).
  const close = (a: number, b: number) => Math.abs(b - a) <= 0.05 * a;
  assert.ok(close(one.coldStarts, two.coldStarts), `cold starts ${one.coldStarts} vs ${two.coldStarts}`);
  assert.ok(
    close(one.replicaSeconds, two.replicaSeconds),
    `replica-seconds ${one.replicaSeconds} vs ${two.replicaSeconds}`,
  );
  assert.ok(close(one.scaleEvents, two.scaleEvents), `scale events ${one.scaleEvents} vs ${two.scaleEvents}`);
  await assert.rejects(replay(trace, { ...options, replicas: 0 }), /replicas: 0 is not a whole number/);
});

Deno.test("replicas: 3 replicas under the predictive policy match 1 replica (the histogram spans every replica)", async () => {
  // A timer every 5 min, dealt round-robin: each replica alone sees it every 15 min, past its keep-alive.
  const trace = traceOf([...every("timer", 5 * 60_000, 3, 200, 30_000), ...every("busy", 20_000, 3)], 3);
  const options = { policy: "predictive", zeroDurationMs: 2 * 60_000 } as const;
  const one = await replay(trace, options);
  const three = await replay(trace, { ...options, replicas: 3 });
  assert.equal(one.errors, 0);
  assert.equal(three.errors, 0, "no request failed while another replica's scale from zero was pending");
  assert.ok(
    one.perFunction.timer.coldStarts <= 6,
    `the predictor learns the 5 min period (${one.perFunction.timer.coldStarts} cold starts)`,
  );
  const close = (a: number, b: number) => Math.abs(b - a) <= Math.max(1, 0.05 * a);
  assert.ok(close(one.coldStarts, three.coldStarts), `cold starts ${one.coldStarts} vs ${three.coldStarts}`);
  assert.ok(
    close(one.replicaSeconds, three.replicaSeconds),
    `replica-seconds ${one.replicaSeconds} vs ${three.replicaSeconds}`,
  );
});

Deno.test("scaling bench --replicas: the side-by-side table marks a figure off by more than 5% MISSED", () => {
  const result = (
    policy: PolicyResult["policy"],
    coldStarts: number,
    replicaSeconds: number,
  ): PolicyResult => ({
    policy,
    invocations: 10,
    errors: 0,
    coldStarts,
    addedLatencyP50: 0,
    addedLatencyP99: 0,
    addedLatencyMax: 0,
    replicaSeconds,
    scaleEvents: 0,
    perFunction: {},
    loadPerMinute: [],
    replicasPerMinute: [],
    wallMs: 0,
  });
  const good = compareReplicas(3, [[
    result("reactive+idler", 100, 1000),
    result("reactive+idler", 104, 960),
  ]]);
  assert.ok(good.ok);
  assert.match(good.text, /reactive\+idler\s+cold starts\s+100\s+104\s+\+4\.0%\s+ok/);
  assert.match(good.text, /replica-seconds\s+1000\s+960\s+-4\.0%\s+ok/);
  const bad = compareReplicas(3, [
    [result("predictive", 100, 1000), result("predictive", 100, 1100)],
    [result("reactive+idler", 0, 10), result("reactive+idler", 1, 10)],
  ]);
  assert.ok(!bad.ok);
  assert.match(bad.text, /predictive\s+replica-seconds\s+1000\s+1100\s+\+10\.0%\s+MISSED/);
  assert.match(bad.text, /reactive\+idler\s+cold starts\s+0\s+1\s+n\/a\s+MISSED/);
});

Deno.test("predictive: fewer cold starts than reactive+idler for a periodic timer", async () => {
  const trace = traceOf(every("timer", 5 * 60_000, 2, 200, 30_000), 2);
  const options = { zeroDurationMs: 2 * 60_000 };
  const idler: PolicyResult = await replay(trace, { ...options, policy: "reactive+idler" });
  const predictive: PolicyResult = await replay(trace, { ...options, policy: "predictive" });
  assert.equal(idler.errors + predictive.errors, 0);
  assert.ok(idler.coldStarts >= 20, `reactive+idler cold-starts every timer (${idler.coldStarts})`);
  assert.ok(
    predictive.coldStarts <= idler.coldStarts / 2,
    `predictive ${predictive.coldStarts} vs reactive+idler ${idler.coldStarts}`,
  );
});

Deno.test("the HTML report has one SVG chart per policy; the CLI writes it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/trace.csv`, report = `${dir}/report.html`;
    await Deno.writeTextFile(file, "timestamp,function,duration_ms\n0,a,5\n30,b,10\n600,a,5\n");
    const log = console.log, error = console.error;
    const out: string[] = [];
    console.log = (...xs: unknown[]) => out.push(xs.join(" "));
    console.error = () => {};
    let code: number, missing: number;
    try {
      code = await main(["--trace", file, "--report", report]);
      missing = await main(["--trace", `${dir}/missing.csv`]);
    } finally {
      console.log = log;
      console.error = error;
    }
    assert.equal(code, 0);
    const table = out.join("\n");
    for (const p of ["fixed", "reactive", "reactive+idler", "predictive"]) {
      assert.match(table, new RegExp(`^${p.replace("+", "\\+")} +3 `, "m"));
    }
    const html = await Deno.readTextFile(report);
    assert.equal(html.match(/<svg /g)?.length, 4);
    for (const p of ["fixed", "reactive", "reactive+idler", "predictive"]) {
      assert.equal(html.split(`data-policy="${p}"`).length - 1, 1, p);
    }
    assert.doesNotMatch(html, /<script|<link|src=/, "self-contained");
    // rendering alone, without a replay: one chart per result
    const trace = traceOf([{ t: 0, fn: "a", durationMs: 1 }], 1);
    const fake = (policy: PolicyResult["policy"]): PolicyResult => ({
      policy,
      invocations: 1,
      errors: 0,
      coldStarts: 0,
      addedLatencyP50: 0,
      addedLatencyP99: 0,
      addedLatencyMax: 0,
      replicaSeconds: 1,
      scaleEvents: 0,
      perFunction: {},
      loadPerMinute: [1, 0],
      replicasPerMinute: [1, 1],
      wallMs: 1,
    });
    assert.equal(renderHtml(trace, [fake("fixed"), fake("predictive")]).match(/<svg /g)?.length, 2);
    assert.equal(missing, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
