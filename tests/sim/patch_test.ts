/** PATCH: strategic merge, JSON patch, server-side apply and dry runs, in process and over HTTP. */
import { getJson, send } from "../support/simcluster.ts";
import assert from "node:assert/strict";
import YAML from "yaml";
import { withSimCluster, withSimServer } from "../support/simcluster.ts";
import { deploymentFixture } from "../support/fixtures.ts";
import { Kinds } from "../../sim/kinds.ts";
import { serveSim } from "../../sim/serve.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const ok = (res: { status: number; body: unknown }) => {
  assert.ok(res.status < 300, `${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as Any;
};

const strategicImagePatch = {
  spec: { template: { spec: { containers: [{ name: "fn", image: "functions/alpine:0.2" }] } } },
};

/** The container after the strategic merge patch: the new image, every other field kept. */
const assertImagePatched = (dep: Any) => {
  const containers = dep.spec.template.spec.containers;
  assert.equal(containers.length, 1);
  const [c] = containers;
  assert.equal(c.name, "fn");
  assert.equal(c.image, "functions/alpine:0.2");
  assert.deepEqual(c.env, [{ name: "fprocess", value: "env" }], "other container fields kept");
  assert.equal(c.ports?.[0]?.containerPort, 8080);
  assert.deepEqual(c.readinessProbe?.exec, { command: ["cat", "/tmp/.lock"] });
};

const depPath = (name = "") => `/apis/apps/v1/namespaces/openfaas-fn/deployments${name ? `/${name}` : ""}`;

Deno.test("PATCH in process: a strategic merge patch merges containers by name", async () => {
  await withSimCluster(({ cluster }) => {
    const api = cluster.api;
    ok(api.handle({ method: "POST", path: depPath(), body: deploymentFixture("fn") }));
    const rv = cluster.store.resourceVersion;
    const res = ok(api.handle({
      method: "PATCH",
      path: depPath("fn"),
      body: strategicImagePatch,
      contentType: "application/strategic-merge-patch+json",
    }));
    assertImagePatched(res);
    assertImagePatched(cluster.store.peek(Kinds.Deployment, "openfaas-fn", "fn"));
    assert.ok(Number(res.metadata.resourceVersion) > rv);
    // JSON patch and server-side apply, which only the HTTP facade took before.
    const jp = ok(api.handle({
      method: "PATCH",
      path: depPath("fn"),
      body: [{ op: "replace", path: "/spec/replicas", value: 3 }],
      contentType: "application/json-patch+json",
    }));
    assert.equal(jp.spec.replicas, 3);
    assertImagePatched(jp);
    const applied = api.handle({
      method: "PATCH",
      path: depPath("other"),
      body: deploymentFixture("other"),
      contentType: "application/apply-patch+yaml",
    });
    assert.equal(applied.status, 201);
    // A merge patch (the default) still replaces lists, and a stale resourceVersion is a conflict.
    const stale = api.handle({
      method: "PATCH",
      path: depPath("fn"),
      body: { metadata: { resourceVersion: String(rv) }, spec: { replicas: 1 } },
    });
    assert.equal(stale.status, 409);
    assert.equal((stale.body as Any).reason, "Conflict");
    const unknown = api.handle({ method: "PATCH", path: depPath("fn"), body: {}, contentType: "text/plain" });
    assert.equal(unknown.status, 415);
  });
});

Deno.test("PATCH in process: dryRun=All changes nothing", async () => {
  await withSimCluster(({ cluster }) => {
    const api = cluster.api;
    ok(api.handle({ method: "POST", path: depPath(), body: deploymentFixture("fn") }));
    const rv = cluster.store.resourceVersion;
    const res = ok(api.handle({
      method: "PATCH",
      path: depPath("fn"),
      query: { dryRun: "All" },
      body: strategicImagePatch,
      contentType: "application/strategic-merge-patch+json",
    }));
    assertImagePatched(res);
    assert.equal(cluster.store.resourceVersion, rv);
    assert.equal(
      cluster.store.peek(Kinds.Deployment, "openfaas-fn", "fn")!.spec.template.spec.containers[0].image,
      "functions/alpine:latest",
    );
  });
});

Deno.test("PATCH over HTTP: the same strategic merge, one request through the fault interceptor", async () => {
  await withSimCluster(async ({ cluster }) => {
    const sim = serveSim(cluster, { port: 0 });
    try {
      ok(cluster.api.handle({ method: "POST", path: depPath(), body: deploymentFixture("fn") }));
      const seen: string[] = [];
      cluster.api.interceptor = (req) => {
        seen.push(req.method);
        return undefined;
      };
      const rv = cluster.store.resourceVersion;
      const res = await fetch(`${sim.url}${depPath("fn")}`, {
        method: "PATCH",
        body: JSON.stringify(strategicImagePatch),
        headers: { "content-type": "application/strategic-merge-patch+json" },
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assertImagePatched(body);
      assert.deepEqual(seen, ["PATCH"], "no synthetic GET");
      assert.equal(cluster.store.resourceVersion > rv, true);
      // Same result as in process.
      const inProcess = cluster.store.get(Kinds.Deployment, "openfaas-fn", "fn");
      assert.deepEqual(body.spec, inProcess.spec);
    } finally {
      cluster.api.interceptor = undefined;
      await sim.close();
    }
  });
});

Deno.test("PATCH over HTTP: strategic merge, JSON patch and server-side apply by content type; 404 for a missing object", async () => {
  await withSimServer(async ({ url }) => {
    const base = `${url}/apis/apps/v1/namespaces/openfaas-fn/deployments`;
    assert.equal((await send(base, "POST", deploymentFixture("fn"))).status, 201);
    const smp = await send(`${base}/fn`, "PATCH", {
      spec: { template: { spec: { containers: [{ name: "fn", image: "functions/alpine:0.2" }] } } },
    }, "application/strategic-merge-patch+json");
    assert.equal(smp.status, 200);
    const c = smp.body.spec.template.spec.containers[0];
    assert.equal(c.image, "functions/alpine:0.2");
    assert.deepEqual(c.env, [{ name: "fprocess", value: "env" }], "other container fields kept");

    const jp = await send(
      `${base}/fn`,
      "PATCH",
      [{ op: "replace", path: "/spec/replicas", value: 3 }],
      "application/json-patch+json",
    );
    assert.equal(jp.status, 200);
    assert.equal(jp.body.spec.replicas, 3);

    const ssa = await getJson(`${base}/other?fieldManager=test`, {
      method: "PATCH",
      body: YAML.stringify(deploymentFixture("other")),
      headers: { "content-type": "application/apply-patch+yaml" },
    });
    assert.ok(ssa.status === 200 || ssa.status === 201, String(ssa.status));
    assert.equal(ssa.body.metadata.name, "other");

    const missing = await send(
      `${base}/nope`,
      "PATCH",
      { spec: { replicas: 1 } },
      "application/strategic-merge-patch+json",
    );
    assert.equal(missing.status, 404);
  });
});
