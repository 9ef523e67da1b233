/**
 * Writes whose answer was lost stay idempotent: a retried create is not a duplicate, a retried delete not
 * missing.
 */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import type { ApiRequest, ApiResponse } from "../../sim/apiserver.ts";

/** The next request matching `match` is applied by the API server, but its answer is replaced by a 503. */
const loseNextAnswer = (h: Harness, match: (req: ApiRequest) => boolean) => {
  const api = h.cluster.api;
  const original = api.handle.bind(api);
  let armed = true;
  api.handle = (req: ApiRequest): ApiResponse => {
    const res = original(req);
    if (armed && match(req)) {
      armed = false;
      return {
        status: 503,
        body: {
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          reason: "ServiceUnavailable",
          code: 503,
          message: "lost",
        },
      };
    }
    return res;
  };
  return () => armed;
};

Deno.test("a create whose answer was lost is not reported as a duplicate (deploy and secret)", () =>
  withProvider(async (h) => {
    const pending = loseNextAnswer(h, (r) => r.method === "POST" && r.path.endsWith("/deployments"));
    const r = await h.advanceUntil(
      h.call("POST", "/system/functions", { service: "once", image: "functions/alpine:latest" }),
    );
    assert.equal(pending(), false, "the fault fired");
    assert.equal(r.status, 202, r.text);
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 1);
    const secretLost = loseNextAnswer(h, (r) => r.method === "POST" && r.path.endsWith("/secrets"));
    const s = await h.advanceUntil(h.call("POST", "/system/secrets", { name: "k", value: "v" }));
    assert.equal(secretLost(), false);
    assert.equal(s.status, 202, s.text);
    // a real duplicate is still a 409
    assert.equal((await h.call("POST", "/system/secrets", { name: "k", value: "v" })).status, 409);
    assert.equal(
      (await h.call("POST", "/system/functions", { service: "once", image: "functions/alpine:latest" }))
        .status,
      409,
    );
  }));

Deno.test("a delete whose answer was lost is not reported as missing (function and secret)", () =>
  withProvider(async (h) => {
    await h.call("POST", "/system/functions", { service: "gone", image: "functions/alpine:latest" });
    await h.call("POST", "/system/secrets", { name: "k", value: "v" });
    loseNextAnswer(h, (r) => r.method === "DELETE" && r.path.includes("/deployments/"));
    const r = await h.advanceUntil(h.call("DELETE", "/system/functions", { functionName: "gone" }));
    assert.equal(r.status, 202, r.text);
    assert.equal(h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "gone"), undefined);
    loseNextAnswer(h, (r) => r.method === "DELETE" && r.path.includes("/secrets/"));
    assert.equal((await h.advanceUntil(h.call("DELETE", "/system/secrets", { name: "k" }))).status, 202);
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/secrets")).text), []);
  }));
