/**
 * core/v1 Endpoints over HTTP, as a client-go informer or kubectl sees them: served and discovered,
 * kept in step with the pods (not-ready addresses that become ready, scale to zero), agreeing with
 * the EndpointSlices, deleted with their Service.
 */
import assert from "node:assert/strict";
import { getJson, send, withSimServer } from "../support/simcluster.ts";
import { deploymentFixture } from "../support/fixtures.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { assertWatchOrder, rawWatch } from "../support/watchstream.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const ns = "openfaas-fn";
const core = `/api/v1/namespaces/${ns}`;
const apps = `/apis/apps/v1/namespaces/${ns}`;
const slicesPath = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;

/** A Deployment whose container port is named `http`, and a Service that targets it by name. */
const deployWeb = async (url: string, replicas: number) => {
  const svc = await send(`${url}${core}/services`, "POST", {
    metadata: { name: "web", labels: { app: "web", tier: "fn" } },
    spec: {
      selector: { faas_function: "web" },
      ports: [
        { name: "http", port: 80, targetPort: "http" },
        { name: "metrics", port: 8081, targetPort: 8082 },
      ],
    },
  });
  assert.equal(svc.status, 201);
  const fresh = await getJson(`${url}${core}/endpoints/web`);
  const d = deploymentFixture("web", undefined, { replicas });
  d.spec.template.spec.containers[0].ports = [{ name: "http", containerPort: 8080 } as Any];
  assert.equal((await send(`${url}${apps}/deployments`, "POST", d)).status, 201);
  return { svc: svc.body, fresh };
};

const addressesOf = (ep: Any, field: "addresses" | "notReadyAddresses") =>
  (ep.subsets ?? []).flatMap((s: Any) => (s[field] ?? []).map((a: Any) => a.ip)).sort();

/** Ready and not-ready addresses of the Service's EndpointSlices. */
const sliceAddresses = async (url: string) => {
  const slices =
    (await getJson(`${url}${slicesPath}?labelSelector=kubernetes.io%2Fservice-name%3Dweb`)).body.items;
  const eps = slices.flatMap((s: Any) => s.endpoints ?? []).filter((e: Any) => !e.conditions.terminating);
  return {
    ready: eps.filter((e: Any) => e.conditions.ready).map((e: Any) => e.addresses[0]).sort(),
    notReady: eps.filter((e: Any) => !e.conditions.ready).map((e: Any) => e.addresses[0]).sort(),
    ports: slices.filter((s: Any) => s.endpoints?.length).map((s: Any) => s.ports),
  };
};

