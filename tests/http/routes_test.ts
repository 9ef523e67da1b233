/** The routes themselves: info, healthz, a wrong method, an unknown path. */
import assert from "node:assert/strict";
import { apiTest } from "../support/harness.ts";

apiTest("info, healthz, 405 for a wrong method, 404 for an unknown path", async (h) => {
  const info = JSON.parse((await h.call("GET", "/system/info")).text);
  assert.equal(info.provider, "faas-deno");
  assert.equal(info.orchestration, "kubernetes");
  assert.ok(info.version.release && info.version.sha);
  const health = await h.call("GET", "/healthz");
  assert.equal(health.status, 200);
  assert.equal(health.text, "");
  assert.equal((await h.call("HEAD", "/healthz")).status, 200);
  const wrong = await h.call("PATCH", "/system/functions");
  assert.equal(wrong.status, 405);
  assert.equal(wrong.text, "");
  assert.equal((await h.call("GET", "/system/scale-function/x")).status, 405);
  const unknown = await h.call("GET", "/system/nope");
  assert.equal(unknown.status, 404);
  assert.equal(unknown.text, "404 page not found\n");
  assert.equal((await h.call("GET", "/system/functions/")).status, 404);
});
