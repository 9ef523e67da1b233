/**
 * What clients read besides objects, over HTTP: aggregated discovery (`apidiscovery.k8s.io`, which
 * kubectl 1.30+ asks for), server-side Tables for every built-in kind, and `metadata.generation`
 * only on the kinds that have one, bumped by each kind's rule.
 */
import assert from "node:assert/strict";
import { getJson, send, withSimServer } from "../support/simcluster.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { deploymentFixture } from "../support/fixtures.ts";
import { apiVersionOf, builtinKinds, type KindInfo } from "../../sim/kinds.ts";
import { firstValue, parseJsonPath } from "../../sim/crd/jsonpath.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const v2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
const merge = "application/merge-patch+json";

Deno.test("discovery: aggregated documents when asked for, legacy ones otherwise", async () => {
  await withSimServer(async ({ url }) => {
    // What client-go 1.30+ sends.
    const accept = `${v2},${v2beta1},application/json`;
    const apis = await getJson(`${url}/apis`, { headers: { accept } });
    assert.equal(apis.status, 200);
    assert.equal(apis.headers.get("content-type"), v2);
    assert.equal(apis.body.kind, "APIGroupDiscoveryList");
    assert.equal(apis.body.apiVersion, "apidiscovery.k8s.io/v2");
    const apps = apis.body.items.find((g: Any) => g.metadata.name === "apps");
    assert.equal(apps.versions[0].version, "v1");
    assert.equal(apps.versions[0].freshness, "Current");
    const deployments = apps.versions[0].resources.find((r: Any) => r.resource === "deployments");
    assert.deepEqual(deployments.responseKind, { group: "apps", version: "v1", kind: "Deployment" });
    assert.equal(deployments.scope, "Namespaced");
    assert.equal(deployments.singularResource, "deployment");
    assert.deepEqual(deployments.shortNames, ["deploy"]);
    assert.deepEqual(deployments.categories, ["all"]);
    assert.ok(deployments.verbs.includes("watch"));
    assert.deepEqual(
      deployments.subresources.map((
        s: Any,
      ) => [s.subresource, `${s.responseKind.group}/${s.responseKind.kind}`]),
      [["status", "apps/Deployment"], ["scale", "autoscaling/Scale"]],
    );
    const crds = apis.body.items.find((g: Any) => g.metadata.name === "apiextensions.k8s.io");
    assert.equal(crds.versions[0].resources[0].scope, "Cluster");
    assert.ok(apis.body.items.some((g: Any) => g.metadata.name === "metrics.k8s.io"));

    const core = await getJson(`${url}/api`, { headers: { accept } });
    assert.equal(core.headers.get("content-type"), v2);
    assert.equal(core.body.items.length, 1);
    assert.equal(core.body.items[0].metadata.name, undefined, "the core group has no name");
    const pods = core.body.items[0].versions[0].resources.find((r: Any) => r.resource === "pods");
    assert.deepEqual(pods.subresources.map((s: Any) => s.subresource), ["status", "log"]);
    assert.deepEqual(pods.responseKind, { group: "", version: "v1", kind: "Pod" });

    const beta = await getJson(`${url}/apis`, { headers: { accept: v2beta1 } });
    assert.equal(beta.headers.get("content-type"), v2beta1);
    assert.equal(beta.body.apiVersion, "apidiscovery.k8s.io/v2beta1");

    for (const plain of [undefined, "application/json", "application/json;g=apidiscovery.k8s.io;v=v3"]) {
      const legacy = await getJson(`${url}/apis`, plain ? { headers: { accept: plain } } : {});
      assert.equal(legacy.headers.get("content-type"), "application/json");
      assert.equal(legacy.body.kind, "APIGroupList");
      const versions = await getJson(`${url}/api`, plain ? { headers: { accept: plain } } : {});
      assert.equal(versions.body.kind, "APIVersions");
    }
  });
});

Deno.test({
  name: "discovery: kubectl reads the aggregated documents alone, and sees custom resources in them",
  ignore: !kubectlPath,
  fn: async () => {
    await withSimServer(async ({ url }) => {
      const out = await kubectl(url, "api-resources", "-v=6");
      assert.equal(out.code, 0, out.stderr);
      const fetched = [...out.stderr.matchAll(/verb="GET" url="https?:\/\/[^/]+([^?"]*)/g)].map((m) => m[1]);
      assert.deepEqual(fetched.sort(), ["/api", "/apis"], "no per-group-version documents were needed");
      assert.match(out.stdout, /^pods\s+po\s+v1\s+true\s+Pod$/m);
      assert.match(out.stdout, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      assert.match(out.stdout, /^profiles\s+openfaas\.com\/v1\s+true\s+Profile$/m);
      assert.match(out.stdout, /^customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io\/v1\s+false/m);
    });
  },
});

