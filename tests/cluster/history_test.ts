/**
 * History that survives (src/cluster/history.ts), in virtual time on the simulator with provider replicas:
 * the predictor decides after a failover as an uninterrupted run does (and would not without the persisted
 * history); the record is bounded, removed with its function, and a corrupt one is ignored with a log line.
 */
import assert from "node:assert/strict";
import { Kinds } from "../../sim/kinds.ts";
import { Effect, Layer, Stream } from "effect";
import { History, historyName, maxRecordBytes, parseRecord } from "../../src/cluster/history.ts";
import { KubeApi, KubeError, type KubeRequest } from "../../src/kube/api.ts";
import { Invocations } from "../../src/metrics/invocations.ts";
import { bins, IdleHistogram, maxPersistedCount } from "../../src/metrics/idlehistogram.ts";
import type { Decision } from "../../src/scaling/scaler.ts";
import { metrics } from "../../src/metrics/registry.ts";
import { type Replica, type Replicas, startReplicas } from "../support/replicas.ts";

const ns = "openfaas-fn";
const fn = "timer";
const labels = {
  "com.openfaas.scale.zero": "true",
  "com.openfaas.scale.zero-duration": "5m",
  "com.openfaas.scale.predictive": "true",
};
const intervalMs = 120_000;
const config = { scaling: true, predictiveScaling: true, historyWriteIntervalMs: intervalMs };
/** The trace: one invocation every 20 minutes (a timer), 14 in all; the leader dies 10 minutes after the 9th. */
const everyMs = 20 * 60_000;
const invocations = 14;
const killAfter = 9;
/** Decisions of two runs are matched at most one scaler tick apart (their replicas' ticks are not in phase). */
const tickToleranceMs = 2_000;

const recordOf = (rs: Replicas) => rs.cluster.store.peek(Kinds.ConfigMap, ns, historyName(fn));

const deploy = async (rs: Replicas, via: Replica) => {
  const body = JSON.stringify({ service: fn, image: "functions/alpine:latest", envProcess: "cat", labels });
  const r = await via.call("POST", "/system/functions", body);
  assert.equal(r.status, 202, r.text);
  await rs.advance(10_000);
};

const invoke = async (rs: Replicas, via: Replica) => {
  const r = await rs.advanceUntil(via.call("POST", `/function/${fn}`, "tick"), 100, 120_000);
  assert.equal(r.status, 200, r.text);
};

/** Advances `ms` in one-minute steps. */
const wait = async (rs: Replicas, ms: number) => {
  for (let t = 0; t < ms; t += 60_000) await rs.advance(Math.min(60_000, ms - t));
};

/**
 * Runs the trace on two replicas, all traffic through the leader; with `failover`, the leader is killed mid-trace
 * and the rest goes through the other replica (which takes over). The decisions made after the kill time.
 */
const run = async (failover: boolean, overrides: Partial<typeof config> = {}) => {
  const rs = await startReplicas(2, { ...config, ...overrides });
  try {
    await rs.advance(1_000);
    const [first, second] = rs.replicas;
    assert.ok(first.isLeader(), "replica-0 leads");
    await deploy(rs, first);
    let via = first, killedAt = 0;
    for (let i = 1; i <= invocations; i++) {
      await invoke(rs, via);
      if (i === killAfter) {
        await wait(rs, 10 * 60_000);
        killedAt = await rs.now();
        if (failover) {
          await first.kill();
          via = second;
        }
        await wait(rs, everyMs - 10 * 60_000);
      } else await wait(rs, everyMs);
    }
    assert.ok(!failover || second.isLeader(), "replica-1 took over");
    const decider = failover ? second : first;
    const decisions = (await decider.decisions()).filter((d) => d.function === fn && d.at > killedAt);
    return { decisions, record: recordOf(rs), rs };
  } finally {
    await rs.close();
  }
};

const same = (a: readonly Decision[], b: readonly Decision[]) =>
  a.length === b.length &&
  a.every((d, i) =>
    d.policy === b[i].policy && d.from === b[i].from && d.to === b[i].to && d.reason === b[i].reason &&
    Math.abs(d.at - b[i].at) <= tickToleranceMs
  );

const show = (ds: readonly Decision[]) => ds.map((d) => `${d.at} ${d.policy} ${d.from}->${d.to} ${d.reason}`);

