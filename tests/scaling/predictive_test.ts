/**
 * Predictive scaling is opt-in: only with the global switch, and only for functions labelled
 * predictive=true.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { type Harness, withProvider } from "../support/harness.ts";
import { type Decision, Scaler } from "../../src/scaling/scaler.ts";

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

Deno.test("predictive: decisions only for functions labelled predictive=true, and counted in /metrics", () =>
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

Deno.test("predictive: without the global switch, a function labelled predictive=true gets no predictive decision", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "pred-switched-off", labels: predictiveLabels });
    await h.advance(10_000);
    await periodic(h, ["pred-switched-off"], 20 * 60_000, 8);
    const mine = (await decisions(h)).filter((d) => d.function === "pred-switched-off");
    assert.deepEqual(mine.filter((d) => d.policy === "predictive"), []);
    assert.ok(mine.some((d) => d.policy === "idler"), `the idler applies: ${JSON.stringify(mine)}`);
    assert.deepEqual(predictiveSeries((await h.call("GET", "/metrics")).text, "pred-switched-off"), []);
  }, { config: { scaling: true, predictiveScaling: false } }));
