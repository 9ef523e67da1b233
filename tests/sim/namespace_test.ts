/**
 * Namespace deletion as Kubernetes does it: DELETE marks the Namespace Terminating, the namespace
 * controller deletes its contents (graceful pods and finalizers respected), then the Namespace goes.
 */
import assert from "node:assert/strict";
import { withSimCluster } from "../support/simcluster.ts";
import { deploymentFixture } from "../support/fixtures.ts";
import { Kinds } from "../../sim/kinds.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("namespace deletion: Terminating while its contents go (graceful pods, finalizers), then gone", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    const call = (method: string, path: string, body?: unknown) => cluster.api.handle({ method, path, body });
    assert.equal(call("POST", "/api/v1/namespaces", { metadata: { name: "doomed" } }).status, 201);
    assert.equal(
      call(
        "POST",
        "/apis/apps/v1/namespaces/doomed/deployments",
        deploymentFixture("web", "functions/alpine:latest"),
      )
        .status,
      201,
    );
    const held = { metadata: { name: "held", finalizers: ["example.com/hold"] }, data: { a: "1" } };
    assert.equal(call("POST", "/api/v1/namespaces/doomed/configmaps", held).status, 201);
    await advance("20 seconds");
    const pods = () => cluster.store.list(Kinds.Pod, "doomed").items;
    assert.equal(pods().length, 1);
    assert.equal(pods()[0].status.phase, "Running");

    const first = call("DELETE", "/api/v1/namespaces/doomed");
    assert.equal(first.status, 200);
    const marked = first.body as Any;
    assert.equal(marked.kind, "Namespace");
    assert.ok(marked.metadata.deletionTimestamp);
    assert.equal(marked.status.phase, "Terminating");
    assert.deepEqual(marked.spec.finalizers, ["kubernetes"]);
    // A second DELETE while terminating answers the object again.
    const second = call("DELETE", "/api/v1/namespaces/doomed");
    assert.equal(second.status, 200);
    assert.equal((second.body as Any).status.phase, "Terminating");
    assert.equal(
      call("POST", "/api/v1/namespaces/doomed/configmaps", { metadata: { name: "late" } }).status,
      403,
    );
    // Its contents are being deleted: the pod terminates gracefully, the held config map waits.
    assert.equal(cluster.store.peek(Kinds.Deployment, "doomed", "web"), undefined);
    assert.ok(pods()[0].metadata.deletionTimestamp, "the pod is terminating");
    assert.ok(cluster.store.peek(Kinds.ConfigMap, "doomed", "held")!.metadata.deletionTimestamp);
    assert.equal((call("GET", "/api/v1/namespaces/doomed").body as Any).status.phase, "Terminating");
    await advance("40 seconds");
    assert.equal(pods().length, 0, "the pod has finished terminating");
    assert.equal(call("GET", "/api/v1/namespaces/doomed").status, 200, "still held by the config map");
    // The last finalizer goes: the config map, then the namespace.
    const cm = call("GET", "/api/v1/namespaces/doomed/configmaps/held").body as Any;
    cm.metadata.finalizers = [];
    assert.equal(call("PUT", "/api/v1/namespaces/doomed/configmaps/held", cm).status, 200);
    assert.equal(call("GET", "/api/v1/namespaces/doomed").status, 404);
    assert.equal(call("DELETE", "/api/v1/namespaces/doomed").status, 404);
    // The name can be used again.
    assert.equal(call("POST", "/api/v1/namespaces", { metadata: { name: "doomed" } }).status, 201);
  });
});

Deno.test("namespace deletion: an empty namespace goes at once; dryRun leaves it Active", async () => {
  await withSimCluster(({ cluster }) => {
    const call = (method: string, path: string, query: Record<string, string> = {}) =>
      cluster.api.handle({ method, path, query });
    assert.equal(
      cluster.api.handle({
        method: "POST",
        path: "/api/v1/namespaces",
        body: { metadata: { name: "empty" } },
      }).status,
      201,
    );
    const dry = call("DELETE", "/api/v1/namespaces/empty", { dryRun: "All" });
    assert.equal(dry.status, 200);
    assert.equal((dry.body as Any).status.phase, "Terminating");
    assert.equal((call("GET", "/api/v1/namespaces/empty").body as Any).status.phase, "Active");
    assert.equal(call("DELETE", "/api/v1/namespaces/empty").status, 200);
    assert.equal(call("GET", "/api/v1/namespaces/empty").status, 404, "emptied and finalized at once");
  });
});
