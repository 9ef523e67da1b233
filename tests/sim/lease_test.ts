/** Leases (coordination.k8s.io/v1) on the simulator: stored, served, updated optimistically, and shown by kubectl with their holder. */
import assert from "node:assert/strict";
import { send, withSimServer } from "../support/simcluster.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";

const leases = "/apis/coordination.k8s.io/v1/namespaces/openfaas/leases";
const lease = (holder: string) => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name: "faas-deno" },
  spec: {
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    acquireTime: "2026-01-01T00:00:00.000000Z",
    renewTime: "2026-01-01T00:00:00.000000Z",
    leaseTransitions: 0,
  },
});

Deno.test("sim: a Lease is created, read, and updated only from its current resourceVersion", () =>
  withSimServer(async ({ url }) => {
    const created = await send(`${url}${leases}`, "POST", lease("replica-a"));
    assert.equal(created.status, 201);
    const stored = created.body;
    assert.equal(stored.spec.holderIdentity, "replica-a");
    const renewed = await send(`${url}${leases}/faas-deno`, "PUT", {
      ...stored,
      spec: { ...stored.spec, renewTime: "2026-01-01T00:00:02.000000Z" },
    });
    assert.equal(renewed.status, 200);
    // A racing candidate still holding the first read loses.
    const stale = await send(`${url}${leases}/faas-deno`, "PUT", {
      ...stored,
      spec: { ...stored.spec, holderIdentity: "replica-b" },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, "Conflict");
  }));

Deno.test({
  name: "sim: kubectl get lease shows NAME, HOLDER and AGE",
  ignore: !kubectlPath,
  fn: () =>
    withSimServer(async ({ url }) => {
      const created = await send(`${url}${leases}`, "POST", lease("faas-deno-7d9f-abcde"));
      assert.equal(created.status, 201);
      const out = await kubectl(url, "get", "lease", "-n", "openfaas");
      assert.equal(out.code, 0, out.stderr);
      const [header, row] = out.stdout.trim().split("\n");
      assert.deepEqual(header.split(/\s+/), ["NAME", "HOLDER", "AGE"]);
      assert.deepEqual(row.split(/\s+/).slice(0, 2), ["faas-deno", "faas-deno-7d9f-abcde"]);
    }),
});