Deno.test("history: after a failover the predictor decides as in an uninterrupted run, and would not without the persisted history", async () => {
  const uninterrupted = await run(false);
  const failover = await run(true);
  // The new leader loaded a record written after the last invocation, 10 minutes before the kill.
  const age = metrics.historyAge.get({ identity: "replica-1" });
  assert.ok(age >= 600 && age <= 600 + intervalMs / 1000, `provider_history_loaded_age_seconds ${age}`);
  const forgetful = await run(true, { historyWriteIntervalMs: 0 });
  const predictive = uninterrupted.decisions.filter((d) => d.policy === "predictive");
  assert.ok(
    predictive.some((d) => /pre-warm/.test(d.reason)) && predictive.some((d) => /unload/.test(d.reason)),
    `the predictor pre-warms and unloads after the kill time: ${show(uninterrupted.decisions).join("\n")}`,
  );
  assert.ok(
    same(failover.decisions, uninterrupted.decisions),
    `failover:\n${show(failover.decisions).join("\n")}\nuninterrupted:\n${
      show(uninterrupted.decisions).join("\n")
    }`,
  );
  assert.ok(
    !same(forgetful.decisions, uninterrupted.decisions),
    `without persisted history the decisions differ: ${show(forgetful.decisions).join("\n")}`,
  );
  assert.ok(
    !forgetful.decisions.some((d) => d.policy === "predictive" && /pre-warm/.test(d.reason)),
    "without history no pre-warm: the new leader's histogram is not representative",
  );
  assert.equal(forgetful.record, undefined, "history_write_interval=0 writes nothing");
  // The record: owned by the function's Deployment, within its bound, a valid record of all 13 idle times.
  const cm = failover.record!;
  assert.ok(cm, "the record exists");
  assert.deepEqual(
    cm.metadata.ownerReferences.map((o: { kind: string; name: string }) => `${o.kind}/${o.name}`),
    [`Deployment/${fn}`],
  );
  const text = cm.data.history as string;
  assert.ok(text.length <= maxRecordBytes, `${text.length} bytes`);
  const parsed = parseRecord(text, fn);
  assert.ok(typeof parsed !== "string", String(parsed));
  assert.equal(parsed.idle.bins.reduce((n, [, c]) => n + c, 0) + parsed.idle.outOfRange, invocations - 1);
});

Deno.test("history: a record is bounded: every bucket full at the capped count stays under the byte bound", () => {
  const h = new IdleHistogram();
  h.add({
    bins: Array.from({ length: bins }, (_, i) => [i, 4 * maxPersistedCount] as const),
    outOfRange: 5e9,
  });
  const idle = h.snapshot();
  assert.equal(idle.bins.length, bins);
  assert.ok(idle.bins.every(([, c]) => c === maxPersistedCount) && idle.outOfRange === maxPersistedCount);
  const record = {
    v: 1,
    function: "f".repeat(63),
    savedAt: 9_999_999_999_999,
    lastStarted: 9_999_999_999_999,
    lastEnded: 9_999_999_999_999,
    idle,
  };
  const text = JSON.stringify(record);
  assert.ok(text.length <= maxRecordBytes, `${text.length} bytes`);
  assert.deepEqual(parseRecord(text, "f".repeat(63)), record);
  // Over the bound, or out of shape: corrupt.
  assert.match(
    String(parseRecord(text + " ".repeat(maxRecordBytes), "f".repeat(63))),
    /over the 4096-byte bound/,
  );
  assert.match(String(parseRecord("{", "x")), /not JSON/);
  assert.match(String(parseRecord(JSON.stringify({ ...record, function: "x" }), "y")), /a record of "x"/);
  assert.match(
    String(
      parseRecord(
        JSON.stringify({ ...record, function: "x", idle: { bins: [[bins, 1]], outOfRange: 0 } }),
        "x",
      ),
    ),
    /bad bucket/,
  );
});

/** Captures what the provider logs while `fn` runs. */
const captureLogs = async (fn: () => Promise<void>): Promise<string[]> => {
  const out: string[] = [];
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const push = (...xs: unknown[]) => out.push(xs.map(String).join(" "));
  Object.assign(console, { log: push, info: push, warn: push, error: push });
  try {
    await fn();
  } finally {
    Object.assign(console, saved);
  }
  return out;
};

