/** The EndpointSlice controller. */
import assert from "node:assert/strict";
import { withSimCluster } from "../../support/simcluster.ts";
import { Kinds } from "../../../sim/kinds.ts";
import { EndpointsController } from "../../../sim/controllers/endpoints.ts";

Deno.test("endpoints: a Service that loses its selector loses its managed EndpointSlice", async () => {
  await withSimCluster(({ cluster }) => {
    const { store } = cluster;
    store.create(Kinds.Service, "default", {
      metadata: { name: "svc" },
      spec: { selector: { app: "x" }, ports: [{ port: 8080 }] },
    });
    const slice = EndpointsController.sliceName("svc");
    assert.ok(store.peek(Kinds.EndpointSlice, "default", slice), "a slice for a Service with a selector");
    store.mutate(Kinds.Service, "default", "svc", (o) => {
      delete o.spec.selector;
    });
    assert.equal(store.peek(Kinds.EndpointSlice, "default", slice), undefined);
    // A slice someone else manages is left alone.
    store.create(Kinds.EndpointSlice, "default", {
      metadata: { name: slice, labels: { "kubernetes.io/service-name": "svc" } },
      addressType: "IPv4",
      endpoints: [],
    });
    store.mutate(Kinds.Service, "default", "svc", (o) => {
      o.metadata.labels = { touched: "yes" };
    });
    assert.ok(store.peek(Kinds.EndpointSlice, "default", slice));
  });
});
