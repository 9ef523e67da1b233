/** Basic auth: every /system route needs the credentials, /healthz does not. */
import assert from "node:assert/strict";
import { apiTest } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

const fn = (service: string, extra: Record<string, unknown> = {}) => ({
  service,
  image: "functions/alpine:latest",
  envProcess: "env",
  ...extra,
});

apiTest(
  "basic auth protects every /system route, /system/namespace/{name} for every method, not healthz",
  async (h) => {
    const good = { authorization: `Basic ${btoa("admin:pw")}` };
    const bad = { authorization: `Basic ${btoa("admin:nope")}` };
    h.cluster.store.create(Kinds.Namespace, undefined, {
      metadata: { name: "team-fn", labels: { openfaas: "1" } },
    });
    await h.advance(1_000);
    const requests: [string, string, unknown][] = [
      ["GET", "/system/functions", undefined],
      ["GET", "/system/info", undefined],
      ["GET", "/system/namespaces", undefined],
      ["GET", "/system/secrets", undefined],
      ["GET", "/system/function/x", undefined],
      ["POST", "/system/functions", fn("a")],
      ["GET", "/system/namespace/team-fn", undefined],
      ["POST", "/system/namespace/", { name: "new-fn", labels: { openfaas: "1" } }],
      ["POST", "/system/namespace/new-fn", { labels: { openfaas: "1" } }],
      ["PUT", "/system/namespace/team-fn", { name: "team-fn", labels: { openfaas: "1", team: "x" } }],
      ["DELETE", "/system/namespace/team-fn", undefined],
    ];
    for (const [method, path, body] of requests) {
      for (const headers of [undefined, bad]) {
        const what = `${method} ${path} ${headers ? "bad" : "no"} credentials`;
        const r = await h.call(method, path, body, headers);
        assert.equal(r.status, 401, what);
        assert.equal(r.text, "invalid credentials", what);
        assert.equal(r.headers.get("www-authenticate"), 'Basic realm="Restricted"', what);
      }
    }
    // Nothing changed.
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
    assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "new-fn"), undefined);
    const team = h.cluster.store.peek(Kinds.Namespace, undefined, "team-fn");
    assert.ok(team && !team.metadata.deletionTimestamp, "team-fn is still there");
    assert.equal(team.metadata.labels?.team, undefined);
    // With credentials every one works.
    assert.equal((await h.call("GET", "/system/functions", undefined, good)).status, 200);
    assert.equal((await h.call("GET", "/system/namespace/team-fn", undefined, good)).status, 200);
    assert.equal(
      (await h.call("POST", "/system/namespace/", { name: "new-fn", labels: { openfaas: "1" } }, good))
        .status,
      201,
    );
    assert.equal(
      (await h.call("PUT", "/system/namespace/team-fn", {
        name: "team-fn",
        labels: { openfaas: "1", team: "x" },
      }, good)).status,
      202,
    );
    assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "team-fn")?.metadata.labels?.team, "x");
    assert.equal((await h.call("DELETE", "/system/namespace/new-fn", undefined, good)).status, 202);
    assert.equal((await h.call("GET", "/healthz")).status, 200);
  },
  { config: { clusterRole: true }, credentials: { user: "admin", password: "pw" } },
);
