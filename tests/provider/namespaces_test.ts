/**
 * Namespaces through the API: which ones the provider serves, their CRUD (cluster_role=true), and
 * cluster_role=false.
 */
import assert from "node:assert/strict";
import { apiTest, type Harness, withProvider } from "../support/harness.ts";
import { deployFunction, deploymentOf, envFunction as fn } from "../support/functions.ts";
import { Kinds } from "../../sim/kinds.ts";

const deploy = (h: Harness, body: Record<string, unknown>, query = "") => deployFunction(h, body, query);

Deno.test("namespace update sets the labels even when the namespace changed meanwhile (no 409)", () =>
  withProvider(async (h) => {
    assert.equal(
      (await h.call("POST", "/system/namespace/", { name: "team-fn", labels: { openfaas: "1" } })).status,
      201,
    );
    // Someone else changes the namespace between the provider's read and its write.
    h.cluster.api.interceptor = (req) => {
      if (req.method === "PUT" && req.path.endsWith("/namespaces/team-fn")) {
        h.cluster.store.mutate(Kinds.Namespace, undefined, "team-fn", (o) => {
          o.metadata.annotations = { ...o.metadata.annotations, touched: "yes" };
        });
      }
      return undefined;
    };
    const r = await h.call("PUT", "/system/namespace/team-fn", { name: "team-fn", labels: { team: "b" } });
    assert.equal(r.status, 202, r.text);
    const ns = h.cluster.store.get(Kinds.Namespace, undefined, "team-fn");
    assert.equal(ns.metadata.labels.team, "b");
    assert.equal(ns.metadata.labels.openfaas, "1");
  }, { config: { clusterRole: true } }));

Deno.test("a blank namespace is a 400 whether it comes in the body or the query", () =>
  withProvider(async (h) => {
    const fn = { service: "blank", image: "functions/alpine:latest" };
    assert.equal((await h.call("POST", "/system/functions", { ...fn, namespace: " " })).status, 400);
    assert.equal((await h.call("POST", "/system/functions?namespace=%20", fn)).status, 400);
    assert.equal((await h.call("GET", "/system/functions?namespace=%20")).status, 400);
    assert.equal(h.cluster.store.list(Kinds.Deployment).items.length, 0);
    // Empty means the default, as in faas-netes.
    assert.equal((await h.call("GET", "/system/functions?namespace=")).status, 200);
  }));

apiTest("namespaces: default plus those marked openfaas; kube-system refused; others 400", async (h) => {
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  const created = await h.call("POST", "/system/namespace/", {
    name: "staging-fn",
    labels: { openfaas: "1" },
  });
  assert.equal(created.status, 201);
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), [
    "openfaas-fn",
    "staging-fn",
  ]);
  assert.equal(
    (await h.call("POST", "/system/functions", fn("x", { namespace: "staging-fn" }))).status,
    202,
  );
  assert.equal(
    JSON.parse((await h.call("GET", "/system/functions?namespace=staging-fn")).text)[0].namespace,
    "staging-fn",
  );
  assert.equal((await h.call("GET", "/system/functions?namespace=kube-system")).status, 401);
  assert.equal((await h.call("POST", "/system/functions", fn("x", { namespace: "default" }))).status, 400);
  assert.equal((await h.call("GET", "/system/function/x?namespace=staging-fn")).status, 200);
  const ns = JSON.parse((await h.call("GET", "/system/namespace/staging-fn")).text);
  assert.equal(ns.name, "staging-fn");
  assert.equal(ns.labels.openfaas, "1");
  assert.equal(
    (await h.call("PUT", "/system/namespace/staging-fn", { name: "staging-fn", labels: { team: "b" } }))
      .status,
    202,
  );
  assert.equal(JSON.parse((await h.call("GET", "/system/namespace/staging-fn")).text).labels.team, "b");
  assert.equal((await h.call("GET", "/system/namespace/default")).status, 404);
  assert.equal(
    (await h.call("POST", "/system/namespace/", { name: "staging-fn", labels: { openfaas: "1" } })).status,
    409,
  );
  assert.equal((await h.call("POST", "/system/namespace/", { name: "plain" })).status, 400);
  assert.equal((await h.call("DELETE", "/system/namespace/staging-fn")).status, 202);
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  assert.equal((await h.call("DELETE", "/system/namespace/staging-fn")).status, 404);
}, { config: { clusterRole: true } });

apiTest(
  "namespaces: deleting one with a running function: gone from the API at once, removed when its pods are",
  async (h) => {
    await h.call("POST", "/system/namespace/", { name: "staging-fn", labels: { openfaas: "1" } });
    assert.equal(
      (await h.call("POST", "/system/functions", fn("x", { namespace: "staging-fn" }))).status,
      202,
    );
    await h.advance(20_000);
    assert.equal(h.cluster.store.list(Kinds.Pod, "staging-fn").items.length, 1);
    assert.equal((await h.call("DELETE", "/system/namespace/staging-fn")).status, 202);
    // Terminating in the cluster (its pod drains), but no longer offered by the provider.
    assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "staging-fn")?.status.phase, "Terminating");
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
    assert.equal((await h.call("GET", "/system/namespace/staging-fn")).status, 404);
    assert.equal((await h.call("DELETE", "/system/namespace/staging-fn")).status, 404);
    await h.advance(60_000);
    assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "staging-fn"), undefined);
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  },
  { config: { clusterRole: true } },
);

