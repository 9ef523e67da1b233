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

apiTest("basic auth protects system and namespace routes, not healthz", async (h) => {
  const good = { authorization: `Basic ${btoa("admin:pw")}` };
  const bad = { authorization: `Basic ${btoa("admin:nope")}` };
  for (
    const path of [
      "/system/functions",
      "/system/info",
      "/system/namespaces",
      "/system/secrets",
      "/system/function/x",
    ]
  ) {
    const r = await h.call("GET", path);
    assert.equal(r.status, 401, path);
    assert.equal(r.text, "invalid credentials");
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="Restricted"');
    assert.equal((await h.call("GET", path, undefined, bad)).status, 401);
  }
  assert.equal((await h.call("GET", "/system/functions", undefined, good)).status, 200);
  assert.equal((await h.call("POST", "/system/functions", fn("a"))).status, 401);
  assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
  assert.equal((await h.call("GET", "/healthz")).status, 200);
}, { credentials: { user: "admin", password: "pw" } });
