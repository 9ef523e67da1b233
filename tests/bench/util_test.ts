/** The helpers the benchmarks and the trace report share: nearest-rank percentile, flags, tables. */
import assert from "node:assert/strict";
import { percentile } from "../../sim/trace/stats.ts";
import { arg, formatTable } from "../../bench/util.ts";

Deno.test("bench and trace helpers: nearest-rank percentile, flags, table", () => {
  assert.equal(percentile([], 0.5), 0);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
  assert.equal(percentile(new Float64Array([5, 6]), 0), 5);
  assert.equal(arg("rounds", 10, ["--rounds=3", "--small=5"]), 3);
  assert.equal(arg("rounds", 10, []), 10);
  assert.throws(() => arg("rounds", 10, ["--rounds=-1"]), /positive/);
  assert.equal(formatTable(["a", "bb"], [["xyz", ""], ["1", "2"]]), "a    bb\n---  --\nxyz\n1    2");
});
