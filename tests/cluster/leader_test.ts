/**
 * Leader election among provider replicas on one simulated cluster, in virtual time: one leader at a time
 * (the Lease and /metrics agree), takeover after a crash, a release on clean shutdown, a partitioned or
 * paused leader that stops scaling before anyone else can lead, and scale from zero on every replica.
 */
import assert from "node:assert/strict";
import { Kinds } from "../../sim/kinds.ts";
import { leaderElectionDefaults } from "../../src/cluster/leader.ts";
import { metrics } from "../../src/metrics/registry.ts";
import { seededRandom } from "../../sim/clock.ts";
import { type Replica, type Replicas, startReplicas } from "../support/replicas.ts";
import { withProvider } from "../support/harness.ts";
import { metricsText, sample } from "../support/metrics.ts";

const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = leaderElectionDefaults;
/** client-go's jittered acquire wait at its longest: the retry period plus 1.2 of it. */
const longestTryMs = retryPeriodMs * 2.2;

const leaseOf = (rs: Replicas) => rs.cluster.store.peek(Kinds.Lease, "openfaas", "faas-deno");
const leaders = (rs: Replicas) => rs.replicas.filter((r) => r.isLeader());
/** The replica's provider_leader sample, as /metrics exposes it (computed at scrape time). */
const gauge = (r: Replica) =>
  sample(metrics.leader.render().join("\n"), `provider_leader{identity="${r.identity}"}`);

const withReplicas = async (
  count: number,
  fn: (rs: Replicas) => Promise<void>,
  config: Parameters<typeof startReplicas>[1] = {},
) => {
  const rs = await startReplicas(count, config);
  try {
    await fn(rs);
  } finally {
    await rs.close();
  }
};

/** Advances in `stepMs` steps until one replica leads; the virtual time it took. */
const untilLeader = async (rs: Replicas, maxMs: number, stepMs = 100) => {
  for (let t = 0; t <= maxMs; t += stepMs) {
    const l = leaders(rs);
    if (l.length === 1) return { leader: l[0], afterMs: t };
    assert.ok(l.length === 0, `two leaders: ${l.map((r) => r.identity)}`);
    await rs.advance(stepMs);
  }
  throw new Error(`no leader within ${maxMs} ms`);
};

/** Deploys a function (autoscaled on requests per second) through a replica, and waits until it is ready. */
const deploy = async (rs: Replicas, via: Replica, name: string, labels: Record<string, string> = {}) => {
  const body = JSON.stringify({ service: name, image: "functions/alpine:latest", envProcess: "cat", labels });
  const r = await via.call("POST", "/system/functions", body);
  assert.equal(r.status, 202, r.text);
  await rs.advance(10_000);
};

Deno.test("leader election: one of three replicas leads at once, the Lease names it and /metrics agrees", () =>
  withReplicas(3, async (rs) => {
    const { leader } = await untilLeader(rs, 1_000);
    assert.equal(leader.identity, "replica-0", "the first replica found no Lease and created it");
    const lease = leaseOf(rs)!;
    assert.equal(lease.spec.holderIdentity, leader.identity);
    assert.equal(lease.spec.leaseDurationSeconds, 15);
    assert.equal(lease.spec.leaseTransitions, 0);
    assert.match(lease.spec.acquireTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "a MicroTime");
    // Renewals: the holder stays, renewTime moves, acquireTime does not.
    const acquired = lease.spec.acquireTime, renewed = lease.spec.renewTime;
    await rs.advance(30_000);
    const later = leaseOf(rs)!;
    assert.equal(later.spec.holderIdentity, leader.identity);
    assert.equal(later.spec.acquireTime, acquired);
    assert.notEqual(later.spec.renewTime, renewed);
    assert.deepEqual(leaders(rs), [leader]);
    for (const r of rs.replicas) {
      const text = (await r.call("GET", "/metrics")).text;
      assert.equal(sample(text, `provider_leader{identity="${r.identity}"}`), r === leader ? 1 : 0);
      // Every replica serves, leader or not.
      assert.equal((await r.call("GET", "/healthz")).status, 200);
    }
  }));

Deno.test("leader election: a clean shutdown releases the Lease and a successor leads within one try", () =>
  withReplicas(3, async (rs) => {
    const { leader } = await untilLeader(rs, 1_000);
    await rs.advance(5_000);
    await leader.stop();
    const released = leaseOf(rs)!;
    assert.equal(released.spec.holderIdentity, "");
    assert.equal(released.spec.leaseDurationSeconds, 1);
    const { leader: next, afterMs } = await untilLeader(rs, longestTryMs + 100);
    assert.notEqual(next, leader);
    assert.ok(afterMs <= longestTryMs, `took ${afterMs} ms`);
    assert.equal(leaseOf(rs)!.spec.holderIdentity, next.identity);
    assert.equal(leaseOf(rs)!.spec.leaseTransitions, 1);
  }));

