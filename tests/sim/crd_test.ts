/**
 * CustomResourceDefinitions over HTTP, as a client sees them: a CRD's resources are served once it
 * exists (discovery, list, get, watch, CRUD, `status` when declared, in its scope) and are 404 again
 * once it is deleted; OpenFaaS's Profile CRD is there by default and absent from a bare cluster.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { getJson, readEvents, send, withSimServer } from "../support/simcluster.ts";
import { profileCrd } from "../../sim/crd/definition.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** A CRD for `widgets.example.com`; `status` subresource and printer columns as asked. */
export const widgetCrd = (
  opts: { scope?: "Namespaced" | "Cluster"; status?: boolean; columns?: boolean; plural?: string } = {},
) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${opts.plural ?? "widgets"}.example.com` },
  spec: {
    group: "example.com",
    scope: opts.scope ?? "Namespaced",
    names: { kind: "Widget", plural: opts.plural ?? "widgets", singular: "widget", shortNames: ["wd"] },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      ...(opts.status ? { subresources: { status: {} } } : {}),
      ...(opts.columns
        ? {
          additionalPrinterColumns: [
            { name: "Size", type: "integer", jsonPath: ".spec.size" },
            { name: "Color", type: "string", jsonPath: ".spec.color" },
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        }
        : {}),
    }],
  },
});

const widget = (name: string, spec: Record<string, unknown> = { size: 3, color: "blue" }) => ({
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name },
  spec,
});

const crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const widgets = (ns = "default") => `/apis/example.com/v1/namespaces/${ns}/widgets`;
const aggregatedV2 = { accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" };

Deno.test("crd: a namespaced CRD's resources are served once it exists, and 404 once it is deleted", async () => {
  await withSimServer(async ({ url }) => {
    assert.equal((await getJson(`${url}${widgets()}`)).status, 404);
    assert.equal((await getJson(`${url}/apis/example.com/v1`)).status, 404);

    const created = await send(`${url}${crds}`, "POST", widgetCrd({ status: true }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.metadata.generation, 1);
    const crd = (await getJson(`${url}${crds}/widgets.example.com`)).body;
    const conditions = Object.fromEntries(crd.status.conditions.map((c: Any) => [c.type, c]));
    assert.equal(conditions.NamesAccepted.status, "True");
    assert.equal(conditions.NamesAccepted.reason, "NoConflicts");
    assert.equal(conditions.Established.status, "True");
    assert.equal(conditions.Established.reason, "InitialNamesAccepted");
    assert.deepEqual(crd.status.acceptedNames, {
      plural: "widgets",
      singular: "widget",
      shortNames: ["wd"],
      kind: "Widget",
      listKind: "WidgetList",
    });
    assert.deepEqual(crd.status.storedVersions, ["v1"]);

    // Discovery lists it (legacy group, group version, and aggregated).
    const groups = (await getJson(`${url}/apis`)).body.groups;
    const group = groups.find((g: Any) => g.name === "example.com");
    assert.deepEqual(group?.preferredVersion, { groupVersion: "example.com/v1", version: "v1" });
    const list = (await getJson(`${url}/apis/example.com/v1`)).body;
    assert.deepEqual(list.resources.map((r: Any) => r.name), ["widgets", "widgets/status"]);
    assert.equal(list.resources[0].kind, "Widget");
    assert.equal(list.resources[0].namespaced, true);
    assert.deepEqual(list.resources[0].shortNames, ["wd"]);

    // CRUD, with the status subresource: the main resource keeps the stored status.
    const w1 = await send(`${url}${widgets()}`, "POST", { ...widget("w1"), status: { phase: "ignored" } });
    assert.equal(w1.status, 201, JSON.stringify(w1.body));
    assert.equal(w1.body.status, undefined, "create cannot set status when the subresource is declared");
    assert.equal(w1.body.metadata.generation, 1);
    assert.equal(w1.body.apiVersion, "example.com/v1");
    const got = await getJson(`${url}${widgets()}/w1`);
    assert.equal(got.body.spec.color, "blue");
    const status = await send(
      `${url}${widgets()}/w1/status`,
      "PATCH",
      { status: { phase: "Ready" } },
      "application/merge-patch+json",
    );
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.equal(status.body.status.phase, "Ready");
    assert.equal(status.body.metadata.generation, 1, "a status write does not bump the generation");
    const main = await send(
      `${url}${widgets()}/w1`,
      "PATCH",
      { spec: { size: 4 }, status: { phase: "Changed" } },
      "application/merge-patch+json",
    );
    assert.equal(main.body.status.phase, "Ready", "the main resource ignores status");
    assert.equal(main.body.spec.size, 4);
    assert.equal(main.body.metadata.generation, 2);
    const labelled = await send(
      `${url}${widgets()}/w1`,
      "PATCH",
      { metadata: { labels: { a: "b" } } },
      "application/merge-patch+json",
    );
    assert.equal(labelled.body.metadata.generation, 2, "metadata changes do not bump it");
    const items = (await getJson(`${url}${widgets()}`)).body;
    assert.equal(items.kind, "WidgetList");
    assert.deepEqual(items.items.map((i: Any) => i.metadata.name), ["w1"]);
    assert.equal(
      (await getJson(`${url}/apis/example.com/v1/widgets`)).body.items.length,
      1,
      "all namespaces",
    );
    assert.equal((await send(`${url}${widgets()}`, "POST", widget("w1"))).status, 409);
    assert.equal((await send(`${url}${widgets("nowhere")}`, "POST", widget("w9"))).status, 404);

    // A watch sees the resources, and their removal with the CRD.
    const rv = items.metadata.resourceVersion;
    const watch = await fetch(`${url}${widgets()}?watch=1&resourceVersion=${rv}`);
    assert.equal((await send(`${url}${widgets()}`, "POST", widget("w2"))).status, 201);
    const deleted = await fetch(`${url}${crds}/widgets.example.com`, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    await deleted.body?.cancel();
    // The stream ends with the CRD (a relist then finds nothing served): read it to its end.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const text = await Promise.race([
      watch.text(),
      new Promise<string>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the watch did not end with its CRD")), 3000);
      }),
    ]).finally(() => clearTimeout(timer));
    const events = text.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), [
      "ADDED w2",
      "DELETED w1",
      "DELETED w2",
    ]);

    // Gone: 404 on every path, absent from discovery; a new CRD starts empty.
    assert.equal((await getJson(`${url}${widgets()}`)).status, 404);
    assert.equal((await getJson(`${url}${widgets()}/w1`)).status, 404);
    assert.equal((await send(`${url}${widgets()}`, "POST", widget("w3"))).status, 404);
    assert.equal((await getJson(`${url}/apis/example.com/v1`)).status, 404);
    assert.ok(!(await getJson(`${url}/apis`)).body.groups.some((g: Any) => g.name === "example.com"));
    const aggregated = (await getJson(`${url}/apis`, { headers: aggregatedV2 })).body;
    assert.ok(!aggregated.items.some((g: Any) => g.metadata.name === "example.com"));
    assert.equal((await send(`${url}${crds}`, "POST", widgetCrd())).status, 201);
    assert.deepEqual((await getJson(`${url}${widgets()}`)).body.items, []);
    assert.equal(
      (await getJson(`${url}${widgets()}/w1/status`)).status,
      404,
      "no status subresource declared",
    );
  });
});

Deno.test("crd: a cluster-scoped CRD is served without namespaces, and 404 under one", async () => {
  await withSimServer(async ({ url }) => {
    assert.equal((await send(`${url}${crds}`, "POST", widgetCrd({ scope: "Cluster" }))).status, 201);
    const base = "/apis/example.com/v1/widgets";
    const created = await send(`${url}${base}`, "POST", { ...widget("big"), status: { phase: "kept" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.metadata.namespace, undefined);
    assert.equal(
      created.body.status.phase,
      "kept",
      "without a status subresource status is ordinary content",
    );
    assert.equal((await getJson(`${url}${widgets()}`)).status, 404);
    assert.equal((await getJson(`${url}${widgets()}/big`)).status, 404);
    const changed = await send(
      `${url}${base}/big`,
      "PATCH",
      { status: { phase: "new" } },
      "application/merge-patch+json",
    );
    assert.equal(changed.body.status.phase, "new");
    assert.equal(changed.body.metadata.generation, 2, "any change but metadata bumps a CR's generation");
    const resources = (await getJson(`${url}/apis/example.com/v1`)).body.resources;
    assert.deepEqual(resources.map((r: Any) => [r.name, r.namespaced]), [["widgets", false]]);
    assert.equal((await getJson(`${url}/apis/example.com/v1/widgets/big/status`)).status, 404);
    const gone = await fetch(`${url}${crds}/widgets.example.com`, { method: "DELETE" });
    await gone.body?.cancel();
    assert.equal((await getJson(`${url}${base}/big`)).status, 404);
  });
});

Deno.test("crd: invalid CRDs are 422, and a CRD whose names are taken is not established", async () => {
  await withSimServer(async ({ url }) => {
    const bad = widgetCrd();
    bad.metadata.name = "gadgets.example.com";
    const wrongName = await send(`${url}${crds}`, "POST", bad);
    assert.equal(wrongName.status, 422);
    assert.match(wrongName.body.message, /must be spec\.names\.plural\+"\."\+spec\.group/);
    const noSchema = widgetCrd();
    delete (noSchema.spec.versions[0] as Any).schema;
    assert.match((await send(`${url}${crds}`, "POST", noSchema)).body.message, /schemas are required/);
    const twoStorage = widgetCrd();
    twoStorage.spec.versions.push({ ...twoStorage.spec.versions[0], name: "v2" });
    assert.match(
      (await send(`${url}${crds}`, "POST", twoStorage)).body.message,
      /must have exactly one version marked as storage version/,
    );
    const scope = widgetCrd();
    (scope.spec as Any).scope = "Galaxy";
    assert.match((await send(`${url}${crds}`, "POST", scope)).body.message, /spec\.scope: Unsupported value/);

    assert.equal((await send(`${url}${crds}`, "POST", widgetCrd())).status, 201);
    // Another plural, the same kind in the same group: its names are not accepted.
    assert.equal((await send(`${url}${crds}`, "POST", widgetCrd({ plural: "gizmos" }))).status, 201);
    const second = (await getJson(`${url}${crds}/gizmos.example.com`)).body;
    const conditions = Object.fromEntries(second.status.conditions.map((c: Any) => [c.type, c]));
    assert.equal(conditions.NamesAccepted.status, "False");
    assert.equal(conditions.NamesAccepted.reason, "SingularConflict");
    assert.equal(conditions.Established.status, "False");
    assert.equal((await getJson(`${url}/apis/example.com/v1/namespaces/default/gizmos`)).status, 404);
    // Once the first is gone, the second's names are free.
    const gone = await fetch(`${url}${crds}/widgets.example.com`, { method: "DELETE" });
    await gone.body?.cancel();
    assert.equal((await getJson(`${url}/apis/example.com/v1/namespaces/default/gizmos`)).status, 200);
    const now = (await getJson(`${url}${crds}/gizmos.example.com`)).body;
    assert.ok(now.status.conditions.every((c: Any) => c.status === "True"), JSON.stringify(now.status));
  });
});

Deno.test("crd: custom resources own dependents, and a namespace's deletion removes them", async () => {
  await withSimServer(async ({ url }) => {
    assert.equal((await send(`${url}${crds}`, "POST", widgetCrd())).status, 201);
    const owner = await send(`${url}${widgets()}`, "POST", widget("owner"));
    const ownerReferences = [{
      apiVersion: "example.com/v1",
      kind: "Widget",
      name: "owner",
      uid: owner.body.metadata.uid,
    }];
    const cm = await send(`${url}/api/v1/namespaces/default/configmaps`, "POST", {
      metadata: { name: "owned", ownerReferences },
    });
    assert.equal(cm.status, 201);
    const deleted = await fetch(`${url}${widgets()}/owner`, { method: "DELETE" });
    await deleted.body?.cancel();
    assert.equal(
      (await getJson(`${url}/api/v1/namespaces/default/configmaps/owned`)).status,
      404,
      "collected",
    );

    assert.equal(
      (await send(`${url}/api/v1/namespaces`, "POST", { metadata: { name: "team" } })).status,
      201,
    );
    assert.equal((await send(`${url}${widgets("team")}`, "POST", widget("w"))).status, 201);
    const gone = await fetch(`${url}/api/v1/namespaces/team`, { method: "DELETE" });
    assert.equal(gone.status, 200);
    await gone.body?.cancel();
    assert.deepEqual((await getJson(`${url}/apis/example.com/v1/widgets`)).body.items, []);
  });
});

Deno.test("crd: OpenFaaS's Profile CRD is installed by default (as k8s/ has it), and a bare cluster has none", async () => {
  const shipped = YAML.parse(
    await Deno.readTextFile(new URL("../../k8s/03-profile-crd.yaml", import.meta.url)),
  );
  assert.deepEqual(profileCrd(), shipped);
  const profiles = "/apis/openfaas.com/v1/namespaces/openfaas-fn/profiles";
  await withSimServer(async ({ url }) => {
    assert.equal((await getJson(`${url}${profiles}`)).status, 200);
    const crd = (await getJson(`${url}${crds}/profiles.openfaas.com`)).body;
    assert.ok(crd.status.conditions.some((c: Any) => c.type === "Established" && c.status === "True"));
    const aggregated = (await getJson(`${url}/apis`, { headers: aggregatedV2 })).body;
    assert.ok(aggregated.items.some((g: Any) => g.metadata.name === "openfaas.com"));
  });
  await withSimServer(async ({ url }) => {
    const missing = await getJson(`${url}${profiles}`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.message, "the server could not find the requested resource");
    assert.equal((await getJson(`${url}${crds}/profiles.openfaas.com`)).status, 404);
    assert.ok(!(await getJson(`${url}/apis`)).body.groups.some((g: Any) => g.name === "openfaas.com"));
    // Applying the shipped CRD makes them served.
    assert.equal((await send(`${url}${crds}`, "POST", shipped)).status, 201);
    assert.equal((await getJson(`${url}${profiles}`)).status, 200);
  }, { profileCrd: false });
});

Deno.test({
  name: "crd: kubectl apply of a CRD, then get/apply/patch status/delete of its resources, then delete crd",
  ignore: !kubectlPath,
  fn: async () => {
    await withSimServer(async ({ url, advance }) => {
      const dir = await Deno.makeTempDir({ prefix: "sim-crd-" });
      try {
        const file = async (name: string, doc: unknown) => {
          await Deno.writeTextFile(`${dir}/${name}`, YAML.stringify(doc));
          return `${dir}/${name}`;
        };
        const run = async (...args: string[]) => {
          const out = await kubectl(url, ...args);
          assert.equal(out.code, 0, `kubectl ${args.join(" ")}: ${out.stderr}`);
          return out.stdout;
        };
        const before = await kubectl(url, "get", "widgets");
        assert.notEqual(before.code, 0);
        assert.match(before.stderr, /the server doesn't have a resource type "widgets"/);

        const crd = await file("crd.yaml", widgetCrd({ status: true, columns: true }));
        assert.match(
          await run("apply", "-f", crd),
          /customresourcedefinition\.apiextensions\.k8s\.io\/widgets\.example\.com created/,
        );
        assert.match(
          await run("wait", "--for", "condition=Established", "crd/widgets.example.com", "--timeout=10s"),
          /condition met/,
        );
        const resources = await run("api-resources", "--api-group=example.com");
        assert.match(resources, /^widgets\s+wd\s+example\.com\/v1\s+true\s+Widget$/m);

        const w1 = await file("w1.yaml", { ...widget("w1"), metadata: { name: "w1", namespace: "default" } });
        assert.match(await run("apply", "-f", w1), /widget\.example\.com\/w1 created/);
        assert.match(await run("apply", "-f", w1), /widget\.example\.com\/w1 unchanged/);
        await advance("42 seconds");
        const table = (await run("get", "widgets")).trim().split("\n");
        assert.match(table[0], /^NAME\s+SIZE\s+COLOR\s+READY\s+AGE$/);
        // A value the path does not find is a null cell, which kubectl prints blank.
        assert.match(table[1], /^w1\s+3\s+blue\s+42s$/);

        await run(
          "patch",
          "widget",
          "w1",
          "--subresource=status",
          "--type=merge",
          "-p",
          JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True" }] } }),
        );
        const ready = (await run("get", "wd", "w1")).trim().split("\n");
        assert.match(ready[1], /^w1\s+3\s+blue\s+True\s+42s$/);

        const changed = await file("w1.yaml", {
          ...widget("w1", { size: 5, color: "red" }),
          metadata: { name: "w1", namespace: "default" },
        });
        assert.match(await run("apply", "-f", changed), /widget\.example\.com\/w1 configured/);
        const json = JSON.parse(await run("get", "widget", "w1", "-o", "json"));
        assert.equal(json.spec.size, 5);
        assert.equal(json.metadata.generation, 2);
        assert.equal(json.status.conditions[0].status, "True", "apply leaves the status alone");

        assert.match(await run("delete", "widget", "w1"), /widget\.example\.com "w1" deleted/);
        assert.match(await run("get", "widgets"), /^$/);
        assert.match(await run("apply", "-f", w1), /created/);
        assert.match(await run("delete", "crd", "widgets.example.com"), /"widgets\.example\.com" deleted/);
        const after = await kubectl(url, "get", "widgets");
        assert.notEqual(after.code, 0);
        assert.match(after.stderr, /the server doesn't have a resource type "widgets"/);
        assert.doesNotMatch(await run("api-resources"), /example\.com/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test("crd: every served version serves the same resources, in the version asked for", async () => {
  await withSimServer(async ({ url }) => {
    const crd = widgetCrd();
    crd.spec.versions.push({ ...crd.spec.versions[0], name: "v1beta1", storage: false });
    crd.spec.versions.push({ ...crd.spec.versions[0], name: "v2", storage: false });
    crd.spec.versions.push({ ...crd.spec.versions[0], name: "v3alpha1", served: false, storage: false });
    assert.equal((await send(`${url}${crds}`, "POST", crd)).status, 201);
    const group = (await getJson(`${url}/apis/example.com`)).body;
    assert.deepEqual(group.versions.map((v: Any) => v.version), ["v2", "v1", "v1beta1"]);
    assert.equal(group.preferredVersion.version, "v2");
    assert.equal((await send(`${url}${widgets()}`, "POST", widget("w"))).status, 201);
    const v2 = await getJson(`${url}/apis/example.com/v2/namespaces/default/widgets/w`);
    assert.equal(v2.body.apiVersion, "example.com/v2");
    assert.equal(v2.body.spec.color, "blue");
    const list = (await getJson(`${url}/apis/example.com/v1beta1/widgets`)).body;
    assert.equal(list.apiVersion, "example.com/v1beta1");
    assert.deepEqual(list.items.map((i: Any) => i.apiVersion), ["example.com/v1beta1"]);
    assert.equal((await getJson(`${url}/apis/example.com/v3alpha1/widgets`)).status, 404, "not served");
    const watch = await fetch(`${url}/apis/example.com/v2/widgets?watch=1&resourceVersion=0`);
    const events = await readEvents(watch, 1);
    assert.equal(events[0].object.apiVersion, "example.com/v2");
  });
});
