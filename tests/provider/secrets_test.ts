/** Secrets through the API: create, list without values, update, delete, and their mount in a function. */
import assert from "node:assert/strict";
import { apiTest } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

const fn = (service: string, extra: Record<string, unknown> = {}) => ({
  service,
  image: "functions/alpine:latest",
  envProcess: "env",
  ...extra,
});

apiTest("secrets: create, list without values, update, 409 duplicate, 404 unknown, delete", async (h) => {
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/secrets")).text), []);
  assert.equal((await h.call("POST", "/system/secrets", { name: "api-key", value: "s3cr3t" })).status, 202);
  assert.equal(
    (await h.call("POST", "/system/secrets", { name: "raw", rawValue: btoa("\u0000\u0001bin") })).status,
    202,
  );
  assert.equal((await h.call("POST", "/system/secrets", { name: "api-key", value: "x" })).status, 409);
  const list = await h.call("GET", "/system/secrets");
  assert.deepEqual(JSON.parse(list.text), [
    { name: "api-key", namespace: "openfaas-fn" },
    { name: "raw", namespace: "openfaas-fn" },
  ]);
  assert.ok(!list.text.includes("s3cr3t"));
  const stored = h.cluster.store.get(Kinds.Secret, "openfaas-fn", "api-key");
  assert.equal(atob(stored.data["api-key"]), "s3cr3t");
  assert.equal(stored.metadata.labels["app.kubernetes.io/managed-by"], "openfaas");
  assert.equal(atob(h.cluster.store.get(Kinds.Secret, "openfaas-fn", "raw").data.raw), "\u0000\u0001bin");
  assert.equal((await h.call("PUT", "/system/secrets", { name: "api-key", value: "new" })).status, 202);
  assert.equal(atob(h.cluster.store.get(Kinds.Secret, "openfaas-fn", "api-key").data["api-key"]), "new");
  assert.equal((await h.call("PUT", "/system/secrets", { name: "nope", value: "x" })).status, 404);
  assert.equal((await h.call("DELETE", "/system/secrets", { name: "nope" })).status, 404);
  assert.equal((await h.call("DELETE", "/system/secrets", { name: "api-key" })).status, 202);
  assert.deepEqual(
    JSON.parse((await h.call("GET", "/system/secrets")).text).map((s: { name: string }) => s.name),
    ["raw"],
  );
});

apiTest("a function mounts its secrets at /var/openfaas/secrets; unknown secrets are 400", async (h) => {
  await h.call("POST", "/system/secrets", { name: "api-key", value: "v" });
  assert.equal((await h.call("POST", "/system/functions", fn("s", { secrets: ["missing"] }))).status, 400);
  assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
  assert.equal((await h.call("POST", "/system/functions", fn("s", { secrets: ["api-key"] }))).status, 202);
  const d = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "s");
  const spec = d.spec.template.spec;
  assert.deepEqual(spec.volumes[0].projected.sources[0].secret, {
    name: "api-key",
    items: [{ key: "api-key", path: "api-key" }],
  });
  assert.deepEqual(spec.containers[0].volumeMounts[0], {
    name: "s-projected-secrets",
    mountPath: "/var/openfaas/secrets",
    readOnly: true,
  });
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/function/s")).text).secrets, ["api-key"]);
});