Deno.test("history: a corrupt record is ignored with a log line and overwritten; deleting the function removes it", async () => {
  const rs = await startReplicas(2, config);
  try {
    await rs.advance(1_000);
    const [first, second] = rs.replicas;
    await deploy(rs, first);
    for (let i = 0; i < 3; i++) {
      await invoke(rs, first);
      await wait(rs, 10 * 60_000);
    }
    const cm = recordOf(rs)!;
    assert.ok(cm, "the leader wrote the record");
    rs.cluster.store.update(Kinds.ConfigMap, ns, historyName(fn), {
      ...cm,
      data: { history: "{not json" },
    });
    const logs = await captureLogs(async () => {
      await first.kill();
      await wait(rs, 60_000);
      assert.ok(second.isLeader(), "replica-1 took over");
      await invoke(rs, second);
      await wait(rs, 3 * intervalMs);
    });
    assert.ok(
      logs.some((l) => l.includes(`history: ignoring corrupt record ${ns}/${historyName(fn)}: not JSON`)),
      logs.join("\n"),
    );
    const rewritten = parseRecord(recordOf(rs)!.data.history, fn);
    assert.ok(typeof rewritten !== "string", `the new leader wrote a valid record: ${rewritten}`);
    const r = await second.call("DELETE", "/system/functions", JSON.stringify({ functionName: fn }));
    assert.equal(r.status, 202, r.text);
    await rs.advance(10_000);
    assert.equal(recordOf(rs), undefined, "the garbage collector removed the record with the Deployment");
  } finally {
    await rs.close();
  }
});

Deno.test("history: a load the API server fails is reported for a retry; a forbidden read or a foreign record is ignored", async () => {
  const uid = "uid-1";
  const good = JSON.stringify({
    v: 1,
    function: "f",
    savedAt: 1_000,
    lastStarted: 500,
    lastEnded: 900,
    idle: { bins: [[3, 2]], outOfRange: 1 },
  });
  const responses: (KubeError | object)[] = [
    KubeError.status(503, "ServiceUnavailable", "down"),
    {
      metadata: { resourceVersion: "7", ownerReferences: [{ kind: "Deployment", name: "f", uid }] },
      data: { history: good },
    },
    KubeError.status(403, "Forbidden", "no"),
    {
      metadata: { resourceVersion: "8", ownerReferences: [{ kind: "Deployment", name: "f", uid: "other" }] },
      data: { history: good },
    },
    {
      metadata: { resourceVersion: "9", ownerReferences: [{ kind: "Deployment", name: "f", uid }] },
      data: { history: good },
    },
  ];
  const requests: string[] = [];
  const fake = KubeApi.of({
    request: <T>(req: KubeRequest) => {
      requests.push(`${req.method} ${req.path}`);
      const r = responses.shift()!;
      return (r instanceof KubeError ? Effect.fail(r) : Effect.succeed(r as T));
    },
    watch: () => Stream.empty,
    lines: () => Stream.empty,
  });
  const layer = History.layer({ intervalMs: intervalMs, identity: "unit" }).pipe(
    Layer.provideMerge(Invocations.layer),
    Layer.provide(Layer.succeed(KubeApi, fake)),
  );
  const d = { metadata: { name: "f", namespace: ns, uid } };
  await Effect.runPromise(Effect.provide(
    Effect.gen(function* () {
      const history = yield* History;
      const invocations = yield* Invocations;
      assert.equal(yield* history.load([d]), false, "503: load again");
      assert.equal(invocations.load("f", ns), undefined);
      assert.equal(yield* history.load([d]), true);
      const l = invocations.load("f", ns)!;
      assert.deepEqual([l.lastStarted, l.lastEnded, l.idle.samples], [500, 900, 3]);
      assert.equal(yield* history.load([d]), true, "403: ignored");
      assert.equal(yield* history.load([d]), true, "a record of an earlier function of that name: ignored");
      // Loaded again (a later takeover), a record replaces the counts rather than adding to them.
      assert.equal(yield* history.load([d]), true);
      assert.equal(invocations.load("f", ns)!.idle.samples, 3);
    }),
    layer,
  ));
  assert.deepEqual(requests, Array(5).fill(`GET /api/v1/namespaces/${ns}/configmaps/${historyName("f")}`));
});
