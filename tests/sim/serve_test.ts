/**
 * The simulator served over HTTP (sim/serve): discovery, CRUD with Status errors, tables, watches,
 * logs, protobuf bodies from kubectl, and the kubeconfig that points at it.
 */
import { getJson, readEvents, send } from "../support/simcluster.ts";
import assert from "node:assert/strict";
import { withSimServer } from "../support/simcluster.ts";
import { assertSecretWatchEvents, deploymentFixture } from "../support/fixtures.ts";

import YAML from "yaml";

import { kubeconfigFor } from "../../sim/serve.ts";
import { decodeProtobuf } from "../../sim/serve/protobuf.ts";
import { renderingFor } from "../../sim/serve/handler.ts";
import { jsonPatch, mergeDiff, strategicMerge } from "../../sim/patch.ts";
import { humanDuration } from "../../sim/table.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const startupLog = () => ["Forking - env []", "Listening on port: 8080"];

/** A simulated cluster in TestClock time, served over HTTP on 127.0.0.1:0. */
const withServer = (fn: Parameters<typeof withSimServer>[0]) =>
  withSimServer(fn, { kubelet: { startupLog } });

const deployment = deploymentFixture;

Deno.test("sim serve: discovery documents", async () => {
  await withServer(async ({ url }) => {
    const version = await getJson(`${url}/version`);
    assert.equal(version.status, 200);
    assert.equal(version.body.major, "1");
    assert.match(version.body.gitVersion, /^v1\.\d+\.\d+/);

    const api = await getJson(`${url}/api`);
    assert.equal(api.body.kind, "APIVersions");
    assert.deepEqual(api.body.versions, ["v1"]);

    const apis = await getJson(`${url}/apis`);
    assert.equal(apis.body.kind, "APIGroupList");
    const groups = apis.body.groups.map((g: Any) => g.name);
    for (const g of ["apps", "discovery.k8s.io", "rbac.authorization.k8s.io"]) {
      assert.ok(groups.includes(g), g);
    }
    const apps = apis.body.groups.find((g: Any) => g.name === "apps");
    assert.deepEqual(apps.preferredVersion, { groupVersion: "apps/v1", version: "v1" });

    const core = await getJson(`${url}/api/v1`);
    assert.equal(core.body.kind, "APIResourceList");
    assert.equal(core.body.groupVersion, "v1");
    const pods = core.body.resources.find((r: Any) => r.name === "pods");
    assert.equal(pods.kind, "Pod");
    assert.equal(pods.namespaced, true);
    assert.deepEqual(pods.shortNames, ["po"]);
    assert.ok(pods.verbs.includes("watch"));
    assert.ok(core.body.resources.some((r: Any) => r.name === "pods/log"));
    const ns = core.body.resources.find((r: Any) => r.name === "namespaces");
    assert.equal(ns.namespaced, false);

    const appsV1 = await getJson(`${url}/apis/apps/v1`);
    const deploy = appsV1.body.resources.find((r: Any) => r.name === "deployments");
    assert.deepEqual(deploy.shortNames, ["deploy"]);
    assert.ok(appsV1.body.resources.some((r: Any) => r.name === "deployments/scale" && r.kind === "Scale"));

    const slices = await getJson(`${url}/apis/discovery.k8s.io/v1`);
    assert.ok(slices.body.resources.some((r: Any) => r.name === "endpointslices"));
    const rbac = await getJson(`${url}/apis/rbac.authorization.k8s.io/v1`);
    const rbacNames = rbac.body.resources.map((r: Any) => r.name).sort();
    assert.deepEqual(rbacNames, ["clusterrolebindings", "clusterroles", "rolebindings", "roles"]);

    const openapi = await getJson(`${url}/openapi/v3`);
    assert.ok(openapi.body.paths["apis/apps/v1"].serverRelativeURL.startsWith("/openapi/v3/apis/apps/v1"));
    assert.equal((await getJson(`${url}/openapi/v2`)).status, 404);

    const missing = await getJson(`${url}/apis/batch/v1`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.kind, "Status");
    assert.equal(missing.body.reason, "NotFound");
  });
});