Deno.test("leader election: after the leader crashes, a new one leads and scales within the lease duration and one try", () =>
  withReplicas(3, async (rs) => {
    const { leader } = await untilLeader(rs, 1_000);
    await deploy(rs, leader, "busy");
    await rs.advance(3_000);
    await leader.kill();
    assert.equal(leaseOf(rs)!.spec.holderIdentity, leader.identity, "a crash releases nothing");
    const killedAt = await rs.now();
    const { leader: next, afterMs } = await untilLeader(rs, leaseDurationMs + longestTryMs + 1_000);
    assert.ok(
      afterMs <= leaseDurationMs + longestTryMs,
      `led after ${afterMs} ms (lease ${leaseDurationMs} ms + a try ${longestTryMs} ms)`,
    );
    // The new leader scales: load on it makes the autoscaler add replicas at its next tick.
    const load = Array.from({ length: 40 }, () => next.call("POST", "/function/busy", "x"));
    await rs.advanceUntil(Promise.all(load), 100, 10_000);
    await rs.advance(4_000);
    const decided = (await next.decisions()).filter((d) => d.function === "busy" && d.policy === "reactive");
    assert.ok(decided.length > 0, "the new leader scaled");
    assert.ok(decided[0].at - killedAt <= leaseDurationMs + longestTryMs + 6_000 + 2_000, "promptly");
  }, { scaling: true }));

Deno.test("leader election: a partitioned leader stops leading before anyone else can acquire, and never scales after", () =>
  withReplicas(3, async (rs) => {
    const { leader } = await untilLeader(rs, 1_000);
    await deploy(rs, leader, "idle", {
      "com.openfaas.scale.zero": "true",
      "com.openfaas.scale.zero-duration": "30s",
    });
    leader.link.set("partitioned");
    const partitionedAt = await rs.now();
    let stoppedAt: number | undefined, othersAt: number | undefined;
    for (let t = 0; t < 40_000; t += 100) {
      const l = leaders(rs);
      assert.ok(l.length <= 1, `at most one leader: ${l.map((r) => r.identity)}`);
      const now = await rs.now();
      if (stoppedAt === undefined && !leader.isLeader()) stoppedAt = now;
      if (othersAt === undefined && l.length === 1 && l[0] !== leader) othersAt = now;
      assert.equal(gauge(leader), leader.isLeader() ? 1 : 0, "the gauge follows the deadline");
      await rs.advance(100);
    }
    assert.ok(stoppedAt !== undefined && othersAt !== undefined);
    assert.ok(stoppedAt - partitionedAt <= renewDeadlineMs, `stopped ${stoppedAt - partitionedAt} ms in`);
    assert.ok(stoppedAt < othersAt, "stopped before another replica led");
    // The partitioned replica's scaler decided nothing after it stopped leading (the idler had a reason to).
    assert.deepEqual((await leader.decisions()).filter((d) => d.at >= stoppedAt!), []);
    // Healed, it follows the new leader.
    leader.link.set("up");
    await rs.advance(10_000);
    assert.equal(leaders(rs).length, 1);
    assert.notEqual(leaders(rs)[0], leader);
  }));

Deno.test("leader election: hours of crashes, pauses and partitions (seeded): never two leaders, the Lease and the gauges agree", async () => {
  // CHAOS_SEED replays another run (any failure replays from its seed).
  const random = seededRandom(Number(Deno.env.get("CHAOS_SEED") ?? 11));
  await withReplicas(3, async (rs) => {
    await untilLeader(rs, 1_000);
    const stepMs = 500, hours = 2;
    let leaderless = 0, longestLeaderless = 0, faults = 0, takeovers = 0;
    let healAt = 0, faulty: Replica | undefined;
    let lastLeader: Replica | undefined;
    for (let t = 0; t < hours * 3_600_000; t += stepMs) {
      const l = leaders(rs);
      assert.ok(l.length <= 1, `at t=${t}: two leaders ${l.map((r) => r.identity)}`);
      for (const r of rs.replicas) {
        if (!r.stopped) assert.equal(gauge(r), r.isLeader() ? 1 : 0, `gauge of ${r.identity} at t=${t}`);
      }
      if (l.length === 1) {
        assert.equal(leaseOf(rs)!.spec.holderIdentity, l[0].identity, `the Lease names the leader at t=${t}`);
        if (lastLeader !== l[0]) takeovers++;
        lastLeader = l[0];
        leaderless = 0;
      } else {
        leaderless += stepMs;
        longestLeaderless = Math.max(longestLeaderless, leaderless);
      }
      if (faulty && t >= healAt) {
        faulty.link.set("up");
        faulty = undefined;
      }
      // About one fault a minute, on one replica at a time.
      if (!faulty && random() < stepMs / 60_000) {
        faults++;
        const live = rs.replicas.filter((r) => !r.stopped);
        const target = random() < 0.6 ? (l[0] ?? live[0]) : live[Math.floor(random() * live.length)];
        const kind = random();
        if (kind < 0.3) {
          await target.kill();
          await rs.start();
        } else {
          faulty = target;
          faulty.link.set(kind < 0.65 ? "partitioned" : "paused");
          healAt = t + 5_000 + Math.floor(random() * 40_000);
        }
      }
      await rs.advance(stepMs);
    }
    assert.ok(faults > 60 && takeovers > 20, `${faults} faults, ${takeovers} takeovers`);
    // One replica at a time is faulty: after a leader dies (a crash ends its leadership at once) the others
    // take over within the lease duration and one jittered try.
    assert.ok(
      longestLeaderless <= leaseDurationMs + longestTryMs + 2 * stepMs,
      `longest time without a leader: ${longestLeaderless} ms`,
    );
  });
});

