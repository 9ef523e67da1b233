/** Namespace CRUD edge cases (cluster_role=true). */
import assert from "node:assert/strict";
import { withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

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