Deno.test("sim serve: CRUD over HTTP with Status errors", async () => {
  await withServer(async ({ url }) => {
    const base = `${url}/api/v1/namespaces/openfaas-fn/secrets`;
    const created = await send(base, "POST", { metadata: { name: "s1" }, stringData: { k: "v" } });
    assert.equal(created.status, 201);
    assert.equal(created.body.data.k, btoa("v"));
    assert.equal(created.body.kind, "Secret");

    const again = await send(base, "POST", { metadata: { name: "s1" }, stringData: { k: "v" } });
    assert.equal(again.status, 409);
    assert.equal(again.body.kind, "Status");
    assert.equal(again.body.reason, "AlreadyExists");

    const read = await getJson(`${base}/s1`);
    assert.equal(read.status, 200);
    const updated = await send(`${base}/s1`, "PUT", { ...read.body, stringData: { k: "w" } });
    assert.equal(updated.status, 200);
    const stale = await send(`${base}/s1`, "PUT", { ...read.body, stringData: { k: "x" } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, "Conflict");

    const list = await getJson(base);
    assert.equal(list.body.kind, "SecretList");
    assert.deepEqual(list.body.items.map((s: Any) => s.metadata.name), ["s1"]);

    const invalid = await send(base, "POST", { metadata: { name: "Bad_Name" } });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.reason, "Invalid");

    const deleted = await getJson(`${base}/s1`, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    const gone = await getJson(`${base}/s1`);
    assert.equal(gone.status, 404);
    assert.deepEqual(
      { kind: gone.body.kind, status: gone.body.status, reason: gone.body.reason, code: gone.body.code },
      { kind: "Status", status: "Failure", reason: "NotFound", code: 404 },
    );
    assert.equal(gone.body.message, 'secrets "s1" not found');

    const nsMissing = await send(`${url}/api/v1/namespaces/nope/secrets`, "POST", {
      metadata: { name: "a" },
    });
    assert.equal(nsMissing.status, 404);
  });
});

Deno.test("sim serve: table output for kubectl get", async () => {
  await withServer(async ({ url, advance }) => {
    const base = `${url}/apis/apps/v1/namespaces/openfaas-fn/deployments`;
    await send(base, "POST", deployment("fn"));
    await advance("30 seconds");
    const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    const pods = await getJson(`${url}/api/v1/pods`, { headers: { accept } });
    assert.equal(pods.body.kind, "Table");
    assert.deepEqual(
      pods.body.columnDefinitions.filter((c: Any) => !c.priority).map((c: Any) => c.name),
      ["Name", "Ready", "Status", "Restarts", "Age"],
    );
    assert.equal(pods.body.rows.length, 1);
    const [, ready, status, restarts, age] = pods.body.rows[0].cells;
    assert.deepEqual([ready, status, restarts, age], ["1/1", "Running", 0, "30s"]);
    assert.equal(pods.body.rows[0].object.kind, "PartialObjectMetadata");
    assert.equal(pods.body.rows[0].object.metadata.namespace, "openfaas-fn");

    const deps = await getJson(base, { headers: { accept } });
    assert.deepEqual(
      deps.body.columnDefinitions.filter((c: Any) => !c.priority).map((c: Any) => c.name),
      ["Name", "Ready", "Up-to-date", "Available", "Age"],
    );
    assert.deepEqual(deps.body.rows[0].cells.slice(0, 4), ["fn", "1/1", 1, 1]);

    const nodes = await getJson(`${url}/api/v1/nodes`, { headers: { accept } });
    assert.deepEqual(nodes.body.rows[0].cells.slice(0, 3), ["sim-node-1", "Ready", "<none>"]);
    const one = await getJson(`${url}/api/v1/namespaces/openfaas`, { headers: { accept } });
    assert.deepEqual(one.body.rows[0].cells, ["openfaas", "Active", "30s"]);
    const plain = await getJson(`${url}/api/v1/namespaces/openfaas`);
    assert.equal(plain.body.kind, "Namespace");
  });
});

Deno.test("sim serve: a watch streams ordered events as NDJSON", async () => {
  await withServer(async ({ url }) => {
    const base = `${url}/api/v1/namespaces/openfaas-fn/secrets`;
    const list = await getJson(base);
    const rv = list.body.metadata.resourceVersion;
    const res = await fetch(`${base}?watch=1&resourceVersion=${rv}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const reading = readEvents(res, 5);
    for (const n of ["s1", "s2", "s3"]) await send(base, "POST", { metadata: { name: n } });
    const s2 = await getJson(`${base}/s2`);
    await send(`${base}/s2`, "PUT", { ...s2.body, stringData: { a: "b" } });
    await getJson(`${base}/s1`, { method: "DELETE" });
    const events = await reading;
    assertSecretWatchEvents(events);
  });
});

Deno.test("sim serve: a watch from an expired resourceVersion gets 410 Expired", async () => {
  await withServer(async ({ url, cluster }) => {
    const base = `${url}/api/v1/namespaces/openfaas-fn/secrets`;
    const rv = (await getJson(base)).body.metadata.resourceVersion;
    await send(base, "POST", { metadata: { name: "s1" } });
    cluster.store.compact();
    const res = await fetch(`${base}?watch=true&resourceVersion=${rv}`);
    assert.equal(res.status, 200, "like the real API server: 200 and an ERROR event");
    const events = await readEvents(res, 1);
    assert.equal(events[0].type, "ERROR");
    assert.equal(events[0].object.kind, "Status");
    assert.equal(events[0].object.code, 410);
    assert.equal(events[0].object.reason, "Expired");
    // A fresh list-then-watch works again.
    const rv2 = (await getJson(base)).body.metadata.resourceVersion;
    const res2 = await fetch(`${base}?watch=true&resourceVersion=${rv2}`);
    const reading = readEvents(res2, 1);
    await send(base, "POST", { metadata: { name: "s2" } });
    assert.equal((await reading)[0].object.metadata.name, "s2");
  });
});

Deno.test("sim serve: pod logs as text, and followed", async () => {
  await withServer(async ({ url, advance }) => {
    await send(`${url}/apis/apps/v1/namespaces/openfaas-fn/deployments`, "POST", deployment("fn"));
    await advance("30 seconds");
    const pods = (await getJson(`${url}/api/v1/namespaces/openfaas-fn/pods`)).body.items;
    const name = pods[0].metadata.name;
    const res = await fetch(`${url}/api/v1/namespaces/openfaas-fn/pods/${name}/log`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    assert.equal(await res.text(), "Forking - env []\nListening on port: 8080\n");

    const tail = await fetch(`${url}/api/v1/namespaces/openfaas-fn/pods/${name}/log?tailLines=1`);
    assert.equal(await tail.text(), "Listening on port: 8080\n");

    const follow = await fetch(`${url}/api/v1/namespaces/openfaas-fn/pods/${name}/log?follow=true`);
    const reader = follow.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("8080")) text += (await reader.read()).value ?? "";
    await reader.cancel();
    assert.match(text, /Forking - env/);

    const missing = await getJson(`${url}/api/v1/namespaces/openfaas-fn/pods/nope/log`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.kind, "Status");

    // sinceSeconds counts back from the cluster's clock; it excludes sinceTime and must be positive.
    const log = `${url}/api/v1/namespaces/openfaas-fn/pods/${name}/log`;
    assert.equal(
      await (await fetch(`${log}?sinceSeconds=60`)).text(),
      "Forking - env []\nListening on port: 8080\n",
    );
    await advance("2 minutes");
    assert.equal(await (await fetch(`${log}?sinceSeconds=60`)).text(), "");
    assert.equal(
      await (await fetch(`${log}?sinceSeconds=600`)).text(),
      "Forking - env []\nListening on port: 8080\n",
    );
    for (const bad of ["sinceSeconds=0", "sinceSeconds=x", "sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z"]) {
      const r = await getJson(`${log}?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.reason, "BadRequest", bad);
    }
  });
});

