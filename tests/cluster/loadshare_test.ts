/**
 * One view of the load across provider replicas, in virtual time on one simulated cluster: the leader scales
 * on the sum of every replica's requests (read in process through LoadPeers, as the harness wires it), keeps
 * a function any replica served within its zero-duration, waits while a member's report is missing until
 * the report is back or the member's Lease expires, and the internal endpoint answers only the replicas.
 */
import assert from "node:assert/strict";
import { Kinds } from "../../sim/kinds.ts";
import { identityHash, internalLoadPath, tokenAnnotation } from "../../src/cluster/loadshare.ts";
import { metrics } from "../../src/metrics/registry.ts";
import { type Replica, type Replicas, startReplicas } from "../support/replicas.ts";
import { withProvider } from "../support/harness.ts";
import { sample } from "../support/metrics.ts";

const ns = "openfaas-fn";

const withReplicas = async (count: number, fn: (rs: Replicas) => Promise<void>) => {
  const rs = await startReplicas(count, { scaling: true });
  try {
    await fn(rs);
  } finally {
    await rs.close();
  }
};

const replicasOf = (rs: Replicas, name: string): number =>
  rs.cluster.store.peek(Kinds.Deployment, ns, name)?.spec.replicas ?? -1;

const deploy = async (rs: Replicas, name: string, labels: Record<string, string>) => {
  const body = JSON.stringify({ service: name, image: "functions/alpine:latest", envProcess: "cat", labels });
  const r = await rs.replicas[0].call("POST", "/system/functions", body);
  assert.equal(r.status, 202, r.text);
  await rs.advance(10_000);
};

/**
 * Three replicas with a leader, and the function `quiet` deployed to go to zero after `zeroDuration`
 * (with `labels` besides): the leader and a follower.
 */
const quietOnThree = async (rs: Replicas, zeroDuration: string, labels: Record<string, string> = {}) => {
  await rs.advance(3_000);
  const [leader, follower] = rs.replicas;
  assert.ok(leader.isLeader());
  await deploy(rs, "quiet", {
    ...labels,
    "com.openfaas.scale.zero": "true",
    "com.openfaas.scale.zero-duration": zeroDuration,
  });
  return { leader, follower };
};

/** `rps` requests a second for `seconds`, dealt round-robin to `to` (each ends at once with 200). */
const traffic = async (rs: Replicas, to: Replica[], name: string, rps: number, seconds: number) => {
  let next = 0;
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < rps; i++) to[next++ % to.length].invocations.start(name, ns)(200);
    await rs.advance(1_000);
  }
};

const rpsLabels = {
  "com.openfaas.scale.type": "rps",
  "com.openfaas.scale.target": "5",
  "com.openfaas.scale.min": "1",
  "com.openfaas.scale.max": "20",
};

/** Replicas of `name` after 60 s of 40 req/s dealt over the first `serving` of `count` replicas. */
const scaleUnder = async (count: number, serving: number) => {
  let peak = 0, after = 0;
  await withReplicas(count, async (rs) => {
    await rs.advance(3_000);
    assert.ok(rs.replicas[0].isLeader());
    await deploy(rs, "busy", rpsLabels);
    await traffic(rs, rs.replicas.slice(0, serving), "busy", 40, 60);
    peak = replicasOf(rs, "busy");
    // The load ends: back to the minimum once the scale-down window has passed.
    await rs.advance(90_000);
    after = replicasOf(rs, "busy");
  });
  return { peak, after };
};

Deno.test("load sharing: with traffic split over 3 replicas the leader scales as one replica seeing it all (±1)", async () => {
  const alone = await scaleUnder(1, 1);
  const split = await scaleUnder(3, 3);
  // Only the leader's third of 40 req/s would need 3 replicas; all of it needs 8.
  assert.ok(alone.peak >= 8, `one replica with all the traffic: ${alone.peak}`);
  assert.ok(Math.abs(split.peak - alone.peak) <= 1, `3 replicas: ${split.peak}, 1 replica: ${alone.peak}`);
  assert.equal(split.after, alone.after);
  assert.equal(split.after, 1);
});

Deno.test("load sharing: the leader never idles to zero a function another replica served within its zero-duration", () =>
  withReplicas(3, async (rs) => {
    const { leader, follower } = await quietOnThree(rs, "60s");
    // Every 40 s one request, only on a follower, for 5 minutes: the leader alone would see nothing.
    let lastAt = 0;
    for (let i = 0; i < 8; i++) {
      follower.invocations.start("quiet", ns)(200);
      lastAt = await rs.now();
      for (let t = 0; t < 40; t++) {
        await rs.advance(1_000);
        assert.equal(replicasOf(rs, "quiet"), 1, `still up ${i * 40 + t}s into the traffic`);
      }
    }
    await rs.advance(40_000);
    assert.equal(replicasOf(rs, "quiet"), 0, "idle for its zero-duration on every replica: scaled to zero");
    const idled = (await leader.decisions()).filter((d) => d.function === "quiet" && d.policy === "idler");
    assert.equal(idled.length, 1);
    const after = idled[0].at - lastAt;
    assert.ok(after >= 60_000 && after <= 64_000, `idled ${after} ms after the last request`);
    const text = metrics.loadMembers.render().join("\n");
    assert.equal(sample(text, `provider_load_members{identity="${leader.identity}"}`), 2);
  }));

