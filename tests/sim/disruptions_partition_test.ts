/**
 * Partitions of one provider (sim/disruptions/partition.ts) and slow pods: from the API server, its
 * requests fail as over a dead connection and its watches end, then everything works once healed;
 * from the pods, invocations fail (502 refused, 504 timed out) until healed.
 */
import assert from "node:assert/strict";
import { Effect, Stream } from "effect";
import { withSimCluster } from "../support/simcluster.ts";
import { type Harness, withProvider } from "../support/harness.ts";
import { deployFunction as deploy, envFunction, functionStatus } from "../support/functions.ts";
import { KubeApi, type KubeApiShape, type KubeError } from "../../src/kube/api.ts";
import { Disruptions, Partition, partitionKubeApi } from "../../sim/disruptions.ts";
import { Kinds } from "../../sim/kinds.ts";
import { Upstream } from "../../src/invoke/upstream.ts";

const secrets = "/api/v1/namespaces/default/secrets";

const transportFailure = (e: KubeError) =>
  e.reason._tag === "Transport" ? e.reason.cause : `status ${e.status}`;

Deno.test("disruptions: a partition from the API server fails requests as a dead connection, ends open watches, and heals", () =>
  withSimCluster(async ({ rt, advance }) => {
    const link = new Partition();
    const api: KubeApiShape = partitionKubeApi(await rt.runPromise(Effect.service(KubeApi)), link);
    const run = <A, E>(e: Effect.Effect<A, E>) => rt.runPromise(e);
    assert.ok(await run(api.request({ method: "GET", path: secrets })));
    // A watch open when the link is cut ends with the connection error.
    const events: string[] = [];
    const watching = run(Effect.flip(Stream.runForEach(
      api.watch<{ metadata: { name: string } }>(secrets),
      (e) => Effect.sync(() => events.push(`${e.type} ${e.object.metadata.name}`)),
    )));
    await run(api.request({ method: "POST", path: secrets, body: { metadata: { name: "s1" } } }));
    link.partition();
    assert.equal(link.partitioned, true);
    const ended = await watching;
    assert.equal(transportFailure(ended), "Connection");
    assert.match(ended.message, /connection refused/);
    assert.deepEqual(events, ["ADDED s1"]);
    // Requests and new streams fail at once, as a refused connection does.
    const refused = await run(Effect.flip(api.request({ method: "GET", path: secrets })));
    assert.equal(transportFailure(refused), "Connection");
    assert.equal(refused.status, undefined, "no status: no answer");
    const noWatch = await run(Effect.flip(Stream.runDrain(api.watch(secrets))));
    assert.equal(transportFailure(noWatch), "Connection");
    const noLogs = await run(
      Effect.flip(Stream.runDrain(api.lines("/api/v1/namespaces/default/pods/p/log"))),
    );
    assert.equal(transportFailure(noLogs), "Connection");

    // Timing out instead: the request fails after the client's deadline (30 s of virtual time).
    link.partition({ mode: "timeout" });
    let timedOut: KubeError | undefined;
    const pending = run(Effect.flip(api.request({ method: "GET", path: secrets }))).then((
      e,
    ) => (timedOut = e));
    await advance(29_000);
    assert.equal(timedOut, undefined, "still waiting at 29 s");
    await advance(1_000);
    await pending;
    assert.equal(transportFailure(timedOut!), "Timeout");

    link.heal();
    link.heal(); // idempotent
    assert.equal(link.partitioned, false);
    const list = await run(api.request<{ items: unknown[] }>({ method: "GET", path: secrets }));
    assert.equal(list.items.length, 1);
    const again: string[] = [];
    const collected = run(Stream.runForEach(
      api.watch<{ metadata: { name: string } }>(secrets).pipe(Stream.take(2)),
      (e) => Effect.sync(() => again.push(`${e.type} ${e.object.metadata.name}`)),
    ));
    await run(api.request({ method: "POST", path: secrets, body: { metadata: { name: "s2" } } }));
    await collected;
    assert.deepEqual(again, ["ADDED s1", "ADDED s2"]);
  }));

/** A provider whose API server link and pod link are the given partitions. */
const withPartitionedProvider = (
  fn: (h: Harness, links: { api: Partition; pods: Partition }) => Promise<void>,
) => {
  const links = { api: new Partition(), pods: new Partition() };
  return withProvider((h) => fn(h, links), {
    sim: {
      wrapKubeApi: (api) => partitionKubeApi(api, links.api),
      wrapUpstream: (upstream, cluster) => Disruptions.of(cluster).upstream(upstream, links.pods),
    },
  });
};

