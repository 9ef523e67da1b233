/**
 * The scheduler's filters as kube-scheduler runs them: NodeUnschedulable, TaintToleration (NoSchedule and
 * NoExecute taints a pod does not tolerate), node selector, then resources; each node fails on the first
 * filter it does not pass, and the message is FitError's: "<count> <reason>" entries sorted as strings,
 * then what preemption could do (nothing on a node whose failure it cannot resolve).
 */
import assert from "node:assert/strict";
import { withSimCluster } from "../../support/simcluster.ts";
import { Kinds } from "../../../sim/kinds.ts";
import type { SimClusterShape } from "../../../sim/cluster.ts";
import { Disruptions } from "../../../sim/disruptions.ts";
import { withProvider } from "../../support/harness.ts";
import { deployFunction as deploy, functionStatus as status } from "../../support/functions.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const createPod = (cluster: SimClusterShape, name: string, spec: Json = {}) => {
  const res = cluster.api.handle({
    method: "POST",
    path: "/api/v1/namespaces/default/pods",
    body: { metadata: { name }, spec: { containers: [{ name: "c", image: "functions/alpine" }], ...spec } },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
};

const nodeOf = (cluster: SimClusterShape, name: string): string | undefined =>
  cluster.store.peek(Kinds.Pod, "default", name)?.spec.nodeName;

const scheduledMessage = (cluster: SimClusterShape, name: string): string | undefined =>
  (cluster.store.peek(Kinds.Pod, "default", name)?.status?.conditions ?? [])
    .find((c: { type: string }) => c.type === "PodScheduled")?.message;

const taint = (cluster: SimClusterShape, node: string, taints: Json[]) =>
  cluster.store.mutate(Kinds.Node, undefined, node, (n) => {
    n.spec ??= {};
    n.spec.taints = taints;
  });

Deno.test("scheduler: a failed node's unreachable taint is what a replacement pod is told, and preemption cannot help", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    Disruptions.of(cluster).failNode("sim-node-1");
    createPod(cluster, "p");
    await advance(10);
    assert.equal(nodeOf(cluster, "p"), undefined);
    assert.equal(
      scheduledMessage(cluster, "p"),
      "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. " +
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
    // A pod that tolerates every taint is bound there, as kube-scheduler binds it (it reads taints, not
    // the Ready condition); the stopped kubelet leaves it as it is.
    createPod(cluster, "everywhere", { tolerations: [{ operator: "Exists" }] });
    await advance(10);
    assert.equal(nodeOf(cluster, "everywhere"), "sim-node-1");
  }, { nodes: 1 });
});

Deno.test("scheduler: a NoSchedule taint keeps pods that do not tolerate it off the node; a toleration lets them on", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    taint(cluster, "sim-node-1", [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }]);
    // PreferNoSchedule only weighs in scoring: it never keeps a pod off.
    taint(cluster, "sim-node-2", [{ key: "spare", effect: "PreferNoSchedule" }]);
    for (const name of ["a", "b", "c"]) createPod(cluster, name);
    await advance(10);
    for (const name of ["a", "b", "c"]) assert.equal(nodeOf(cluster, name), "sim-node-2", name);
    // Another value of the same key is not tolerated; the same value, or Exists on the key, is.
    createPod(cluster, "wrong", {
      nodeSelector: { "kubernetes.io/hostname": "sim-node-1" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "tpu", effect: "NoSchedule" }],
    });
    createPod(cluster, "right", {
      nodeSelector: { "kubernetes.io/hostname": "sim-node-1" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
    });
    createPod(cluster, "any", {
      nodeSelector: { "kubernetes.io/hostname": "sim-node-1" },
      tolerations: [{ key: "dedicated", operator: "Exists" }],
    });
    await advance(10);
    assert.equal(nodeOf(cluster, "wrong"), undefined);
    assert.equal(
      scheduledMessage(cluster, "wrong"),
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, " +
        "1 node(s) had untolerated taint {dedicated: gpu}. " +
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
    assert.equal(nodeOf(cluster, "right"), "sim-node-1");
    assert.equal(nodeOf(cluster, "any"), "sim-node-1");
  }, { nodes: 2 });
});

Deno.test('scheduler: reasons are counted per node and sorted as "<count> <reason>" strings, as FitError does', async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    cluster.store.mutate(Kinds.Node, undefined, "sim-node-1", (n) => {
      n.spec ??= {};
      n.spec.unschedulable = true;
    });
    // Nodes have 4 CPUs: 5 fits on none of the two others.
    createPod(cluster, "big", {
      containers: [{ name: "c", image: "functions/alpine", resources: { requests: { cpu: "5" } } }],
    });
    await advance(10);
    assert.equal(nodeOf(cluster, "big"), undefined);
    assert.equal(
      scheduledMessage(cluster, "big"),
      "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. " +
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, " +
        "2 No preemption victims found for incoming pod.",
    );
    // A cordoned node still takes a pod that tolerates node.kubernetes.io/unschedulable (as DaemonSet pods do).
    createPod(cluster, "tolerant", {
      nodeSelector: { "kubernetes.io/hostname": "sim-node-1" },
      tolerations: [{ key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }],
    });
    await advance(10);
    assert.equal(nodeOf(cluster, "tolerant"), "sim-node-1");
  }, { nodes: 3 });
});

Deno.test("scheduler: a function whose only node failed reports the replacement pod's untolerated taint", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "alone" });
    await h.advance(10_000);
    assert.equal((await status(h, "alone")).availableReplicas, 1);
    Disruptions.of(h.cluster).failNode("sim-node-1");
    // Evicted after the 300 s of the DefaultTolerationSeconds tolerations; its replacement cannot be placed.
    await h.advance(310_000);
    const s = await status(h, "alone");
    assert.equal(s.availableReplicas, 0);
    assert.equal(s.readiness?.reason, "Unschedulable");
    assert.equal(
      s.readiness?.message,
      "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. " +
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
  }, { sim: { nodes: 1 } }));
