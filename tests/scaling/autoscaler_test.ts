/**
 * The autoscaler in virtual time: up with load (the panic window first), back down when it ends,
 * within [min, max], on CPU from the metrics API, held when pods cannot be scheduled, and around
 * manual scales (to zero and above the load's need).
 */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import { Effect } from "effect";
import { type Harness, startProvider, withProvider } from "../support/harness.ts";
import { deployFunction, functionStatus as status } from "../support/functions.ts";
import { Kinds } from "../../sim/kinds.ts";
import { ApiError } from "../../sim/apierror.ts";
import { Scaler } from "../../src/scaling/scaler.ts";
import { defaultWindows } from "../../src/scaling/rules.ts";

const scaling = { config: { scaling: true } };

const deploy = (h: Harness, service: string, labels: Record<string, string> = {}) =>
  deployFunction(h, { service, envProcess: "cat", labels });

/** Advances time in 2 s steps until the function has `replicas`, at most `ms`; whether it got there. */
const replicasWithin = async (h: Harness, name: string, replicas: number, ms: number) => {
  for (let t = 0; t < ms; t += 2_000) {
    await h.advance(2_000);
    if ((await status(h, name)).replicas === replicas) return true;
  }
  return false;
};

/** Sends `rps` requests every virtual second for `seconds`, advancing time in between. */
const load = async (
  h: Harness,
  name: string,
  rps: number,
  seconds: number,
  onSecond?: (s: number) => Promise<void>,
) => {
  for (let s = 0; s < seconds; s++) {
    const calls = Array.from({ length: rps }, () => h.call("POST", `/function/${name}`, "x"));
    const results = await h.advanceUntil(Promise.all(calls), 50);
    for (const r of results) assert.equal(r.status, 200, r.text);
    await h.advance(1_000);
    await onSecond?.(s);
  }
};

Deno.test("5 req/s against max 2 reaches 2 replicas within 60s and returns to 1 within 2 minutes", () =>
  withProvider(async (h) => {
    await deploy(h, "test-throughput-scaling", {
      "com.openfaas.scale.min": "1",
      "com.openfaas.scale.max": "2",
    });
    await h.advance(10_000);
    let reachedAt = -1;
    await load(h, "test-throughput-scaling", 5, 60, async (s) => {
      if (reachedAt < 0 && (await status(h, "test-throughput-scaling")).replicas === 2) reachedAt = s;
    });
    assert.ok(reachedAt >= 0 && reachedAt < 60, `reached 2 replicas after ${reachedAt}s`);
    assert.equal((await status(h, "test-throughput-scaling")).replicas, 2, "never more than max");
    assert.ok(
      await replicasWithin(h, "test-throughput-scaling", 1, 120_000),
      "returned to 1 replica within 2 minutes",
    );
  }, scaling));

Deno.test("min == max stays put under load", () =>
  withProvider(async (h) => {
    await deploy(h, "test-scaling-disabled", {
      "com.openfaas.scale.min": "2",
      "com.openfaas.scale.max": "2",
    });
    await h.advance(10_000);
    await load(h, "test-scaling-disabled", 10, 30);
    assert.equal((await status(h, "test-scaling-disabled")).replicas, 2);
  }, scaling));

Deno.test("when new pods cannot be scheduled the autoscaler holds instead of thrashing, and status says why", () =>
  withProvider(async (h) => {
    // 1 node of 1 CPU; each replica requests 400m: only 2 fit.
    const r = await h.call("POST", "/system/functions", {
      service: "big",
      image: "functions/alpine:latest",
      envProcess: "cat",
      requests: { cpu: "400m" },
      labels: { "com.openfaas.scale.max": "10", "com.openfaas.scale.target": "1" },
    });
    assert.equal(r.status, 202);
    await h.advance(10_000);
    await load(h, "big", 10, 20);
    const s = await status(h, "big");
    const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items;
    const pending = pods.filter((p) => !p.spec.nodeName);
    assert.ok(s.replicas < 10, `held at ${s.replicas} replicas, not max`);
    assert.ok(pending.length >= 1);
    assert.equal(s.readiness?.reason, "Unschedulable");
    assert.match(s.readiness?.message ?? "", /Insufficient cpu/);
  }, { config: { scaling: true, simNodes: 1, simNodeCpu: "1" } }));

