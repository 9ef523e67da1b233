/**
 * The Deployment controller: ReplicaSets and revisions, cascading delete, status fields and rolling updates.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { TestClock } from "effect/testing";
import { withProvider } from "../../support/harness.ts";
import {
  deployFunction as deploy,
  everySecond,
  functionStatus as status,
  podsOf,
} from "../../support/functions.ts";
import { simRuntime } from "../../support/simcluster.ts";
import { deploymentFixture } from "../../support/fixtures.ts";
import { SimCluster } from "../../../sim/cluster.ts";
import { KubeApi } from "../../../src/kube/api.ts";
import { Kinds, type KObj } from "../../../sim/kinds.ts";

const depPath = (ns: string, name = "") =>
  `/apis/apps/v1/namespaces/${ns}/deployments${name ? "/" + name : ""}`;

const condition = (d: KObj, type: string) =>
  (d.status?.conditions ?? []).find((c: { type: string }) => c.type === type);

/** Steady state: every status field agrees with the spec and both conditions are True. */
const assertSteady = (d: KObj, replicas: number, what: string) => {
  assert.equal(d.status.observedGeneration, d.metadata.generation, `${what}: observedGeneration`);
  assert.equal(d.status.replicas, replicas, `${what}: replicas`);
  assert.equal(d.status.readyReplicas, replicas, `${what}: readyReplicas`);
  assert.equal(d.status.availableReplicas, replicas, `${what}: availableReplicas`);
  assert.equal(d.status.updatedReplicas, replicas, `${what}: updatedReplicas`);
  assert.equal(d.status.unavailableReplicas, undefined, `${what}: no unavailableReplicas`);
  const available = condition(d, "Available");
  assert.equal(available?.status, "True", `${what}: ${JSON.stringify(d.status.conditions)}`);
  assert.equal(available?.reason, "MinimumReplicasAvailable");
  const progressing = condition(d, "Progressing");
  assert.equal(progressing?.status, "True", `${what}: ${JSON.stringify(d.status.conditions)}`);
  assert.equal(progressing?.reason, "NewReplicaSetAvailable");
};

Deno.test("deployment: ReplicaSets own the pods; a template change makes a new revision; delete cascades", async () => {
  const rt = simRuntime();
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    const api = (method: "POST" | "PUT" | "DELETE" | "GET", path: string, body?: unknown) =>
      rt.runPromise(Effect.flatMap(Effect.service(KubeApi), (kube) => kube.request({ method, path, body })));
    await api("POST", depPath("openfaas-fn"), deploymentFixture("web", "functions/alpine:latest"));
    await rt.runPromise(TestClock.adjust("15 seconds"));
    const sets = () =>
      cluster.store.list(Kinds.ReplicaSet, "openfaas-fn").items.sort((a, b) =>
        Number(a.metadata.annotations["deployment.kubernetes.io/revision"]) -
        Number(b.metadata.annotations["deployment.kubernetes.io/revision"])
      );
    const pods = () =>
      cluster.store.list(Kinds.Pod, "openfaas-fn").items.filter((p) => !p.metadata.deletionTimestamp);
    const d = cluster.store.get(Kinds.Deployment, "openfaas-fn", "web");
    let [first] = sets();
    assert.equal(sets().length, 1);
    assert.equal(first.metadata.name, `web-${first.metadata.labels["pod-template-hash"]}`);
    assert.deepEqual(first.metadata.ownerReferences.map((r: KObj) => [r.kind, r.uid]), [[
      "Deployment",
      d.metadata.uid,
    ]]);
    assert.equal(first.metadata.annotations["deployment.kubernetes.io/revision"], "1");
    assert.deepEqual([first.spec.replicas, first.status.readyReplicas], [1, 1]);
    assert.deepEqual(pods().map((p) => p.metadata.ownerReferences[0].kind), ["ReplicaSet"]);
    assert.equal(pods()[0].metadata.ownerReferences[0].uid, first.metadata.uid);

    // A new image: a second ReplicaSet (revision 2) takes over; the first is scaled to 0 and kept.
    const changed = structuredClone(d);
    changed.spec.template.spec.containers[0].image = "functions/alpine:3.20";
    await api("PUT", depPath("openfaas-fn", "web"), changed);
    await rt.runPromise(TestClock.adjust("30 seconds"));
    assert.equal(sets().length, 2);
    [first] = sets();
    const second = sets()[1];
    assert.equal(second.metadata.annotations["deployment.kubernetes.io/revision"], "2");
    assert.deepEqual([first.spec.replicas, second.spec.replicas, second.status.readyReplicas], [0, 1, 1]);
    assert.ok(pods().every((p) => p.metadata.ownerReferences[0].uid === second.metadata.uid));

    // Deleting the Deployment removes its ReplicaSets; the pods terminate, then go.
    await api("DELETE", depPath("openfaas-fn", "web"));
    assert.equal(cluster.store.list(Kinds.ReplicaSet, "openfaas-fn").items.length, 0);
    await rt.runPromise(TestClock.adjust("15 seconds"));
    assert.equal(cluster.store.list(Kinds.Pod, "openfaas-fn").items.length, 0);
  } finally {
    await rt.dispose();
  }
});

