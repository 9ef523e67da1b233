/** The simulated API server: optimistic concurrency (409 on a stale update) and the Events TTL. */
import assert from "node:assert/strict";
import { deploymentFixture } from "../support/fixtures.ts";
import { Effect } from "effect";
import { simRuntime, withSimCluster } from "../support/simcluster.ts";
import { recordEvent } from "../../sim/controllers/events.ts";

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

Deno.test("sim: Events expire an hour after they were last written (the API server's event TTL)", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    const pod: KObj = { kind: "Pod", metadata: { name: "p", namespace: "openfaas-fn", uid: "u-1" } };
    const record = (reason: string) =>
      recordEvent(cluster.store, cluster.clock, pod, "Normal", reason, "m", "test");
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

Deno.test("sim: Event expiry across thousands of Events keeps exactly those written within the hour", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    const pod: KObj = { kind: "Pod", metadata: { name: "p", namespace: "openfaas-fn", uid: "u-2" } };
    const record = (message: string) =>
      recordEvent(cluster.store, cluster.clock, pod, "Normal", "Burst", message, "test");
    const messages = () =>
      new Set(cluster.store.list(Kinds.Event, "openfaas-fn").items.map((e) => e.message));
    for (let i = 0; i < 3000; i++) record(`a${i}`);
    await advance("30 minutes");
    for (let i = 0; i < 3000; i++) record(`b${i}`);
    record("a7"); // written again: kept past the first batch's hour
    await advance("31 minutes");
    record("c");
    const afterFirst = messages();
    assert.equal(afterFirst.size, 3000 + 2);
    assert.ok(afterFirst.has("a7") && afterFirst.has("b0") && afterFirst.has("b2999") && afterFirst.has("c"));
    assert.ok(!afterFirst.has("a0") && !afterFirst.has("a2999"));
    await advance("30 minutes");
    record("d");
    assert.deepEqual([...messages()].sort(), ["c", "d"]);
  });
});