Deno.test("load sharing: a member whose report is missing blocks scale-down and zero until it is back", () =>
  withReplicas(3, async (rs) => {
    const { leader, follower } = await quietOnThree(rs, "60s", rpsLabels);
    await traffic(rs, [follower], "quiet", 30, 40);
    const peak = replicasOf(rs, "quiet");
    assert.ok(peak >= 6, `scaled on the follower's traffic: ${peak}`);
    const staleBefore = sample(
      metrics.loadStaleReports.render().join("\n"),
      `provider_load_stale_reports_total{identity="${leader.identity}"}`,
    ) ?? 0;
    // Partitioned from the leader (not from the API server: its membership stays live).
    follower.setReachable(false);
    await rs.advance(180_000);
    assert.equal(replicasOf(rs, "quiet"), peak, "no scale-down and no zero while its report is missing");
    assert.deepEqual(
      (await leader.decisions()).filter((d) => d.function === "quiet" && d.to < d.from),
      [],
    );
    const staleAfter = sample(
      metrics.loadStaleReports.render().join("\n"),
      `provider_load_stale_reports_total{identity="${leader.identity}"}`,
    )!;
    assert.ok(staleAfter > staleBefore, "stale reports counted");
    // Back: its report says it has been idle all along, and the leader scales down (here to zero).
    follower.setReachable(true);
    await rs.advance(10_000);
    assert.equal(replicasOf(rs, "quiet"), 0);
  }));

Deno.test("load sharing: a crashed member blocks scale-down until its membership Lease expires", () =>
  withReplicas(3, async (rs) => {
    const { follower } = await quietOnThree(rs, "10s");
    follower.invocations.start("quiet", ns)(200);
    await rs.advance(5_000);
    await follower.kill();
    const killedAt = await rs.now();
    const member = `faas-deno-member-${identityHash(follower.identity)}`;
    assert.ok(rs.cluster.store.peek(Kinds.Lease, "openfaas", member), "a crash deletes nothing");
    // Idle for 10 s everywhere 5 s after the crash, but its Lease (15 s, renewed every 5 s) lives 10-15 s more.
    let zeroAt: number | undefined;
    for (let t = 0; t < 60_000 && zeroAt === undefined; t += 1_000) {
      await rs.advance(1_000);
      if (replicasOf(rs, "quiet") === 0) zeroAt = await rs.now();
    }
    assert.ok(zeroAt !== undefined, "scaled to zero once the member was gone");
    assert.ok(zeroAt - killedAt >= 10_000, `not before its Lease expired: ${zeroAt - killedAt} ms`);
    assert.ok(zeroAt - killedAt <= 15_000 + 4_000, `soon after it expired: ${zeroAt - killedAt} ms`);
    // A clean stop deletes the membership Lease at once.
    const other = rs.replicas[2];
    const otherLease = `faas-deno-member-${identityHash(other.identity)}`;
    assert.ok(rs.cluster.store.peek(Kinds.Lease, "openfaas", otherLease));
    await other.stop();
    assert.equal(rs.cluster.store.peek(Kinds.Lease, "openfaas", otherLease), undefined);
  }));

Deno.test("load sharing: the internal load endpoint answers only the replicas' token or the basic-auth credentials", () =>
  withProvider(async (h) => {
    const lease = h.cluster.store.peek(
      Kinds.Lease,
      "openfaas",
      `faas-deno-member-${identityHash(h.config.identity)}`,
    );
    const token: string = lease!.metadata.annotations[tokenAnnotation];
    assert.match(token, /^[0-9a-f]{48}$/);
    assert.equal((await h.call("GET", internalLoadPath)).status, 401);
    assert.equal(
      (await h.call("GET", internalLoadPath, undefined, { authorization: "Bearer nope" })).status,
      401,
    );
    assert.equal(
      (await h.call("GET", internalLoadPath, undefined, { authorization: `Basic ${btoa("admin:wrong")}` }))
        .status,
      401,
    );
    const byToken = await h.call("GET", internalLoadPath, undefined, { authorization: `Bearer ${token}` });
    assert.equal(byToken.status, 200, byToken.text);
    assert.deepEqual(JSON.parse(byToken.text).functions, []);
    const byBasic = await h.call("GET", internalLoadPath, undefined, {
      authorization: `Basic ${btoa("admin:pw")}`,
    });
    assert.equal(byBasic.status, 200);
    assert.equal(
      (await h.call("POST", internalLoadPath, "", { authorization: `Bearer ${token}` })).status,
      405,
    );
  }, { credentials: { user: "admin", password: "pw" } }));