/** A minimal valid object of each built-in kind, for the table test. */
const sample = (kind: KindInfo): Record<string, unknown> => {
  const metadata = { name: "sample" };
  switch (kind.kind) {
    case "Endpoints":
      // Not "sample": the endpoints controller keeps that one for the Service of that name.
      return {
        metadata: { name: "sample-manual" },
        subsets: [{ addresses: [{ ip: "10.0.0.1" }], ports: [{ port: 80 }] }],
      };
    case "Pod":
      return { metadata, spec: { containers: [{ name: "c", image: "functions/alpine:latest" }] } };
    case "Deployment":
      return { ...deploymentFixture("sample"), apiVersion: undefined, kind: undefined };
    case "Service":
      return { metadata, spec: { ports: [{ port: 80 }], selector: { app: "x" } } };
    case "EndpointSlice":
      return {
        metadata,
        addressType: "IPv4",
        endpoints: [{ addresses: ["10.0.0.1"] }],
        ports: [{ port: 80 }],
      };
    case "Event":
      return {
        metadata,
        involvedObject: { kind: "Pod", name: "p" },
        reason: "Test",
        message: "m",
        type: "Normal",
      };
    case "RoleBinding":
    case "ClusterRoleBinding":
      return {
        metadata,
        roleRef: { kind: "ClusterRole", name: "r" },
        subjects: [{ kind: "User", name: "u" }],
      };
    case "CustomResourceDefinition":
      return {
        metadata: { name: "samples.example.com" },
        spec: {
          group: "example.com",
          scope: "Namespaced",
          names: { kind: "Sample", plural: "samples" },
          versions: [{
            name: "v1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object" } },
          }],
        },
      };
    default:
      return { metadata, ...(kind.kind === "ReplicaSet" ? { spec: { replicas: 0 } } : {}) };
  }
};