Deno.test("endpoints over HTTP: discovered, listed, watched, in step with the pods and the EndpointSlices", async () => {
  await withSimServer(async ({ url, advance }) => {
    const discovery = await getJson(`${url}/api/v1`);
    const resource = discovery.body.resources.find((r: Any) => r.name === "endpoints");
    assert.ok(resource, "endpoints in /api/v1");
    assert.equal(resource.kind, "Endpoints");
    assert.equal(resource.namespaced, true);
    assert.deepEqual(resource.shortNames, ["ep"]);
    for (const verb of ["get", "list", "watch"]) assert.ok(resource.verbs.includes(verb), verb);

    const listRv = (await getJson(`${url}${core}/endpoints`)).body.metadata.resourceVersion;
    const watch = await rawWatch(`${url}${core}/endpoints?watch=1&resourceVersion=${listRv}`);
    try {
      // At once: an Endpoints named after the Service, with its labels and no addresses yet.
      const { svc, fresh } = await deployWeb(url, 2);
      assert.equal(fresh.status, 200);
      assert.equal(fresh.body.kind, "Endpoints");
      assert.equal(fresh.body.apiVersion, "v1");
      assert.deepEqual(fresh.body.metadata.labels, { app: "web", tier: "fn" });
      assert.equal(fresh.body.subsets, undefined);
      assert.equal(
        fresh.body.metadata.annotations["endpoints.kubernetes.io/last-change-trigger-time"],
        svc.metadata.creationTimestamp,
      );

      // Pods with an IP that are not ready yet are notReadyAddresses.
      let notReady: Any;
      for (let i = 0; i < 60 && !notReady; i++) {
        await advance("250 millis");
        const ep = (await getJson(`${url}${core}/endpoints/web`)).body;
        if (addressesOf(ep, "notReadyAddresses").length === 2) notReady = ep;
      }
      assert.ok(notReady, "both pods listed as not ready while their probe has not passed");
      assert.deepEqual(addressesOf(notReady, "addresses"), []);
      assert.deepEqual((await sliceAddresses(url)).notReady, addressesOf(notReady, "notReadyAddresses"));

      // Then ready.
      let ready: Any;
      for (let i = 0; i < 60 && !ready; i++) {
        await advance("500 millis");
        const ep = (await getJson(`${url}${core}/endpoints/web`)).body;
        if (addressesOf(ep, "addresses").length === 2) ready = ep;
      }
      assert.ok(ready, "both pods ready");
      assert.deepEqual(addressesOf(ready, "notReadyAddresses"), []);
      assert.equal(ready.subsets.length, 1, "one subset: both pods serve both ports");
      const [subset] = ready.subsets;
      assert.deepEqual(subset.ports, [
        { name: "http", port: 8080, protocol: "TCP" },
        { name: "metrics", port: 8082, protocol: "TCP" },
      ]);
      const pods = (await getJson(`${url}${core}/pods?labelSelector=faas_function%3Dweb`)).body.items;
      const expected = pods.map((p: Any) => ({
        ip: p.status.podIP,
        nodeName: p.spec.nodeName,
        targetRef: { kind: "Pod", namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
      })).sort((a: Any, b: Any) => (a.ip < b.ip ? -1 : 1));
      assert.deepEqual(subset.addresses, expected);
      const readySince = pods.map((p: Any) =>
        p.status.conditions.find((c: Any) => c.type === "Ready").lastTransitionTime
      ).sort()[0];
      assert.equal(
        ready.metadata.annotations["endpoints.kubernetes.io/last-change-trigger-time"],
        readySince,
      );
      const slices = await sliceAddresses(url);
      assert.deepEqual(slices.ready, addressesOf(ready, "addresses"), "the slices agree");
      assert.deepEqual(slices.ports, [[
        { name: "http", port: 8080, protocol: "TCP" },
        { name: "metrics", port: 8082, protocol: "TCP" },
      ]]);

      // Table output, as kubectl get endpoints asks for it.
      const table = await getJson(`${url}${core}/endpoints`, {
        headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" },
      });
      assert.deepEqual(table.body.columnDefinitions.map((c: Any) => c.name), ["Name", "Endpoints", "Age"]);
      const row = table.body.rows.find((r: Any) => r.cells[0] === "web");
      const ips = addressesOf(ready, "addresses");
      assert.equal(row.cells[1], `${ips[0]}:8080,${ips[1]}:8080,${ips[0]}:8082 + 1 more...`);

      // Scale to zero: the Endpoints stays, with no subsets.
      assert.equal(
        (await send(`${url}${apps}/deployments/web/scale`, "PUT", { spec: { replicas: 0 } })).status,
        200,
      );
      let empty: Any;
      for (let i = 0; i < 120 && !empty; i++) {
        await advance("1 second");
        const ep = (await getJson(`${url}${core}/endpoints/web`)).body;
        if (ep.subsets === undefined) empty = ep;
      }
      assert.ok(empty, "no subsets once the pods are gone");
      assert.deepEqual((await sliceAddresses(url)).ready, []);
      const emptyTable = await getJson(`${url}${core}/endpoints/web`, {
        headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" },
      });
      assert.equal(emptyTable.body.rows[0].cells[1], "<none>");

      // Deleted with the Service.
      assert.equal((await getJson(`${url}${core}/services/web`, { method: "DELETE" })).status, 200);
      assert.equal((await getJson(`${url}${core}/endpoints/web`)).status, 404);
      await watch.until((e) => e.type === "DELETED" && e.object.metadata.name === "web", "the DELETED event");
      const events = watch.events.filter((e) => e.object.metadata.name === "web");
      assertWatchOrder(events, { createdDuringWatch: () => true, what: "endpoints" });
      const kinds = events.map((e) => e.type);
      assert.equal(kinds[0], "ADDED");
      assert.equal(kinds.at(-1), "DELETED");
      // The stream went through not ready, ready, and empty, in that order.
      const phase = (e: Any) =>
        addressesOf(e.object, "addresses").length > 0
          ? "ready"
          : addressesOf(e.object, "notReadyAddresses").length > 0
          ? "not-ready"
          : "none";
      const phases = events.map(phase).filter((p, i, all) => i === 0 || p !== all[i - 1]);
      assert.deepEqual(phases.slice(0, 2), ["none", "not-ready"]);
      assert.ok(phases.includes("ready"));
      assert.equal(phases.at(-1), "none");
    } finally {
      await watch.close();
    }
  });
});

Deno.test("endpoints: a headless Service, publishNotReadyAddresses, a missing named port, and a Service without selector", async () => {
  await withSimServer(async ({ url, advance }) => {
    const pod = (name: string, ports: Any[]) =>
      send(`${url}${core}/pods`, "POST", {
        metadata: { name, labels: { app: "raw" } },
        spec: { containers: [{ name: "c", image: "functions/alpine:latest", ports }] },
      });
    await pod("named", [{ name: "web", containerPort: 9000 }]);
    await pod("unnamed", [{ containerPort: 9000 }]);
    await send(`${url}${core}/services`, "POST", {
      metadata: { name: "byname" },
      spec: {
        selector: { app: "raw" },
        publishNotReadyAddresses: true,
        ports: [{ port: 80, targetPort: "web" }],
      },
    });
    await send(`${url}${core}/services`, "POST", {
      metadata: { name: "headless" },
      spec: { clusterIP: "None", selector: { app: "raw" } },
    });
    await send(`${url}${core}/services`, "POST", {
      metadata: { name: "manual" },
      spec: { ports: [{ port: 80 }] },
    });
    await advance("1 second");
    const byName = (await getJson(`${url}${core}/endpoints/byname`)).body;
    // Only the pod with a port named `web` serves it; publishNotReadyAddresses lists it as ready.
    assert.equal(byName.subsets.length, 1);
    assert.deepEqual(byName.subsets[0].addresses.map((a: Any) => a.targetRef.name), ["named"]);
    assert.deepEqual(byName.subsets[0].ports, [{ port: 9000, protocol: "TCP" }], "no name: none in the port");
    const headless = (await getJson(`${url}${core}/endpoints/headless`)).body;
    assert.equal(headless.metadata.labels["service.kubernetes.io/headless"], "");
    assert.deepEqual(headless.subsets[0].notReadyAddresses.map((a: Any) => a.targetRef.name).sort(), [
      "named",
      "unnamed",
    ]);
    assert.equal(headless.subsets[0].ports, undefined);
    assert.equal(
      (await getJson(`${url}${core}/endpoints/manual`)).status,
      404,
      "no selector: not the controller's",
    );
    // An Endpoints deleted by hand is written again.
    await getJson(`${url}${core}/endpoints/byname`, { method: "DELETE" });
    assert.equal((await getJson(`${url}${core}/endpoints/byname`)).status, 200);
  });
});

Deno.test({
  name: "endpoints: kubectl get endpoints and ep",
  ignore: !kubectlPath,
  fn: async () => {
    await withSimServer(async ({ url, advance }) => {
      await deployWeb(url, 1);
      await advance("20 seconds");
      const out = await kubectl(url, "get", "ep", "-n", ns);
      assert.equal(out.code, 0, out.stderr);
      const lines = out.stdout.trim().split("\n");
      assert.match(lines[0], /^NAME\s+ENDPOINTS\s+AGE$/);
      assert.match(lines[1], /^web\s+\d+\.\d+\.\d+\.\d+:8080,\d+\.\d+\.\d+\.\d+:8082\s+20s$/);
      const json = await kubectl(url, "get", "endpoints", "web", "-n", ns, "-o", "json");
      assert.equal(json.code, 0, json.stderr);
      assert.equal(JSON.parse(json.stdout).subsets[0].addresses.length, 1);
    });
  },
});
