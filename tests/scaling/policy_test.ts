/** The scaling policy read from a function's labels, and their validation at deploy. */
import assert from "node:assert/strict";
import fc from "../support/fc.ts";
import { withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import { defaultScaling, policyFrom, validateScalingLabels } from "../../src/domain/scaling.ts";

const zeroDuration = "com.openfaas.scale.zero-duration";

Deno.test("scaling labels are validated at deploy (400 and nothing created)", () =>
  withProvider(async (h) => {
    for (
      const labels of [
        { "com.openfaas.scale.min": "x" },
        { "com.openfaas.scale.max": "-1" },
        { "com.openfaas.scale.min": "5", "com.openfaas.scale.max": "2" },
        { "com.openfaas.scale.zero": "yes" },
        { "com.openfaas.scale.zero-duration": "soon" },
        { "com.openfaas.scale.target": "0" },
        { "com.openfaas.scale.type": "memory" },
        { "com.openfaas.scale.target-proportion": "1.5" },
      ]
    ) {
      const r = await h.call("POST", "/system/functions", {
        service: "bad",
        image: "functions/alpine:latest",
        labels,
      });
      assert.equal(r.status, 400, JSON.stringify(labels));
      assert.match(r.text, /com\.openfaas\.scale/);
    }
    assert.equal(h.cluster.store.list(Kinds.Deployment).items.length, 0);
  }));

Deno.test("policy: defaults, min == max disables autoscaling, zero allows 0", () => {
  const p = policyFrom({});
  assert.deepEqual([p.min, p.max, p.target, p.type, p.zero, p.autoscale], [1, 20, 5, "rps", false, true]);
  assert.equal(policyFrom({ "com.openfaas.scale.min": "3", "com.openfaas.scale.max": "3" }).autoscale, false);
  assert.equal(
    policyFrom({ "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "90s" })
      .zeroDurationMs,
    90_000,
  );
  assert.equal(validateScalingLabels({ "com.openfaas.scale.type": "capacity" }), undefined);
  assert.match(validateScalingLabels({ "com.openfaas.scale.max": "0" }) ?? "", /at least 1/);
});

Deno.test("policy: zero-duration is validated by the parser that reads it: accepted exactly when it takes effect", () => {
  const parsed = (v: string) => policyFrom({ [zeroDuration]: v }).zeroDurationMs;
  for (
    const [v, ms] of [
      [".5h", 1_800_000],
      ["+5m", 300_000],
      ["1h30m", 5_400_000],
      ["1.5s", 1_500],
      ["500ms", 500],
      ["90", 90_000],
      ["5", 5_000],
      ["+90", 90_000],
      ["0", 0],
      ["2562047h", 2562047 * 3_600_000],
    ] as const
  ) {
    assert.equal(validateScalingLabels({ [zeroDuration]: v }), undefined, v);
    assert.equal(parsed(v), ms, v);
  }
  for (
    const v of [
      "9999999999h",
      "2562048h",
      "99999999999999999999",
      "soon",
      "",
      "-5m",
      "5 m",
      " 5m",
      "1e3s",
      "h",
    ]
  ) {
    assert.match(validateScalingLabels({ [zeroDuration]: v }) ?? "", /zero-duration/, JSON.stringify(v));
  }
  // Whatever the string, validation accepts it exactly when the policy does not fall back to the default.
  const part = fc.constantFrom(
    "0",
    "1",
    "5",
    "9",
    "15",
    ".",
    "+",
    "-",
    "h",
    "m",
    "s",
    "ms",
    "us",
    "µs",
    "ns",
    "x",
  );
  fc.assert(fc.property(fc.array(part, { maxLength: 8 }).map((xs) => xs.join("")), (v) => {
    const valid = validateScalingLabels({ [zeroDuration]: v }) === undefined;
    const ms = policyFrom({ [zeroDuration]: v }, { ...defaultScaling, zeroDurationMs: -1 }).zeroDurationMs;
    assert.equal(valid, ms !== -1, JSON.stringify(v));
    if (valid) assert.ok(Number.isSafeInteger(Math.ceil(ms)) && ms >= 0);
  }));
});