const table = { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" };

Deno.test("tables: every built-in kind, and custom resources, list as a meta.k8s.io Table", async () => {
  await withSimServer(async ({ url }) => {
    for (const kind of builtinKinds) {
      const base = `/${kind.group ? "apis" : "api"}/${apiVersionOf(kind)}${
        kind.namespaced ? "/namespaces/default" : ""
      }/${kind.plural}`;
      const made = await send(`${url}${base}`, "POST", sample(kind));
      assert.ok(made.status === 201, `${kind.kind}: ${JSON.stringify(made.body)}`);
      const res = await getJson(`${url}${base}`, { headers: table });
      assert.equal(res.status, 200, kind.kind);
      assert.equal(res.body.kind, "Table", kind.kind);
      const columns = res.body.columnDefinitions.map((c: Any) => c.name);
      assert.ok(res.body.rows.length >= 1, kind.kind);
      for (const row of res.body.rows) assert.equal(row.cells.length, columns.length, kind.kind);
      assert.equal(res.body.rows[0].object.kind, "PartialObjectMetadata");
      if (kind.kind !== "Event") assert.equal(columns[0], "Name", kind.kind);
      const one = await getJson(`${url}${base}/${made.body.metadata.name}`, { headers: table });
      assert.equal(one.body.rows.length, 1, kind.kind);
      if (kind.kind !== "Event") assert.equal(one.body.rows[0].cells[0], made.body.metadata.name);
    }
    // The default convertor (kinds without a printer: CRDs): Name and Created At.
    const crds = await getJson(`${url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
      headers: table,
    });
    assert.deepEqual(crds.body.columnDefinitions.map((c: Any) => [c.name, c.type]), [["Name", "string"], [
      "Created At",
      "date",
    ]]);
    assert.match(crds.body.rows[0].cells[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // A custom resource without printer columns: Name and Age.
    assert.equal(
      (await send(`${url}/apis/example.com/v1/namespaces/default/samples`, "POST", {
        metadata: { name: "s" },
        spec: { x: 1 },
      })).status,
      201,
    );
    const samples = await getJson(`${url}/apis/example.com/v1/namespaces/default/samples`, {
      headers: table,
    });
    assert.deepEqual(samples.body.columnDefinitions.map((c: Any) => c.name), ["Name", "Age"]);
    assert.deepEqual(samples.body.rows[0].cells, ["s", "0s"]);
  });
});

Deno.test("generation: only kinds that have one, bumped by each kind's rule", async () => {
  await withSimServer(async ({ url }) => {
    const gen = (body: Any) => body.metadata.generation;
    const patch = async (path: string, body: unknown) => {
      const res = await send(`${url}${path}`, "PATCH", body, merge);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    // No generation: Services, Secrets, ConfigMaps, Namespaces (whatever is changed).
    const svc = await send(`${url}/api/v1/namespaces/default/services`, "POST", {
      metadata: { name: "s" },
      spec: { ports: [{ port: 80 }] },
    });
    assert.equal(gen(svc.body), undefined);
    assert.equal(
      gen(await patch("/api/v1/namespaces/default/services/s", { spec: { ports: [{ port: 81 }] } })),
      undefined,
    );
    const secret = await send(`${url}/api/v1/namespaces/default/secrets`, "POST", {
      metadata: { name: "x" },
    });
    assert.equal(gen(secret.body), undefined);
    const cm = await send(`${url}/api/v1/namespaces/default/configmaps`, "POST", { metadata: { name: "c" } });
    assert.equal(gen(cm.body), undefined);
    assert.equal(gen((await getJson(`${url}/api/v1/namespaces/default`)).body), undefined);

    // Pods (1.33): the spec.
    const pod = "/api/v1/namespaces/default/pods/p";
    const created = await send(`${url}/api/v1/namespaces/default/pods`, "POST", {
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "functions/alpine:latest" }] },
    });
    assert.equal(gen(created.body), 1);
    assert.equal(gen(await patch(pod, { metadata: { labels: { a: "b" } } })), 1);
    assert.equal(gen(await patch(pod, { spec: { activeDeadlineSeconds: 30 } })), 2);
    assert.equal(gen(await patch(`${pod}/status`, { status: { message: "hi" } })), 2);

    // Deployments: the spec or the annotations (copied to ReplicaSets), not labels or status.
    const dep = "/apis/apps/v1/namespaces/default/deployments/d";
    assert.equal(
      gen(
        (await send(`${url}/apis/apps/v1/namespaces/default/deployments`, "POST", deploymentFixture("d")))
          .body,
      ),
      1,
    );
    assert.equal(gen(await patch(dep, { metadata: { labels: { extra: "1" } } })), 1);
    assert.equal(gen(await patch(dep, { metadata: { annotations: { note: "1" } } })), 2);
    assert.equal(gen(await patch(dep, { spec: { replicas: 2 } })), 3);
    assert.equal(gen(await patch(`${dep}/status`, { status: { observedGeneration: 3 } })), 3);
    // A client cannot set it.
    const current = (await getJson(`${url}${dep}`)).body;
    const put = await send(`${url}${dep}`, "PUT", {
      ...current,
      metadata: { ...current.metadata, generation: 99 },
    });
    assert.equal(gen(put.body), 3);

    // EndpointSlices: anything but metadata, or the labels.
    const eps = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/e";
    const slice = await send(`${url}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices`, "POST", {
      metadata: { name: "e" },
      addressType: "IPv4",
      endpoints: [],
    });
    assert.equal(gen(slice.body), 1);
    assert.equal(gen(await patch(eps, { metadata: { annotations: { a: "b" } } })), 1);
    assert.equal(gen(await patch(eps, { metadata: { labels: { a: "b" } } })), 2);
    assert.equal(gen(await patch(eps, { endpoints: [{ addresses: ["10.0.0.9"] }] })), 3);

    // CRDs: the spec.
    const crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/profiles.openfaas.com";
    const before = gen((await getJson(`${url}${crd}`)).body);
    assert.equal(before, 1);
    assert.equal(gen(await patch(crd, { metadata: { labels: { a: "b" } } })), 1);
    assert.equal(gen(await patch(crd, { spec: { names: { shortNames: ["prof"] } } })), 2);
  });
});

Deno.test("printer columns: the simple JSONPath of additionalPrinterColumns", () => {
  const o = {
    metadata: { labels: { "app.kubernetes.io/name": "w" } },
    spec: { size: 3, items: [{ name: "a" }, { name: "b" }] },
    status: { conditions: [{ type: "Synced", status: "False" }, { type: "Ready", status: "True" }] },
  };
  assert.equal(firstValue(o, ".spec.size"), 3);
  assert.equal(firstValue(o, "{.spec.size}"), 3);
  assert.equal(firstValue(o, ".metadata.labels.app\\.kubernetes\\.io/name"), "w");
  assert.equal(firstValue(o, ".metadata.labels['app.kubernetes.io/name']"), "w");
  assert.equal(firstValue(o, ".spec.items[1].name"), "b");
  assert.equal(firstValue(o, ".spec.items[-1].name"), "b");
  assert.equal(firstValue(o, ".spec.items[*].name"), "a");
  assert.equal(firstValue(o, '.status.conditions[?(@.type=="Ready")].status'), "True");
  assert.equal(firstValue(o, ".status.missing.deeper"), undefined);
  assert.equal(firstValue(o, ".spec.items[9].name"), undefined);
  assert.equal(parseJsonPath("spec.size"), undefined, "a path starts with a dot");
  assert.equal(parseJsonPath(".spec[?(@.x>1)]"), undefined, "only equality filters");
});