Deno.test("scale from zero on every replica at once: one scale-up, every request answered", () =>
  withReplicas(3, async (rs) => {
    const [first] = rs.replicas;
    await untilLeader(rs, 1_000);
    await deploy(rs, first, "cold");
    const scaled = await first.call(
      "POST",
      "/system/scale-function/cold",
      '{"serviceName":"cold","replicas":0}',
    );
    assert.equal(scaled.status, 202, scaled.text);
    await rs.advance(15_000);
    const requests = rs.replicas.flatMap((r) =>
      Array.from({ length: 4 }, (_, i) => r.call("POST", "/function/cold", `${r.identity}-${i}`))
    );
    const answers = await rs.advanceUntil(Promise.all(requests), 100, 60_000);
    assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200));
    assert.deepEqual(
      answers.map((a) => a.text).sort(),
      rs.replicas.flatMap((r) => [0, 1, 2, 3].map((i) => `${r.identity}-${i}`)).sort(),
    );
    const fromZero = (await Promise.all(rs.replicas.map((r) => r.decisions())))
      .flat()
      .filter((d) => d.function === "cold" && d.policy === "from-zero");
    assert.deepEqual(fromZero.map((d) => [d.from, d.to]), [[0, 1]], "one scale-up, by one replica");
    assert.equal(rs.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "cold")!.spec.replicas, 1);
  }));

Deno.test("leader election: a single provider with the default configuration leads from its start", () =>
  withProvider(async (h) => {
    assert.equal(h.config.leaderElect, true);
    const lease = h.cluster.store.peek(Kinds.Lease, "openfaas", "faas-deno");
    assert.equal(lease?.spec.holderIdentity, h.config.identity);
    const text = await metricsText(h);
    assert.equal(sample(text, `provider_leader{identity="${h.config.identity}"}`), 1);
    assert.ok(sample(text, `provider_leader_transitions_total{identity="${h.config.identity}"}`) >= 1);
  }));

Deno.test("leader election off: the replica scales on its own and writes no Lease", () =>
  withProvider(async (h) => {
    await h.advance(5_000);
    assert.equal(h.cluster.store.peek(Kinds.Lease, "openfaas", "faas-deno"), undefined);
  }, { config: { leaderElect: false } }));

Deno.test("leader election: a Lease held by another is judged by when this replica saw it change, not by its timestamps", async () => {
  const ghostLease = (renewTime: string, resourceVersion?: string) => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "faas-deno", ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: "ghost",
      leaseDurationSeconds: 15,
      // Long ago by the remote clock: client-go ignores it and counts from its own observation.
      acquireTime: "2000-01-01T00:00:00.000000Z",
      renewTime,
      leaseTransitions: 4,
    },
  });
  const rs = await startReplicas(0);
  try {
    rs.cluster.store.create(Kinds.Lease, "openfaas", ghostLease("2000-01-01T00:00:00.000000Z"));
    const replica = await rs.start();
    // The ghost keeps renewing for 30 s: its record changes, so it is never taken.
    for (let t = 0; t < 30_000; t += 1_000) {
      const current = leaseOf(rs)!;
      rs.cluster.store.update(
        Kinds.Lease,
        "openfaas",
        "faas-deno",
        ghostLease(
          `2000-01-01T00:00:${String(t / 1000).padStart(2, "0")}.000000Z`,
          current.metadata.resourceVersion,
        ),
      );
      await rs.advance(1_000);
      assert.equal(replica.isLeader(), false, `at ${t} ms the ghost still renews`);
    }
    // The ghost stops: the replica waits a whole lease duration from its last observed change.
    const stoppedAt = await rs.now();
    const { afterMs } = await untilLeader(rs, leaseDurationMs + longestTryMs + 1_000);
    assert.ok(afterMs >= leaseDurationMs - longestTryMs, `took over after ${afterMs} ms, not before expiry`);
    assert.ok((await rs.now()) - stoppedAt <= leaseDurationMs + longestTryMs + 100);
    const taken = leaseOf(rs)!;
    assert.equal(taken.spec.holderIdentity, replica.identity);
    assert.equal(taken.spec.leaseTransitions, 5, "a takeover counts one transition");
    assert.notEqual(taken.spec.acquireTime, "2000-01-01T00:00:00.000000Z");
  } finally {
    await rs.close();
  }
});
