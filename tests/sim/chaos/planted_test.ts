/**
 * A bug planted through a test-only switch (the composition root's proxy options, not a branch in the
 * shipped code) is found by the chaos runner's ordinary seed loop, shrunk, and the printed replay
 * reproduces it; the same replay without the bug passes.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { chaosCli } from "../../../sim/chaos.ts";

/** The planted bug: scale from zero never happens (the proxy is told it failed), so a function at zero stays there. */
const noScaleFromZero = { proxy: { scaleFromZero: () => Effect.succeed("failed" as const) } };

/** The arguments of a printed `deno task sim:chaos ...` command. */
const argsOf = (command: string): string[] => {
  const m = /^deno task sim:chaos (.*) --schedule '([^']*)'$/.exec(command);
  assert.ok(m, command);
  return [...m[1].split(" "), "--schedule", m[2]];
};

Deno.test("chaos: a planted scale-from-zero bug is caught within 200 seeds and its shrunk replay reproduces it", async () => {
  const lines: string[] = [];
  const found = await chaosCli(
    ["--seeds", "1..200", "--hours", "0.5", "--stop-at-first", "--shrink-runs", "12"],
    { provider: noScaleFromZero, print: (l) => lines.push(l) },
  );
  assert.equal(found.code, 1, lines.join("\n"));
  assert.ok(found.results.length <= 200);
  const failing = found.results[found.results.length - 1];
  assert.equal(failing.violations[0].invariant, "served-from-zero");
  assert.ok(found.replay, "a replay command is printed");
  assert.ok(lines.some((l) => l.includes(`seed ${failing.seed}: invariant served-from-zero violated`)));

  const replayed = await chaosCli(argsOf(found.replay), { provider: noScaleFromZero, print: () => {} });
  assert.equal(replayed.code, 1);
  assert.equal(replayed.results[0].violations[0].invariant, "served-from-zero");
  // The shrunk schedule is no bigger than the seed's.
  assert.ok(replayed.results[0].faults.length <= failing.faults.length);
  assert.ok(replayed.results[0].ops <= failing.ops);

  const fixed = await chaosCli(argsOf(found.replay), { print: () => {} });
  assert.equal(fixed.code, 0);
});
