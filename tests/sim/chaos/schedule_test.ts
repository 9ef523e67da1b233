/** The chaos runner's schedules, workload, model and command line (sim/chaos/, sim/chaos.ts). */
import assert from "node:assert/strict";
import {
  decodeIndices,
  decodeSchedule,
  encodeIndices,
  encodeSchedule,
  generateFaults,
} from "../../../sim/chaos/schedule.ts";
import { generateWorkload, requestFor, secretMarker } from "../../../sim/chaos/workload.ts";
import { Model } from "../../../sim/chaos/model.ts";
import { htmlReport, summaryTable } from "../../../sim/chaos/report.ts";
import { chaosCli } from "../../../sim/chaos.ts";
import { runChaos } from "../../../sim/chaos/run.ts";
import type { SimClusterShape } from "../../../sim/cluster.ts";

Deno.test("chaos schedule: a seed gives the same windows; encode and decode round-trip", () => {
  const a = generateFaults({ seed: 5, durationMs: 7_200_000, replicas: 3 });
  assert.deepEqual(generateFaults({ seed: 5, durationMs: 7_200_000, replicas: 3 }), a);
  assert.notDeepEqual(generateFaults({ seed: 6, durationMs: 7_200_000, replicas: 3 }), a);
  assert.ok(a.length > 0);
  for (const w of a) {
    assert.ok(w.at >= 0 && w.at + w.ms <= 7_200_000, JSON.stringify(w));
    if (w.target !== undefined) assert.ok(w.target < 3);
  }
  const schedule = { faults: a, ops: [0, 1, 2, 5, 9, 10] };
  assert.deepEqual(decodeSchedule(encodeSchedule(schedule), { replicas: 3 }), schedule);
  assert.deepEqual(decodeSchedule("faults=none", { replicas: 1 }), { faults: [], ops: undefined });
  assert.equal(encodeIndices([0, 1, 2, 5, 9, 10]), "0-2,5,9-10");
  assert.deepEqual(decodeIndices("0-2,5"), [0, 1, 2, 5]);
});

Deno.test("chaos schedule: bad schedules are refused with a message", () => {
  assert.throws(() => decodeSchedule("faults=meteor@1+2", { replicas: 1 }), /unknown kind meteor/);
  assert.throws(() => decodeSchedule("faults=crash@1+2:4", { replicas: 2 }), /replica 4 does not exist/);
  assert.throws(() => decodeSchedule("faults=crash@x", { replicas: 1 }), /expected kind@AT/);
  assert.throws(() => decodeSchedule("ops=1-x", { replicas: 1 }), /expected N or A-B/);
  assert.throws(() => decodeSchedule("what=1", { replicas: 1 }), /unknown part/);
});

Deno.test("chaos workload: seeded, every function deployed first, secrets recognisable", () => {
  const w = generateWorkload({ seed: 3, durationMs: 3_600_000, functions: 4 });
  assert.deepEqual(generateWorkload({ seed: 3, durationMs: 3_600_000, functions: 4 }), w);
  assert.deepEqual(w.ops.slice(0, 4).map((o) => o.kind), ["deploy", "deploy", "deploy", "deploy"]);
  assert.ok(w.invocations.length > 100);
  for (const op of w.ops) if ("value" in op) assert.ok(op.value.startsWith(secretMarker));
  const deploy = requestFor(w.ops[0], w.functions);
  assert.equal(deploy.method, "POST");
  assert.equal(new URL(deploy.url).pathname, "/system/functions");
});

