/**
 * More of the scaling issue (issue 5), in virtual time: the panic window, the bound on holding
 * requests at zero, and the opt-in of predictive scaling (label and global switch).
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { type Harness, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import { type Decision, Scaler } from "../../src/scaling/scaler.ts";
import { defaultWindows } from "../../src/scaling/rules.ts";
import { loadConfig } from "../../src/config.ts";

const status = async (h: Harness, name: string) =>
  JSON.parse((await h.call("GET", `/system/function/${name}`)).text);

const deploy = async (h: Harness, body: Record<string, unknown>) => {
  const r = await h.call("POST", "/system/functions", {
    image: "functions/alpine:latest",
    envProcess: "cat",
    ...body,
  });
  assert.equal(r.status, 202, r.text);
};

const decisions = (h: Harness): Promise<readonly Decision[]> =>
  h.run(Effect.map(Effect.service(Scaler), (s) => [...s.decisions()]));

/** Waits a few real milliseconds for I/O (an HTTP answer) to arrive. */
const io = () => new Promise((r) => setTimeout(r, 5));

Deno.test("scaling: the panic window scales up within a few ticks of a burst, before the stable window would", () =>
  withProvider(async (h) => {
    // rps target 5 x 0.9 per replica.
    await deploy(h, { service: "spike", labels: { "com.openfaas.scale.max": "10" } });
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
    const reactive = (await decisions(h)).filter((d) => d.function === "spike" && d.policy === "reactive");
    assert.ok(reactive.length > 0 && reactive[0].to > 1, JSON.stringify(reactive));
    assert.match(reactive[0].reason, /panic mode/);
  }, { config: { scaling: true } }));

Deno.test("scaling: a request at zero whose pod never becomes ready gets its 503 after scale_from_zero_timeout, not before", async () => {
  const { scaleFromZeroTimeoutMs } = loadConfig({ scale_from_zero_timeout: "20s" }, []);
  assert.equal(scaleFromZeroTimeoutMs, 20_000);
  await withProvider(async (h) => {
    // sim/hang starts but never becomes ready.
    await deploy(h, { service: "stuck", image: "sim/hang:latest", envProcess: undefined });
    await h.advance(5_000);
    const scaled = await h.call("POST", "/system/scale-function/stuck", {
      serviceName: "stuck",
      replicas: 0,
    });
    assert.equal(scaled.status, 202, scaled.text);
    await h.advance(40_000);
    assert.equal(h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.length, 0, "at zero, no pods");

    const started = h.cluster.env.now();
    let answered: number | undefined;
    const pending = h.request("GET", "/function/stuck").then((r) => {
      answered = h.cluster.env.now() - started;
      return r;
    });
    // Held (while the pod starts and stays unready) up to the bound...
    while (h.cluster.env.now() - started < scaleFromZeroTimeoutMs - 1_000) {
      await h.advance(500);
      await io();
      assert.equal(answered, undefined, `answered after ${answered} ms of virtual time, before the bound`);
    }
    assert.equal((await status(h, "stuck")).replicas, 1, "scaled up from zero");
    // ...then 503 from the proxy, soon after it.
    const res = await h.advanceUntil(pending, 100, 10_000);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
    await res.body?.cancel();
    assert.ok(
      answered! >= scaleFromZeroTimeoutMs && answered! <= scaleFromZeroTimeoutMs + 1_000,
      `answered after ${answered} ms of virtual time`,
    );
  }, { config: { scaleFromZeroTimeoutMs } });
});

/** Invokes every function in `names` every `everyMs` of virtual time, `times` times. */
const periodic = async (h: Harness, names: readonly string[], everyMs: number, times: number) => {
  for (let i = 0; i < times; i++) {
    for (const name of names) {
      const r = await h.advanceUntil(h.call("POST", `/function/${name}`, "tick"), 100, 60_000);
      assert.equal(r.status, 200, `${name}: ${r.text}`);
    }
    for (let t = 0; t < everyMs; t += 60_000) await h.advance(60_000);
  }
};

const zeroLabels = { "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "5m" };
const predictiveLabels = { ...zeroLabels, "com.openfaas.scale.predictive": "true" };

const predictiveSeries = (text: string, fn: string) =>
  text.split("\n").filter((l) =>
    l.startsWith(`provider_scaling_decisions_total{function_name="${fn}.openfaas-fn",policy="predictive"`)
  );

Deno.test("scaling: predictive decisions only for functions labelled predictive=true, and counted in /metrics", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "pred-on", labels: predictiveLabels });
    await deploy(h, { service: "pred-unlabelled", labels: zeroLabels });
    await h.advance(10_000);
    // A timer every 20 minutes: the idle-time histogram becomes representative after a few.
    await periodic(h, ["pred-on", "pred-unlabelled"], 20 * 60_000, 8);
    const all = await decisions(h);
    const of = (fn: string) => all.filter((d) => d.function === fn);
    const predictive = of("pred-on").filter((d) => d.policy === "predictive");
    assert.ok(predictive.length > 0, `predictive decisions: ${JSON.stringify(of("pred-on"))}`);
    assert.ok(predictive.some((d) => d.to > d.from && /pre-warm/.test(d.reason)), JSON.stringify(predictive));
    assert.deepEqual(of("pred-unlabelled").filter((d) => d.policy === "predictive"), []);
    assert.ok(
      of("pred-unlabelled").some((d) => d.policy === "idler"),
      "the unlabelled function is idled after its fixed zero-duration instead",
    );
    const text = (await h.call("GET", "/metrics")).text;
    const on = predictiveSeries(text, "pred-on");
    assert.ok(on.some((l) => /direction="up"\} [1-9]\d*$/.test(l)), `metrics: ${on.join("\n")}`);
    assert.deepEqual(predictiveSeries(text, "pred-unlabelled"), []);
  }, { config: { scaling: true, predictiveScaling: true } }));

Deno.test("scaling: without the global switch, a function labelled predictive=true gets no predictive decision", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "pred-switched-off", labels: predictiveLabels });
    await h.advance(10_000);
    await periodic(h, ["pred-switched-off"], 20 * 60_000, 8);
    const mine = (await decisions(h)).filter((d) => d.function === "pred-switched-off");
    assert.deepEqual(mine.filter((d) => d.policy === "predictive"), []);
    assert.ok(mine.some((d) => d.policy === "idler"), `the idler applies: ${JSON.stringify(mine)}`);
    assert.deepEqual(predictiveSeries((await h.call("GET", "/metrics")).text, "pred-switched-off"), []);
  }, { config: { scaling: true, predictiveScaling: false } }));
