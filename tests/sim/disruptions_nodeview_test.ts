/**
 * A failed node as others see it (sim/disruptions.ts): metrics-server cannot reach its kubelet, so the
 * metrics API lists neither the node nor its pods (a get of either is 404) until it recovers; the node
 * lifecycle controller sets the kubelet's conditions Unknown, and the kubelet posts them again on recovery.
 */
import assert from "node:assert/strict";
import { withSimCluster } from "../support/simcluster.ts";
import { deploymentFixture } from "../support/fixtures.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import type { SimClusterShape } from "../../sim/cluster.ts";
import { Disruptions } from "../../sim/disruptions.ts";

const base = "/apis/metrics.k8s.io/v1beta1";
const get = (cluster: SimClusterShape, path: string) => cluster.api.handle({ method: "GET", path });

const names = (body: unknown) =>
  (body as { items: KObj[] }).items.map((o) => o.metadata.name as string).sort();

Deno.test("disruptions: the metrics API leaves out a failed node and its pods until it recovers", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    // A CPU request each, so that least-allocated scoring puts one pod on each node.
    const body = deploymentFixture("spread");
    body.spec.replicas = 2;
    Object.assign(body.spec.template.spec.containers[0], { resources: { requests: { cpu: "1" } } });
    const res = cluster.api.handle({
      method: "POST",
      path: "/apis/apps/v1/namespaces/openfaas-fn/deployments",
      body,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await advance(30_000);
    const pods = [...cluster.store.scan(Kinds.Pod, "openfaas-fn")];
    assert.equal(pods.length, 2);
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), ["sim-node-1", "sim-node-2"]);
    const onFailed = pods.find((p) => p.spec.nodeName === "sim-node-1")!.metadata.name!;
    const onOther = pods.find((p) => p.spec.nodeName === "sim-node-2")!.metadata.name!;
    assert.deepEqual(
      names(get(cluster, `${base}/namespaces/openfaas-fn/pods`).body),
      [onFailed, onOther].sort(),
    );
    assert.deepEqual(names(get(cluster, `${base}/nodes`).body), ["sim-node-1", "sim-node-2"]);

    Disruptions.of(cluster).failNode("sim-node-1");
    await advance(1_000);
    assert.deepEqual(names(get(cluster, `${base}/namespaces/openfaas-fn/pods`).body), [onOther]);
    assert.deepEqual(names(get(cluster, `${base}/pods`).body), [onOther]);
    assert.equal(get(cluster, `${base}/namespaces/openfaas-fn/pods/${onFailed}`).status, 404);
    assert.equal(get(cluster, `${base}/namespaces/openfaas-fn/pods/${onOther}`).status, 200);
    assert.deepEqual(names(get(cluster, `${base}/nodes`).body), ["sim-node-2"]);
    const node = get(cluster, `${base}/nodes/sim-node-1`);
    assert.equal(node.status, 404);
    assert.match(JSON.stringify(node.body), /nodemetrics\.metrics\.k8s\.io \\"sim-node-1\\" not found/);

    Disruptions.of(cluster).recoverNode("sim-node-1");
    await advance(30_000);
    assert.deepEqual(names(get(cluster, `${base}/nodes`).body), ["sim-node-1", "sim-node-2"]);
    assert.equal(get(cluster, `${base}/namespaces/openfaas-fn/pods/${onFailed}`).status, 200);
  }, { nodes: 2 });
});

Deno.test("disruptions: a failed node's kubelet conditions go Unknown and come back on recovery; other conditions are left alone", async () => {
  await withSimCluster(({ cluster }) => {
    const conditions = (): Record<string, string> =>
      Object.fromEntries(
        cluster.store.peek(Kinds.Node, undefined, "sim-node-1")!.status.conditions.map((
          c: { type: string; status: string; reason: string },
        ) => [c.type, `${c.status} ${c.reason}`]),
      );
    cluster.store.mutate(Kinds.Node, undefined, "sim-node-1", (n) => {
      n.status.conditions = [
        { type: "NetworkUnavailable", status: "False", reason: "RouteCreated" },
        { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory" },
        ...n.status.conditions,
      ];
    });
    const before = conditions();
    Disruptions.of(cluster).failNode("sim-node-1");
    assert.deepEqual(conditions(), {
      // Managed by the control plane, not posted by the kubelet: the node lifecycle controller leaves it.
      NetworkUnavailable: "False RouteCreated",
      MemoryPressure: "Unknown NodeStatusUnknown",
      Ready: "Unknown NodeStatusUnknown",
    });
    Disruptions.of(cluster).recoverNode("sim-node-1");
    assert.deepEqual(conditions(), before);
  }, { nodes: 1 });
});
