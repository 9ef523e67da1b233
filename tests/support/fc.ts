/**
 * fast-check for the test suite: the property tests run with a fixed seed so that a CI run is
 * reproducible. `FC_SEED=<n>` picks another seed, `FC_SEED=random` a fresh one each run, and
 * `FC_RUNS=<n>` multiplies the number of runs of each property (for a longer search, e.g.
 * `FC_SEED=random FC_RUNS=10 deno task test`). A failure prints its seed and path to replay it.
 */
import fc from "fast-check";

const seedSetting = Deno.env.get("FC_SEED") ?? "20261125";
const seed = seedSetting === "random" ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(seedSetting);
if (!Number.isSafeInteger(seed)) {
  throw new Error(`FC_SEED must be an integer or "random", not ${seedSetting}`);
}
const runsFactor = Number(Deno.env.get("FC_RUNS") ?? "1");
if (!(runsFactor >= 1)) throw new Error(`FC_RUNS must be a number >= 1`);

fc.configureGlobal({ seed, numRuns: Math.round(100 * runsFactor) });

/** The number of runs for a property that asks for `n` (scaled by `FC_RUNS`). */
export const runs = (n: number): number => Math.round(n * runsFactor);

export default fc;