const invoke = (h: Harness, name: string) =>
  h.advanceUntil(h.call("POST", `/function/${name}`, "hi"), 100, 600_000);

Deno.test("disruptions: a provider cut off from the API server fails writes after its retries, then recovers when healed", () =>
  withPartitionedProvider(async (h, links) => {
    await deploy(h, envFunction("before"));
    await h.advance(10_000);
    assert.equal((await functionStatus(h, "before")).availableReplicas, 1);
    links.api.partition();
    // Reads come from the caches; invocations still reach the pod (only the API server is cut off).
    assert.equal((await h.call("GET", "/system/functions")).status, 200);
    assert.equal((await invoke(h, "before")).status, 200);
    const failed = await h.advanceUntil(
      h.call("POST", "/system/functions", envFunction("during")),
      1_000,
      120_000,
    );
    assert.ok(failed.status >= 500, `${failed.status} ${failed.text}`);
    assert.equal(h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "during"), undefined);
    links.api.heal();
    const deployed = await h.advanceUntil(h.call("POST", "/system/functions", envFunction("after")));
    assert.equal(deployed.status, 202, deployed.text);
    // The informers reconnect within their back-off (at most 30 s, jittered).
    await h.advance(45_000);
    assert.equal((await functionStatus(h, "after")).availableReplicas, 1, "the caches caught up");
    assert.equal((await invoke(h, "after")).status, 200);
  }));

Deno.test("disruptions: a provider cut off from the pods gets 502 (refused) or 504 (timed out) until healed", () =>
  withPartitionedProvider(async (h, links) => {
    await deploy(h, envFunction("cut"));
    await h.advance(10_000);
    assert.equal((await invoke(h, "cut")).status, 200);
    links.pods.partition();
    const refused = await invoke(h, "cut");
    assert.equal(refused.status, 502, refused.text);
    // Only some pods cut off: the others still answer.
    links.pods.partition({ ips: (ip) => ip === "10.0.0.1" });
    assert.equal((await invoke(h, "cut")).status, 200);
    links.pods.partition({ mode: "timeout" });
    const timedOut = await invoke(h, "cut");
    assert.equal(timedOut.status, 504, timedOut.text);
    links.pods.heal();
    assert.equal((await invoke(h, "cut")).status, 200);
  }));

Deno.test("disruptions: slow pods answer later in virtual time, past the timeout they time out, and recover when the rule goes", () =>
  withPartitionedProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    await deploy(h, envFunction("slow"));
    await deploy(h, envFunction("fast"));
    await h.advance(10_000);
    const timed = async (name: string) => {
      const start = h.cluster.clock.now();
      const r = await invoke(h, name);
      return { status: r.status, ms: h.cluster.clock.now() - start };
    };
    const before = await timed("slow");
    assert.equal(before.status, 200);
    const remove = d.slowPods("faas_function=slow", 5_000);
    const slow = await timed("slow");
    assert.equal(slow.status, 200);
    assert.ok(before.ms < 5_000 && slow.ms >= 5_000, `took ${slow.ms} ms (before: ${before.ms} ms)`);
    const fast = await timed("fast");
    assert.ok(fast.ms < 5_000, `another function is not slowed (${fast.ms} ms)`);
    d.slowPods((pod) => pod.metadata.labels?.faas_function === "slow", 10 * 60_000);
    assert.equal((await invoke(h, "slow")).status, 504, "slower than the proxy's timeout");
    remove();
    d.clearSlowPods();
    const after = await timed("slow");
    assert.equal(after.status, 200);
    assert.ok(after.ms < 5_000, `${after.ms} ms`);
    assert.throws(() => d.slowPods("a in (", 1), /slowPods/);
  }));

Deno.test("disruptions: the pods of a failed node are unreachable over the simulated network", () =>
  withProvider(async (h) => {
    await deploy(h, envFunction("gone"));
    await h.advance(10_000);
    const [pod] = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.filter((p) =>
      p.metadata.labels?.faas_function === "gone"
    );
    const upstream = await h.run(Effect.service(Upstream));
    Disruptions.of(h.cluster).failNode(pod.spec.nodeName);
    const failure = await upstream.fetch(
      { ip: pod.status.podIP, port: 8080 },
      { url: `http://${pod.status.podIP}:8080/`, method: "GET", headers: {}, body: null },
      10_000,
    ).then(() => undefined, (e) => e);
    assert.equal(failure?.reason, "unreachable");
    assert.match(failure.message, /no route to host/);
  }));