/** Keeps, per function, that many 1 s requests in flight for about `seconds` (sim/busy and sim/sleep). */
const busyLoad = async (
  h: Harness,
  concurrency: Record<string, number>,
  seconds: number,
  onRound?: () => Promise<void>,
) => {
  for (let s = 0; s < seconds; s++) {
    const calls = Object.entries(concurrency).flatMap(([name, n]) =>
      Array.from({ length: n }, () => h.call("POST", `/function/${name}?duration_ms=1000`, ""))
    );
    for (const r of await h.advanceUntil(Promise.all(calls), 100)) assert.equal(r.status, 200, r.text);
    await onRound?.();
  }
};

const deployImage = async (h: Harness, service: string, image: string, labels: Record<string, string>) => {
  const r = await h.call("POST", "/system/functions", { service, image, labels });
  assert.equal(r.status, 202, r.text);
};

Deno.test("type=cpu scales on the metrics API's usage: up under CPU load, back to min after it", () =>
  withProvider(async (h) => {
    const cpu = {
      "com.openfaas.scale.type": "cpu",
      "com.openfaas.scale.target": "500",
      "com.openfaas.scale.max": "4",
    };
    // Same load on two functions: 2 requests in flight, each burning a core (sim/busy) or sleeping (sim/sleep).
    await deployImage(h, "burner", "sim/busy:latest", cpu);
    await deployImage(h, "sleeper", "sim/sleep:latest", cpu);
    await h.advance(10_000);
    let reachedAt = -1;
    let seconds = 0;
    await busyLoad(h, { burner: 2, sleeper: 2 }, 60, async () => {
      seconds++;
      if (reachedAt < 0 && (await status(h, "burner")).replicas === 4) reachedAt = seconds;
    });
    // ~2000m over a 500m x 0.9 target wants 5: capped at max.
    assert.ok(reachedAt > 0 && reachedAt <= 60, `burner reached 4 replicas after ${reachedAt}s`);
    assert.equal((await status(h, "burner")).replicas, 4, "never above max");
    // sim/sleep uses ~10m for the same requests: one replica is enough.
    assert.equal((await status(h, "sleeper")).replicas, 1);
    const usage = JSON.parse((await h.call("GET", "/system/function/burner?usage=1")).text).usage;
    assert.ok(usage.cpu > 1500, `burner uses ${usage.cpu}m`);
    const decisions = await h.run(Effect.map(Effect.service(Scaler), (sc) => sc.decisions()));
    const reactive = decisions.filter((d) => d.function === "burner" && d.policy === "reactive");
    assert.match(
      reactive[0].reason,
      /^\d+\.\d+ millicores \(\d+ pods, metrics API\); target 450\.00 per replica/,
    );
    assert.ok(
      await replicasWithin(h, "burner", 1, 120_000),
      "back to 1 replica within 2 minutes of the load stopping",
    );
  }, scaling));

Deno.test("type=cpu without the metrics API falls back to requests in flight", () =>
  withProvider(async (h) => {
    h.cluster.api.interceptor = (req) =>
      req.path.startsWith("/apis/metrics.k8s.io/")
        ? ApiError.of(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        : undefined;
    await deployImage(h, "fallback", "sim/busy:latest", {
      "com.openfaas.scale.type": "cpu",
      "com.openfaas.scale.target": "1",
      "com.openfaas.scale.max": "5",
    });
    await h.advance(10_000);
    // 3 in flight over a target of 1 x 0.9 per replica: 4 replicas (millicores would have asked for max).
    await busyLoad(h, { fallback: 3 }, 60);
    assert.equal((await status(h, "fallback")).replicas, 4);
    const decisions = await h.run(Effect.map(Effect.service(Scaler), (sc) => sc.decisions()));
    const reactive = decisions.filter((d) => d.function === "fallback" && d.policy === "reactive");
    assert.ok(
      reactive.length > 0 && reactive.every((d) => /in flight/.test(d.reason)),
      JSON.stringify(reactive),
    );
    // usage is left out of the status rather than failing it.
    const r = await h.call("GET", "/system/function/fallback?usage=1");
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).usage, undefined);
  }, scaling));

