/**
 * Cluster faults on nodes and containers (sim/disruptions.ts), in virtual time through the provider:
 * a node failing and recovering, a kubelet restart, a crashing pod, an image registry outage.
 */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";
import {
  deployFunction as deploy,
  envFunction,
  functionStatus as status,
  podsOf,
} from "../support/functions.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { Disruptions, tolerationMs } from "../../sim/disruptions.ts";
import { type SimContext, withSimCluster } from "../support/simcluster.ts";
import { deploymentFixture } from "../support/fixtures.ts";

const condition = (o: KObj, type: string) =>
  (o.status?.conditions ?? []).find((c: { type: string }) => c.type === type);

/** The pod as it is now. */
const current = (h: Harness, pod: KObj) => h.cluster.store.get(Kinds.Pod, "openfaas-fn", pod.metadata.name!);

const container = (pod: KObj) => pod.status?.containerStatuses?.[0];

/** The function's endpoints as the EndpointSlices list them: address -> ready. */
const endpointsOf = (h: Harness, name: string) =>
  new Map(
    h.cluster.store.list(Kinds.EndpointSlice, "openfaas-fn").items
      .filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === name)
      .flatMap((s) => s.endpoints ?? [])
      .map((
        e: { addresses: string[]; conditions: { ready: boolean } },
      ) => [e.addresses[0], e.conditions.ready]),
  );

const invoke = async (h: Harness, name: string) => {
  const r = await h.advanceUntil(h.call("POST", `/function/${name}`, "hi"));
  return r;
};

Deno.test("disruptions: pods get the DefaultTolerationSeconds tolerations; the eviction delay follows them", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "tol" });
    await h.advance(5_000);
    const [pod] = podsOf(h, "tol");
    const keys = pod.spec.tolerations.map((t: { key: string; tolerationSeconds: number }) =>
      `${t.key}=${t.tolerationSeconds}`
    );
    assert.deepEqual(keys, ["node.kubernetes.io/not-ready=300", "node.kubernetes.io/unreachable=300"]);
    // The Deployment's template is left alone (the admission plugin sees pods only).
    const d = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "tol");
    assert.equal(d.spec.template.spec.tolerations, undefined);
    const taints = [{ key: "node.kubernetes.io/unreachable", effect: "NoExecute" }];
    assert.equal(tolerationMs(pod, taints), 300_000);
    assert.equal(tolerationMs({ ...pod, spec: { ...pod.spec, tolerations: [] } }, taints), 0);
    const forever = { ...pod, spec: { ...pod.spec, tolerations: [{ operator: "Exists" }] } };
    assert.equal(tolerationMs(forever, taints), undefined);
  }));

