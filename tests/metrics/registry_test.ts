/** The Prometheus registry's exposition format. */
import assert from "node:assert/strict";
import { Registry } from "../../src/metrics/registry.ts";

Deno.test("metrics: infinities and NaN are written as Prometheus writes them", () => {
  const r = new Registry();
  const g = r.gauge("test_values", "Values.");
  g.set({ v: "neg" }, -Infinity);
  g.set({ v: "pos" }, Infinity);
  g.set({ v: "nan" }, NaN);
  g.set({ v: "half" }, 0.5);
  const text = r.expose();
  assert.match(text, /^test_values\{v="neg"\} -Inf$/m);
  assert.match(text, /^test_values\{v="pos"\} \+Inf$/m);
  assert.match(text, /^test_values\{v="nan"\} NaN$/m);
  assert.match(text, /^test_values\{v="half"\} 0\.5$/m);
});