Deno.test("sim serve: patch helpers", () => {
  const current = {
    spec: {
      containers: [{ name: "a", image: "x:1", env: [{ name: "A", value: "1" }] }, { name: "b", image: "y" }],
      keep: true,
    },
  };
  const patched = strategicMerge(current, {
    spec: {
      "$setElementOrder/containers": [{ name: "b" }, { name: "a" }],
      containers: [{ name: "a", image: "x:2" }, { name: "b", $patch: "delete" }],
      keep: null,
    },
  }) as Any;
  assert.deepEqual(patched.spec, {
    containers: [{ name: "a", image: "x:2", env: [{ name: "A", value: "1" }] }],
  });
  assert.deepEqual(
    jsonPatch({ a: [1, 2] }, [{ op: "add", path: "/a/-", value: 3 }, { op: "add", path: "/b", value: "c" }]),
    {
      a: [1, 2, 3],
      b: "c",
    },
  );
  assert.deepEqual(mergeDiff({ a: 1, b: { c: 1, d: 2 } }, { b: { c: 1, d: 3 }, e: 4 }), {
    a: null,
    b: { d: 3 },
    e: 4,
  });
  assert.deepEqual(renderingFor("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"), {
    as: "table",
    version: "v1",
  });
  assert.deepEqual(renderingFor("application/json, */*"), { as: "json" });
  assert.equal(humanDuration(75_000), "75s");
  assert.equal(humanDuration(5 * 60_000 + 3000), "5m3s");
  assert.equal(humanDuration(3 * 3600_000 + 60_000), "3h1m");
  assert.equal(humanDuration(3 * 86400_000), "3d");
});

Deno.test("sim serve: protobuf bodies from kubectl's typed clients", () => {
  // `kubectl create secret generic s1 -n openfaas-fn --from-literal=a=b`, as sent on the wire.
  const body = new Uint8Array([
    107,
    56,
    115,
    0,
    10,
    12,
    10,
    2,
    118,
    49,
    18,
    6,
    83,
    101,
    99,
    114,
    101,
    116,
    18,
    41,
    10,
    29,
    10,
    2,
    115,
    49,
    18,
    0,
    26,
    11,
    111,
    112,
    101,
    110,
    102,
    97,
    97,
    115,
    45,
    102,
    110,
    34,
    0,
    42,
    0,
    50,
    0,
    56,
    0,
    66,
    0,
    18,
    6,
    10,
    1,
    97,
    18,
    1,
    98,
    26,
    0,
    26,
    0,
    34,
    0,
  ]);
  assert.deepEqual(decodeProtobuf(body), {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s1", namespace: "openfaas-fn" },
    data: { a: btoa("b") },
  });
});

Deno.test("sim serve: kubeconfigFor", () => {
  const config = YAML.parse(kubeconfigFor("http://127.0.0.1:1234"));
  assert.equal(config.kind, "Config");
  assert.equal(config.clusters[0].cluster.server, "http://127.0.0.1:1234");
  assert.equal(config.contexts[0].context.cluster, config.clusters[0].name);
  assert.equal(config["current-context"], config.contexts[0].name);
});