Deno.test("property: replicas stay within [min, max] (or 0 when allowed) under any load sequence", async () => {
  const h = await startProvider(scaling);
  let n = 0;
  /** How often the bounds were actually reached: a property that never reaches them proves little. */
  const seen = { max: 0, zero: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        // Idle steps weigh heavily (a run of them outlasts zero-duration), busy ones reach well past
        // max x target so the max clamp is exercised.
        fc.array(
          fc.oneof(
            { weight: 3, arbitrary: fc.constant(0) },
            { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 }) },
          ),
          { minLength: 3, maxLength: 12 },
        ),
        async (min, extra, zero, rates) => {
          const name = `p${n++}`;
          const max = min + extra;
          await deploy(h, name, {
            "com.openfaas.scale.min": String(min),
            "com.openfaas.scale.max": String(max),
            "com.openfaas.scale.zero": String(zero),
            "com.openfaas.scale.zero-duration": "10s",
          });
          await h.advance(5_000);
          for (const rps of rates) {
            // 3 s of load then 2 s of quiet: a 40 req/s step fills the 6 s panic window at 20 req/s.
            await load(h, name, rps, 3);
            await h.advance(2_000);
            const replicas = (await status(h, name)).replicas;
            assert.ok(
              (replicas >= min && replicas <= max) || (zero && replicas === 0),
              `${replicas} outside [${min}, ${max}] (zero ${zero})`,
            );
            if (!zero) assert.notEqual(replicas, 0, `zero=false but at 0 replicas (rates ${rates})`);
            if (replicas === max && max > min) seen.max++;
            if (replicas === 0) seen.zero++;
          }
          await h.call("DELETE", "/system/functions", { functionName: name });
        },
      ),
      { numRuns: runs(12) },
    );
    assert.ok(seen.max > 0, `the max clamp was reached (${JSON.stringify(seen)})`);
    assert.ok(seen.zero > 0, `some function reached zero (${JSON.stringify(seen)})`);
  } finally {
    await h.close();
  }
});

for (const transport of ["in-process", "http"] as const) {
  const opts = { config: { scaling: true }, sim: { transport } };

  Deno.test(`a function scaled to 0 through the API stays at 0, whatever its labels, until a request arrives [${transport}]`, () =>
    withProvider(async (h) => {
      await deploy(h, "plain");
      await deploy(h, "warm", { "com.openfaas.scale.min": "2", "com.openfaas.scale.zero": "false" });
      await h.advance(10_000);
      for (const name of ["plain", "warm"]) {
        const r = await h.call("POST", `/system/scale-function/${name}`, { serviceName: name, replicas: 0 });
        assert.equal(r.status, 202, r.text);
        assert.equal((await status(h, name)).replicas, 0, `${name}: the status read right after the scale`);
      }
      for (let t = 0; t < 5 * 60_000; t += 2_000) {
        await h.advance(2_000);
        for (const name of ["plain", "warm"]) {
          assert.equal((await status(h, name)).replicas, 0, `${name} at +${t}ms`);
        }
      }
      // A request brings it back to its minimum.
      const r = await h.advanceUntil(h.call("POST", "/function/warm", "x"));
      assert.equal(r.status, 200, r.text);
      assert.equal((await status(h, "warm")).replicas, 2);
      assert.equal((await status(h, "plain")).replicas, 0, "the other function is still at 0");
    }, opts));

  Deno.test(`after a manual scale to 3 the autoscaler keeps 3 until a scale-down window has wanted fewer [${transport}]`, () =>
    withProvider(async (h) => {
      await deploy(h, "manual");
      await h.advance(10_000);
      const r = await h.call("POST", "/system/scale-function/manual", { serviceName: "manual", replicas: 3 });
      assert.equal(r.status, 202, r.text);
      assert.equal((await status(h, "manual")).replicas, 3, "the status read right after the scale");
      // Held through the scale-down window (20 s), long enough for the new pods to become available.
      for (let t = 2_000; t < defaultWindows.downDelayMs; t += 2_000) {
        await h.advance(2_000);
        assert.equal((await status(h, "manual")).replicas, 3, `at +${t}ms`);
      }
      assert.equal((await status(h, "manual")).availableReplicas, 3);
      // No load: back to its minimum once the window has seen that.
      assert.ok(await replicasWithin(h, "manual", 1, 10_000), "back to 1 soon after the window");
    }, opts));
}