Deno.test("deployment: steady-state status fields, and a rolling update never below replicas - maxUnavailable", () =>
  withProvider(async (h) => {
    const body = { service: "roll", envProcess: "env", labels: { "com.openfaas.scale.min": "2" } };
    await deploy(h, body);
    await h.advance(15_000);
    const get = () => h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "roll");
    const before = get();
    assertSteady(before, 2, "after the deploy");
    const strategy = before.spec.strategy;
    assert.deepEqual(strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const minAvailable = before.spec.replicas - strategy.rollingUpdate.maxUnavailable;
    assert.equal(minAvailable, 2);

    // Every status the Deployment ever has during the update (not only what a sample sees).
    const written: KObj[] = [];
    const unsubscribe = h.cluster.store.subscribe((e) => {
      if (e.kind === Kinds.Deployment && e.type === "MODIFIED" && e.object.metadata.name === "roll") {
        written.push(structuredClone(e.object));
      }
    });
    try {
      const updated = await h.call("PUT", "/system/functions", {
        ...body,
        image: "ghcr.io/openfaas/alpine:latest",
      });
      assert.equal(updated.status, 202, updated.text);
      assert.equal(
        get().metadata.generation,
        before.metadata.generation + 1,
        "a template change is a new generation",
      );
      let sawUnavailable = 0;
      const samples = await everySecond(h, 30, async () => {
        const d = get();
        const pods = podsOf(h, "roll").filter((p) => !p.metadata.deletionTimestamp);
        const ready = (p: KObj) =>
          (p.status?.conditions ?? []).some((c: { type: string; status: string }) =>
            c.type === "Ready" && c.status === "True"
          );
        const notReady = pods.filter((p) => !ready(p)).length;
        if (notReady > 0) {
          sawUnavailable++;
          assert.ok(
            (d.status.unavailableReplicas ?? 0) >= 1,
            `${notReady} new pod(s) not ready, yet unavailableReplicas is ${d.status.unavailableReplicas}`,
          );
          assert.equal(condition(d, "Progressing")?.reason, "ReplicaSetUpdated");
        }
        return { d, provider: await status(h, "roll") };
      });
      assert.ok(sawUnavailable >= 2, `samples caught new pods before they were ready (${sawUnavailable})`);
      for (const [t, { d, provider }] of samples.entries()) {
        assert.ok(d.status.availableReplicas >= minAvailable, `t=${t}s: ${JSON.stringify(d.status)}`);
        assert.ok(
          provider.availableReplicas >= minAvailable,
          `t=${t}s: provider says ${provider.availableReplicas}`,
        );
        assert.ok(d.status.replicas <= d.spec.replicas + 1, `t=${t}s: at most maxSurge extra pods`);
        assert.equal(condition(d, "Available")?.status, "True", `t=${t}s`);
      }
      for (const d of written) {
        assert.ok(
          (d.status?.availableReplicas ?? 0) >= minAvailable,
          `a status write dropped below ${minAvailable}: ${JSON.stringify(d.status)}`,
        );
      }
      const after = get();
      assertSteady(after, 2, "after the rolling update");
      assert.equal(after.metadata.generation, before.metadata.generation + 1);
      const pods = podsOf(h, "roll");
      assert.equal(pods.length, 2);
      assert.ok(pods.every((p) => p.spec.containers[0].image === "ghcr.io/openfaas/alpine:latest"));
      const final = await status(h, "roll");
      assert.equal(final.image, "ghcr.io/openfaas/alpine:latest");
      assert.equal(final.availableReplicas, 2);
    } finally {
      unsubscribe();
    }
  }));
