/** The provider's caches: what they keep, and the periodic relist that repairs a missed watch event. */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { startProvider, withProvider } from "../support/harness.ts";
import { Caches } from "../../src/kube/caches.ts";
import { Kinds } from "../../sim/kinds.ts";

Deno.test("caches: secret values are not kept in memory, only names and metadata", () =>
  withProvider(async (h) => {
    assert.equal((await h.call("POST", "/system/secrets", { name: "api-key", value: "s3cr3t" })).status, 202);
    h.cluster.store.mutate(Kinds.Secret, "openfaas-fn", "api-key", (o) => {
      o.data = { "api-key": btoa("rotated") };
    });
    await h.advance(10);
    const cached = await h.run(
      Effect.map(Effect.service(Caches), (c) => c.secrets.get("openfaas-fn", "api-key")),
    );
    assert.equal(cached?.metadata?.name, "api-key");
    assert.equal(
      cached?.data,
      undefined,
      "written by the provider and then by a watch event: no data either way",
    );
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/secrets")).text), [
      { name: "api-key", namespace: "openfaas-fn" },
    ]);
  }));

Deno.test("caches resync: a change the watch never delivered shows up after the periodic relist", async () => {
  const h = await startProvider();
  try {
    await h.call("POST", "/system/functions", { service: "r", image: "functions/alpine:latest" });
    // Change the stored object behind the watch's back (no event is emitted for it).
    const d = h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "r")!;
    d.spec.replicas = 4;
    assert.equal(JSON.parse((await h.call("GET", "/system/function/r")).text).replicas, 1);
    await h.advance(5 * 60_000 + 1_000);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/r")).text).replicas, 4);
  } finally {
    await h.close();
  }
});
