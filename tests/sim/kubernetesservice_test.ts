/**
 * The `kubernetes` Service in `default` with its Endpoints and EndpointSlice at the API server's
 * address (as the API server writes them in every cluster), and the deprecation warning the API
 * server sends on every core/v1 Endpoints request since v1.33.
 */
import assert from "node:assert/strict";
import { getJson, readEvents, withSimCluster, withSimServer } from "../support/simcluster.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { Kinds } from "../../sim/kinds.ts";

const warning = `299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"`;

Deno.test("kubernetes Service: default/kubernetes has the service range's first IP and endpoints the controllers leave alone", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    const svc = cluster.store.peek(Kinds.Service, "default", "kubernetes")!;
    assert.ok(svc, "the kubernetes Service exists");
    assert.equal(svc.spec.clusterIP, "10.96.0.1");
    assert.equal(svc.spec.selector, undefined, "no selector: its endpoints are the API server's");
    assert.deepEqual(svc.spec.ports, [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }]);
    assert.deepEqual(svc.metadata.labels, { component: "apiserver", provider: "kubernetes" });
    await advance("1 minute"); // the endpoints controller and the garbage collector have run
    const ep = cluster.store.peek(Kinds.Endpoints, "default", "kubernetes")!;
    assert.deepEqual(ep.subsets, [{
      addresses: [{ ip: "127.0.0.1" }],
      ports: [{ name: "https", port: 6443, protocol: "TCP" }],
    }]);
    assert.equal(ep.metadata.labels["endpointslice.kubernetes.io/skip-mirror"], "true");
    const slice = cluster.store.peek(Kinds.EndpointSlice, "default", "kubernetes")!;
    assert.equal(slice.addressType, "IPv4");
    assert.deepEqual(slice.endpoints, [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]);
    assert.deepEqual(slice.ports, [{ name: "https", port: 6443, protocol: "TCP" }]);
    assert.equal(slice.metadata.labels["kubernetes.io/service-name"], "kubernetes");
  });
});

Deno.test("kubernetes Service: served over HTTP its endpoints name the server's address; Endpoints requests carry the deprecation warning", async () => {
  await withSimServer(async ({ url }) => {
    const { hostname, port } = new URL(url);
    const ep = await getJson(`${url}/api/v1/namespaces/default/endpoints/kubernetes`);
    assert.equal(ep.status, 200);
    assert.deepEqual(ep.body.subsets, [{
      addresses: [{ ip: hostname }],
      ports: [{ name: "https", port: Number(port), protocol: "TCP" }],
    }]);
    assert.equal(ep.headers.get("warning"), warning);
    const slice = await getJson(
      `${url}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes`,
    );
    assert.deepEqual(slice.body.endpoints[0].addresses, [hostname]);
    assert.equal(slice.body.ports[0].port, Number(port));
    assert.equal(slice.headers.get("warning"), null, "EndpointSlice is not deprecated");
    const svc = await getJson(`${url}/api/v1/namespaces/default/services/kubernetes`);
    assert.equal(svc.body.spec.ports[0].targetPort, Number(port));
    assert.equal(svc.headers.get("warning"), null);
    // Every Endpoints request: lists across namespaces, a 404, and watches.
    const all = await getJson(`${url}/api/v1/endpoints`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get("warning"), warning);
    const missing = await getJson(`${url}/api/v1/namespaces/default/endpoints/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("warning"), warning);
    const watch = await fetch(`${url}/api/v1/namespaces/default/endpoints?watch=true&resourceVersion=0`);
    assert.equal(watch.headers.get("warning"), warning);
    const [added] = await readEvents(watch, 1);
    assert.equal(added.object.metadata.name, "kubernetes");
  });
});

Deno.test({
  name: "kubernetes Service: kubectl shows the Endpoints deprecation warning",
  ignore: !kubectlPath,
  fn: async () => {
    await withSimServer(async ({ url }) => {
      const out = await kubectl(url, "get", "endpoints", "kubernetes", "-n", "default");
      assert.equal(out.code, 0, out.stderr);
      assert.match(
        out.stderr,
        /^Warning: v1 Endpoints is deprecated in v1\.33\+; use discovery\.k8s\.io\/v1 EndpointSlice$/m,
      );
      assert.match(out.stdout, /^kubernetes\s+127\.0\.0\.1:\d+\s+/m);
      const svc = await kubectl(url, "get", "service", "kubernetes", "-n", "default");
      assert.equal(svc.code, 0, svc.stderr);
      assert.doesNotMatch(svc.stderr, /Warning/);
      assert.match(svc.stdout, /^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP\s+/m);
    });
  },
});