Deno.test("after a manual scale to 2 the autoscaler still scales up when the load needs more", () =>
  withProvider(async (h) => {
    await deploy(h, "busier", { "com.openfaas.scale.max": "8" });
    await h.advance(10_000);
    await h.call("POST", "/system/scale-function/busier", { serviceName: "busier", replicas: 2 });
    let peak = 0;
    // 30 req/s wants ceil(30 / 4.5) = 7 replicas: no waiting for the manual scale's window.
    await load(h, "busier", 30, 10, async () => {
      peak = Math.max(peak, (await status(h, "busier")).replicas);
    });
    assert.ok(peak > 2, `peak ${peak} replicas`);
  }, scaling));

Deno.test("2 clients at 5 req/s each against min 1, max 2: up to 2, and back to 1 within 45 s of the load ending", () =>
  withProvider(async (h) => {
    await deploy(h, "stepdown", { "com.openfaas.scale.min": "1", "com.openfaas.scale.max": "2" });
    await h.advance(10_000);
    let reachedAt = -1;
    await load(h, "stepdown", 10, 60, async (s) => {
      if (reachedAt < 0 && (await status(h, "stepdown")).replicas === 2) reachedAt = s;
    });
    assert.ok(reachedAt >= 0, "reached 2 replicas under load");
    assert.equal((await status(h, "stepdown")).replicas, 2);
    assert.ok(await replicasWithin(h, "stepdown", 1, 45_000), "back to 1 replica within 45 s");
  }, scaling));

Deno.test("the panic window scales up within a few ticks of a burst, before the stable window would", () =>
  withProvider(async (h) => {
    // rps target 5 x 0.9 per replica.
    await deploy(h, "spike", { "com.openfaas.scale.max": "10" });
    await h.advance(10_000);
    assert.equal((await status(h, "spike")).replicas, 1);
    const rps = 30, seconds = 6;
    const replicasAt: number[] = [];
    let sent = 0;
    for (let s = 0; s < seconds; s++) {
      const calls = Array.from({ length: rps }, () => h.call("POST", "/function/spike", "x"));
      for (const r of await h.advanceUntil(Promise.all(calls), 50)) assert.equal(r.status, 200, r.text);
      sent += rps;
      await h.advance(1_000);
      replicasAt.push((await status(h, "spike")).replicas);
    }
    // The stable window alone averages the burst over its length and wants this many replicas.
    const stableOnly = Math.ceil(sent / (defaultWindows.stableMs / 1000) / (5 * 0.9));
    assert.equal(stableOnly, 2);
    // The 6 s panic window sees 30 req/s: several replicas within a few 2 s ticks.
    const reached = replicasAt.findIndex((r) => r >= 4);
    assert.ok(reached >= 0 && reached <= 4, `replicas each second of the burst: ${replicasAt.join(", ")}`);
    assert.ok(Math.max(...replicasAt) > stableOnly);
    assert.ok(Math.max(...replicasAt) <= 10, "within max");
    const decisions = await h.run(Effect.map(Effect.service(Scaler), (s) => s.decisions()));
    const reactive = decisions.filter((d) => d.function === "spike" && d.policy === "reactive");
    assert.ok(reactive.length > 0 && reactive[0].to > 1, JSON.stringify(reactive));
    assert.match(reactive[0].reason, /panic mode/);
  }, { config: { scaling: true } }));