Deno.test("chaos model: an unanswered write allows both outcomes, an acknowledged one only its own", () => {
  const w = generateWorkload({ seed: 1, durationMs: 600_000, functions: 1 });
  const model = new Model(w.functions, []);
  let deployment: unknown = undefined;
  const cluster = {
    store: {
      peek: (kind: { kind: string }) =>
        kind.kind === "Deployment" ? deployment : kind.kind === "Service" ? { metadata: {} } : undefined,
    },
  } as unknown as SimClusterShape;
  const withRev = (rev: number) => ({
    metadata: { name: "fn0" },
    spec: {
      replicas: 1,
      template: { spec: { containers: [{ env: [{ name: "REV", value: String(rev) }] }] } },
    },
  });
  assert.deepEqual(model.check(cluster, 0), []);
  // A deploy that got no answer may or may not have happened.
  model.settle({ i: 1, at: 0, kind: "deploy", fn: "fn0", rev: 1 }, undefined);
  assert.deepEqual(model.check(cluster, 0), []);
  deployment = withRev(1);
  assert.deepEqual(model.check(cluster, 0), []);
  // An acknowledged update must be what the cluster has.
  model.settle({ i: 2, at: 0, kind: "update", fn: "fn0", rev: 2 }, 202);
  assert.equal(model.check(cluster, 0)[0]?.invariant, "acknowledged-write-lost");
  deployment = withRev(2);
  assert.deepEqual(model.check(cluster, 0), []);
  // A refused write (4xx) changed nothing.
  model.settle({ i: 3, at: 0, kind: "update", fn: "fn0", rev: 3 }, 404);
  assert.deepEqual(model.check(cluster, 0), []);
  // An acknowledged delete stays deleted.
  model.settle({ i: 4, at: 0, kind: "delete", fn: "fn0" }, 202);
  assert.equal(model.check(cluster, 0)[0]?.invariant, "delete-resurrected");
  // Replicas outside [min, max] without a manual scale.
  deployment = undefined;
  model.settle({ i: 5, at: 0, kind: "deploy", fn: "fn0", rev: 5 }, 202);
  deployment = { ...withRev(5), spec: { ...withRev(5).spec, replicas: 99 } };
  assert.equal(model.check(cluster, 0)[0]?.invariant, "replicas-in-range");
  model.settle({ i: 6, at: 0, kind: "scale", fn: "fn0", replicas: 99 }, 202);
  assert.deepEqual(model.check(cluster, 0), []);
  // Secret values are found in text, plain or base64.
  model.remember(`${secretMarker}42-abc`);
  assert.equal(model.leak(`x ${secretMarker}42-abc y`), `${secretMarker}42-abc`);
  assert.equal(model.leak(`x ${btoa(`${secretMarker}42-abc`)} y`), btoa(`${secretMarker}42-abc`));
  assert.equal(model.leak("nothing here"), undefined);
});

Deno.test("chaos CLI: bad arguments get exit status 2 and a message", async () => {
  for (
    const args of [
      ["--seeds", "5..2"],
      ["--seed", "1", "--seeds", "1..2"],
      ["--hours", "0"],
      ["--replicas", "0"],
      ["--seeds", "1..2", "--schedule", "faults=none"],
      ["--schedule", "faults=nope@1+1"],
      ["--bogus"],
    ]
  ) {
    const r = await chaosCli(args, { print: () => {} });
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.results.length, 0);
  }
});

Deno.test("chaos CLI: --help prints the options and exits 0", async () => {
  const lines: string[] = [];
  const r = await chaosCli(["--help"], { print: (l) => lines.push(l) });
  assert.equal(r.code, 0);
  assert.match(lines.join("\n"), /--check-determinism/);
});

Deno.test("chaos CLI: a short replay with the determinism check, and the HTML report", async () => {
  const file = await Deno.makeTempFile({ suffix: ".html" });
  try {
    const lines: string[] = [];
    const r = await chaosCli(
      ["--seed", "2", "--hours", "0.25", "--check-determinism", "--report", file],
      { print: (l) => lines.push(l) },
    );
    assert.equal(r.code, 0, lines.join("\n"));
    assert.ok(lines.some((l) => /s per simulated hour/.test(l)));
    const html = await Deno.readTextFile(file);
    assert.match(html, /<svg[^>]*>/);
    assert.match(html, /seed 2/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("chaos report: the first violation is marked on the timeline", async () => {
  const r = await runChaos({ seed: 3, hours: 0.25 });
  const failed = {
    ...r,
    violations: [{ at: 300_000, invariant: "acknowledged-write-lost", detail: "planted" }],
  };
  const html = htmlReport([r, failed]);
  assert.match(html, /acknowledged-write-lost at 300 s/);
  assert.match(summaryTable([r, failed]), /seed\s+hours/);
});
