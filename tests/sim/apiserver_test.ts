import assert from "node:assert/strict";
import { assertSecretWatchEvents, deploymentFixture } from "../support/fixtures.ts";
import { Effect, Fiber, Stream } from "effect";
import { TestClock } from "effect/testing";
import { simRuntime, withSimCluster } from "../support/simcluster.ts";
import { recordEvent } from "../../sim/controllers/events.ts";
import { SimCluster } from "../../sim/cluster.ts";

import { KubeApi, type KubeError } from "../../src/kube/api.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";

const makeRuntime = simRuntime;

const deployment = deploymentFixture;

const depPath = (ns: string, name = "") =>
  `/apis/apps/v1/namespaces/${ns}/deployments${name ? "/" + name : ""}`;

Deno.test("sim: a stale update gets 409 Conflict", async () => {
  const rt = makeRuntime();
  try {
    const result = await rt.runPromise(Effect.gen(function* () {
      const kube = yield* KubeApi;
      yield* kube.request({
        method: "POST",
        path: depPath("openfaas-fn"),
        body: deployment("a", "functions/alpine:latest"),
      });
      // deno-lint-ignore no-explicit-any
      const read: any = yield* kube.request({ method: "GET", path: depPath("openfaas-fn", "a") });
      const fresh = { ...read, spec: { ...read.spec, replicas: 2 } };
      yield* kube.request({ method: "PUT", path: depPath("openfaas-fn", "a"), body: fresh });
      const stale = { ...read, spec: { ...read.spec, replicas: 3 } };
      return yield* Effect.flip(
        kube.request({ method: "PUT", path: depPath("openfaas-fn", "a"), body: stale }),
      );
    }));
    assert.equal((result as KubeError).status, 409);
    assert.equal((result as KubeError).statusReason, "Conflict");
    assert.match((result as KubeError).message, /the object has been modified/);
  } finally {
    await rt.dispose();
  }
});

Deno.test("sim: pods become ready after their readiness delay in TestClock time", async () => {
  const rt = makeRuntime();
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    await rt.runPromise(Effect.gen(function* () {
      const kube = yield* KubeApi;
      yield* kube.request({
        method: "POST",
        path: depPath("openfaas-fn"),
        body: deployment("a", "functions/alpine:latest"),
      });
    }));
    const ready = () => cluster.store.peek(Kinds.Deployment, "openfaas-fn", "a")?.status?.readyReplicas ?? 0;
    assert.equal(ready(), 0);
    await rt.runPromise(TestClock.adjust("1 second"));
    assert.equal(ready(), 0, "still pulling after 1s");
    await rt.runPromise(TestClock.adjust("10 seconds"));
    assert.equal(ready(), 1);
    const pods = cluster.store.list(Kinds.Pod, "openfaas-fn").items;
    assert.equal(pods.length, 1);
    assert.equal(pods[0].status.phase, "Running");
  } finally {
    await rt.dispose();
  }
});

Deno.test("sim: an unknown image ends in ImagePullBackOff", async () => {
  const rt = makeRuntime();
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    await rt.runPromise(Effect.gen(function* () {
      const kube = yield* KubeApi;
      yield* kube.request({
        method: "POST",
        path: depPath("openfaas-fn"),
        body: deployment("bad", "example.com/nope:1"),
      });
    }));
    await rt.runPromise(TestClock.adjust("30 seconds"));
    const pod = cluster.store.list(Kinds.Pod, "openfaas-fn").items[0];
    const waiting = pod.status.containerStatuses[0].state.waiting;
    assert.ok(["ImagePullBackOff", "ErrImagePull"].includes(waiting.reason), waiting.reason);
    await rt.runPromise(TestClock.adjust("1 second"));
    const reasons = cluster.store.list(Kinds.Event, "openfaas-fn").items.map((e) => e.reason);
    assert.ok(reasons.includes("BackOff"));
    assert.equal(
      cluster.store.peek(Kinds.Deployment, "openfaas-fn", "bad")?.status?.readyReplicas,
      undefined,
    );
  } finally {
    await rt.dispose();
  }
});

Deno.test("sim: a watch delivers every change in order", async () => {
  const rt = makeRuntime();
  try {
    const events = await rt.runPromise(Effect.gen(function* () {
      const kube = yield* KubeApi;
      // deno-lint-ignore no-explicit-any
      const list: any = yield* kube.request({
        method: "GET",
        path: "/api/v1/namespaces/openfaas-fn/secrets",
      });
      const fiber = yield* kube.watch<{ metadata: { name: string; resourceVersion: string } }>(
        "/api/v1/namespaces/openfaas-fn/secrets",
        { resourceVersion: list.metadata.resourceVersion },
      ).pipe(Stream.take(5), Stream.runCollect, Effect.forkChild);
      for (const n of ["s1", "s2", "s3"]) {
        yield* kube.request({
          method: "POST",
          path: "/api/v1/namespaces/openfaas-fn/secrets",
          body: { metadata: { name: n }, stringData: { v: n } },
        });
      }
      yield* kube.request({
        method: "PUT",
        path: "/api/v1/namespaces/openfaas-fn/secrets/s2",
        body: { metadata: { name: "s2" }, stringData: { v: "x" } },
      });
      yield* kube.request({ method: "DELETE", path: "/api/v1/namespaces/openfaas-fn/secrets/s1" });
      return yield* Fiber.join(fiber);
    }));
    assertSecretWatchEvents(events);
  } finally {
    await rt.dispose();
  }
});

Deno.test("sim: ReplicaSets own the pods; a template change makes a new revision; delete cascades", async () => {
  const rt = makeRuntime();
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    const api = (method: "POST" | "PUT" | "DELETE" | "GET", path: string, body?: unknown) =>
      rt.runPromise(Effect.flatMap(Effect.service(KubeApi), (kube) => kube.request({ method, path, body })));
    await api("POST", depPath("openfaas-fn"), deployment("web", "functions/alpine:latest"));
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

Deno.test("sim: Events expire an hour after they were last written (the API server's event TTL)", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    const pod: KObj = { kind: "Pod", metadata: { name: "p", namespace: "openfaas-fn", uid: "u-1" } };
    const record = (reason: string) =>
      recordEvent(cluster.store, cluster.env, pod, "Normal", reason, "m", "test");
    const reasons = () =>
      cluster.store.list(Kinds.Event, "openfaas-fn").items.map((e) => `${e.reason}:${e.count}`).sort();
    record("Once");
    record("Again");
    await advance("50 minutes");
    record("Again"); // written again: its hour starts over
    await advance("11 minutes");
    record("Later");
    assert.deepEqual(reasons(), ["Again:2", "Later:1"]);
    await advance("50 minutes");
    record("Last");
    assert.deepEqual(reasons(), ["Last:1", "Later:1"]);
  });
});