Deno.test("disruptions: a failed node goes NotReady and tainted, its pods unready at once, evicted after 300 s and replaced elsewhere; then it recovers", () =>
  withProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    await deploy(h, envFunction("nodefail"));
    await h.advance(10_000);
    assert.equal((await status(h, "nodefail")).availableReplicas, 1);
    const [before] = podsOf(h, "nodefail");
    const node = before.spec.nodeName as string;
    assert.equal(endpointsOf(h, "nodefail").get(before.status.podIP), true);

    d.failNode(node);
    d.failNode(node); // idempotent
    const failed = h.cluster.store.get(Kinds.Node, undefined, node);
    assert.equal(condition(failed, "Ready").status, "Unknown");
    assert.equal(condition(failed, "Ready").reason, "NodeStatusUnknown");
    assert.deepEqual(
      failed.spec.taints.map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`),
      ["node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"],
    );
    await h.advance(1_000);
    const unready = current(h, before);
    assert.equal(condition(unready, "Ready").status, "False");
    assert.equal(endpointsOf(h, "nodefail").get(before.status.podIP), false, "its endpoint is not ready");
    assert.equal((await status(h, "nodefail")).availableReplicas, 0);

    // Still tolerated just before 300 s; evicted (deleted, stays Terminating on the dead node) after.
    await h.advance(297_000);
    assert.equal(current(h, before).metadata.deletionTimestamp, undefined);
    await h.advance(3_000);
    const evicted = current(h, before);
    assert.ok(evicted.metadata.deletionTimestamp, "evicted");
    assert.equal(condition(evicted, "DisruptionTarget").reason, "DeletionByTaintManager");
    const events = h.cluster.store.list(Kinds.Event, "openfaas-fn").items.filter((e) =>
      e.involvedObject.name === before.metadata.name && e.reason === "TaintManagerEviction"
    );
    assert.equal(events.length, 1);

    // The replacement runs on another node and serves.
    await h.advance(10_000);
    const replacement = podsOf(h, "nodefail").find((p) => p.metadata.name !== before.metadata.name)!;
    assert.ok(replacement, "a replacement pod");
    assert.notEqual(replacement.spec.nodeName, node);
    assert.equal(condition(replacement, "Ready").status, "True");
    assert.equal((await status(h, "nodefail")).availableReplicas, 1);
    assert.equal((await invoke(h, "nodefail")).status, 200);
    // New pods are not scheduled on the failed node.
    await deploy(h, { service: "after", labels: { "com.openfaas.scale.min": "4" } });
    await h.advance(10_000);
    assert.ok(podsOf(h, "after").every((p) => p.spec.nodeName && p.spec.nodeName !== node));

    d.recoverNode(node);
    d.recoverNode(node); // idempotent
    const recovered = h.cluster.store.get(Kinds.Node, undefined, node);
    assert.equal(condition(recovered, "Ready").status, "True");
    assert.equal(recovered.spec.taints, undefined);
    await h.advance(1_000);
    // The kubelet finishes the evicted pod.
    assert.equal(h.cluster.store.peek(Kinds.Pod, "openfaas-fn", before.metadata.name!), undefined);
  }));

Deno.test("disruptions: a node that recovers before the toleration runs out keeps its pods (restarted, ready again)", () =>
  withProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    await deploy(h, envFunction("blip"));
    await h.advance(10_000);
    const [pod] = podsOf(h, "blip");
    d.failNode(pod.spec.nodeName);
    await h.advance(60_000);
    assert.equal((await status(h, "blip")).availableReplicas, 0);
    d.recoverNode(pod.spec.nodeName);
    await h.advance(10_000);
    const [after] = podsOf(h, "blip");
    assert.equal(after.metadata.uid, pod.metadata.uid, "the same pod");
    assert.equal(after.metadata.deletionTimestamp, undefined);
    assert.equal(container(after).restartCount, 1, "its container was restarted with the node");
    assert.equal(condition(after, "Ready").status, "True");
    assert.equal((await invoke(h, "blip")).status, 200);
  }));

Deno.test("disruptions: a kubelet restart restarts running containers (restartCount + 1, briefly unready)", () =>
  withProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    await deploy(h, envFunction("kr"));
    await h.advance(10_000);
    const [pod] = podsOf(h, "kr");
    assert.equal(container(pod).restartCount, 0);
    assert.equal(d.restartKubelet(pod.spec.nodeName), 1);
    const restarted = current(h, pod);
    assert.equal(container(restarted).restartCount, 1);
    assert.equal(container(restarted).lastState.terminated.reason, "Unknown");
    assert.equal(condition(restarted, "Ready").status, "False", "unready until readiness passes");
    await h.advance(10_000);
    const ready = current(h, pod);
    assert.equal(condition(ready, "Ready").status, "True");
    assert.equal((await invoke(h, "kr")).status, 200);
    assert.throws(() => d.restartKubelet("no-such-node"), /no node/);
  }));

Deno.test("disruptions: a crashed pod restarts with CrashLoopBackOff back-off, then serves again", () =>
  withProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    await deploy(h, envFunction("crashy"));
    await h.advance(10_000);
    const [pod] = podsOf(h, "crashy");
    assert.equal(d.crashPod("openfaas-fn", pod.metadata.name!, 2), true);
    const crashed = current(h, pod);
    assert.equal(container(crashed).restartCount, 1);
    assert.equal(container(crashed).state.waiting.reason, "CrashLoopBackOff");
    assert.equal(container(crashed).lastState.terminated.exitCode, 2);
    assert.equal(d.crashPod("openfaas-fn", pod.metadata.name!), false, "nothing runs during back-off");
    await h.advance(9_000);
    assert.equal(container(current(h, pod)).state.waiting.reason, "CrashLoopBackOff");
    await h.advance(10_000);
    const back = current(h, pod);
    assert.ok(container(back).state.running, "started again after 10 s");
    assert.equal(condition(back, "Ready").status, "True");
    // A second crash soon after backs off longer (20 s).
    d.crashPod("openfaas-fn", pod.metadata.name!);
    await h.advance(15_000);
    assert.equal(container(current(h, pod)).state.waiting.reason, "CrashLoopBackOff");
    await h.advance(10_000);
    assert.ok(container(current(h, pod)).state.running);
    assert.equal(container(current(h, pod)).restartCount, 2);
  }));

Deno.test("disruptions: during a registry outage new pulls fail (ErrImagePull, ImagePullBackOff) and succeed after it", () =>
  withProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    d.registryOutage(true, "ghcr.io/");
    await deploy(h, { service: "outage", image: "ghcr.io/openfaas/of-echo:latest" });
    const reasons = new Set<string>();
    for (let i = 0; i < 20; i++) {
      await h.advance(1_000);
      const reason = container(podsOf(h, "outage")[0] ?? {})?.state?.waiting?.reason;
      if (reason) reasons.add(reason);
    }
    assert.ok(reasons.has("ErrImagePull") && reasons.has("ImagePullBackOff"), [...reasons].join(", "));
    const waiting = container(podsOf(h, "outage")[0]).state.waiting;
    assert.match(waiting.message ?? "Back-off", /Back-off pulling image|i\/o timeout/);
    // Other registries still work.
    await deploy(h, { service: "elsewhere" });
    await h.advance(10_000);
    assert.equal((await status(h, "elsewhere")).availableReplicas, 1);

    d.registryOutage(false);
    // The kubelet's back-off (at most 40 s by now) retries, and the pull succeeds.
    await h.advance(60_000);
    const [pod] = podsOf(h, "outage");
    assert.ok(container(pod).state.running, JSON.stringify(container(pod).state));
    assert.equal((await status(h, "outage")).availableReplicas, 1);
  }));

Deno.test("disruptions: in a registry outage an image already on the node starts (IfNotPresent) unless it is Always pulled", () =>
  withProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    await deploy(h, envFunction("cached"));
    await h.advance(10_000);
    const [fn] = podsOf(h, "cached");
    // The provider asks for Always, as faas-netes does by default: pods of it fail during an outage.
    assert.equal(fn.spec.containers[0].imagePullPolicy, "Always");
    d.registryOutage(true);
    const onNode = (name: string, imagePullPolicy: string) =>
      h.cluster.store.create(Kinds.Pod, "openfaas-fn", {
        metadata: { name },
        spec: {
          nodeName: fn.spec.nodeName,
          containers: [{ name: "c", image: fn.spec.containers[0].image, imagePullPolicy }],
        },
      });
    onNode("present", "IfNotPresent");
    onNode("always", "Always");
    await h.advance(3_000);
    const present = h.cluster.store.get(Kinds.Pod, "openfaas-fn", "present");
    assert.ok(container(present).state.running, JSON.stringify(container(present).state));
    const always = h.cluster.store.get(Kinds.Pod, "openfaas-fn", "always");
    assert.match(container(always).state.waiting.reason, /^(ErrImagePull|ImagePullBackOff)$/);
    d.registryOutage(false);
    await h.advance(30_000);
    assert.ok(container(h.cluster.store.get(Kinds.Pod, "openfaas-fn", "always")).state.running);
  }));

/** A fixed schedule of disruptions on a bare cluster; returns what the cluster holds at the end. */
const scripted = async (ctx: SimContext) => {
  const { cluster, advance } = ctx;
  const d = Disruptions.of(cluster);
  const ns = "openfaas-fn";
  const create = (name: string, replicas: number) =>
    cluster.store.create(Kinds.Deployment, ns, {
      ...deploymentFixture(name),
      spec: { ...deploymentFixture(name).spec, replicas },
    });
  create("one", 3);
  await advance(10_000);
  d.failNode("sim-node-1");
  await advance(60_000);
  d.restartKubelet("sim-node-2");
  d.registryOutage(true);
  create("two", 2);
  await advance(30_000);
  d.registryOutage(false);
  await advance(400_000);
  const running = cluster.store.list(Kinds.Pod, ns).items
    .filter((p) => p.spec.nodeName !== "sim-node-1" && p.status?.containerStatuses?.[0]?.state?.running)
    .map((p) => p.metadata.name!).sort();
  assert.ok(d.crashPod(ns, running[0]), `crashed ${running[0]}`);
  d.recoverNode("sim-node-1");
  d.restartApiServer({ unavailableMs: 1_000 });
  await advance(60_000);
  const kinds = [Kinds.Pod, Kinds.Node, Kinds.Deployment, Kinds.EndpointSlice, Kinds.Event];
  return JSON.stringify(kinds.map((k) => cluster.store.list(k, undefined).items));
};

Deno.test("disruptions: the same calls at the same virtual times give the same cluster, byte for byte", async () => {
  const runs: string[] = [];
  for (let i = 0; i < 2; i++) await withSimCluster(async (ctx) => void runs.push(await scripted(ctx)));
  assert.ok(runs[0].includes("TaintManagerEviction"), "the schedule evicted pods");
  assert.ok(runs[0].includes("Back-off restarting failed container"), "and crashed a pod");
  assert.equal(runs[0], runs[1]);
});