apiTest("cluster_role=false (the default): one namespace, read through namespaced paths only", async (h) => {
  // A marked namespace exists, but without cluster_role the provider neither lists nor uses it.
  h.cluster.store.create(Kinds.Namespace, undefined, {
    metadata: { name: "staging-fn", labels: { openfaas: "1" } },
  });
  const paths: string[] = [];
  h.cluster.api.interceptor = (req) => {
    paths.push(req.path);
    return undefined;
  };
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  const other = await h.call("POST", "/system/functions", fn("x", { namespace: "staging-fn" }));
  assert.equal(other.status, 400);
  assert.match(other.text, /namespace must be: openfaas-fn/);
  assert.equal(h.cluster.store.list(Kinds.Deployment, "staging-fn").items.length, 0);
  assert.equal((await h.call("GET", "/system/functions?namespace=staging-fn")).status, 400);
  assert.equal((await h.call("GET", "/system/secrets?namespace=staging-fn")).status, 400);
  assert.equal((await h.call("GET", "/system/functions?namespace=kube-system")).status, 401);
  for (
    const [method, path, body] of [
      ["GET", "/system/namespace/openfaas-fn", undefined],
      ["POST", "/system/namespace/", { name: "new-fn", labels: { openfaas: "1" } }],
      ["PUT", "/system/namespace/openfaas-fn", { name: "openfaas-fn" }],
      ["DELETE", "/system/namespace/staging-fn", undefined],
    ] as const
  ) {
    const r = await h.call(method, path, body);
    assert.equal(r.status, 501, `${method} ${path}`);
    assert.match(r.text, /cluster_role=true/);
  }
  assert.ok(h.cluster.store.peek(Kinds.Namespace, undefined, "staging-fn"), "nothing deleted");
  assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "new-fn"), undefined, "nothing created");
  // Everything works in the function namespace.
  assert.equal((await h.call("POST", "/system/functions", fn("env"))).status, 202);
  assert.equal((await h.call("POST", "/system/secrets", { name: "k", value: "v" })).status, 202);
  await h.advance(6 * 60_000); // past the 5-minute resync: every cache relists
  assert.equal(JSON.parse((await h.call("GET", "/system/function/env")).text).availableReplicas, 1);
  assert.equal((await h.call("GET", "/system/logs?name=env&tail=1")).status, 200);
  // Every read was namespaced (a namespaced Role is enough): no Namespace and no cluster-wide list or watch.
  assert.ok(
    paths.some((p) => p.startsWith("/apis/apps/v1/namespaces/openfaas-fn/deployments")),
    paths.join(),
  );
  // Leader election's Lease is namespaced too, in the provider's own namespace (a Role there).
  const lease = "/apis/coordination.k8s.io/v1/namespaces/openfaas/leases";
  const clusterWide = paths.filter((p) =>
    !/^\/apis?\/(v1|[^/]+\/v1)\/namespaces\/openfaas-fn\//.test(p) && !p.startsWith(lease)
  );
  assert.deepEqual(clusterWide, []);
});

Deno.test("the function namespace carries openfaas=1 from the start", () =>
  withProvider(async (h) => {
    const ns = h.cluster.store.peek(Kinds.Namespace, undefined, "openfaas-fn");
    assert.ok(ns, "openfaas-fn exists");
    assert.equal(ns.metadata.labels?.openfaas, "1");
    const r = await h.call("GET", "/system/namespace/openfaas-fn");
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).labels?.openfaas, "1");
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  }, { config: { clusterRole: true } }));

Deno.test({
  name: "deploy and update take the namespace from the query when the body has none",
  fn: () =>
    withProvider(async (h) => {
      h.cluster.store.create(Kinds.Namespace, undefined, {
        metadata: { name: "staging-fn", labels: { openfaas: "1" } },
      });
      await h.advance(1_000);
      await deploy(h, fn("q"), "?namespace=staging-fn");
      assert.ok(h.cluster.store.peek(Kinds.Deployment, "staging-fn", "q"), "created in staging-fn");
      assert.equal(
        h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "q"),
        undefined,
        "not in openfaas-fn",
      );
      const s = JSON.parse((await h.call("GET", "/system/function/q?namespace=staging-fn")).text);
      assert.equal(s.namespace, "staging-fn");
      const u = await h.call("PUT", "/system/functions?namespace=staging-fn", fn("q", { envProcess: "cat" }));
      assert.equal(u.status, 202, u.text);
      assert.equal(
        deploymentOf(h, "q", "staging-fn").spec.template.spec.containers[0].env.find((e: { name: string }) =>
          e.name === "fprocess"
        )?.value,
        "cat",
      );
      // The body's namespace wins over the query's.
      await deploy(h, fn("b", { namespace: "openfaas-fn" }), "?namespace=staging-fn");
      assert.ok(h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "b"));
      assert.equal(h.cluster.store.peek(Kinds.Deployment, "staging-fn", "b"), undefined);
    }, { config: { clusterRole: true } }),
});
