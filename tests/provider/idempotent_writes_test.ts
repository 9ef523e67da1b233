/** Recovery: writes whose answer was lost stay idempotent, health follows the API server, caches resync. */
import assert from "node:assert/strict";
import { type Harness, startProvider, withProvider } from "../support/harness.ts";
import { Faults } from "../../sim/faults.ts";
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

Deno.test("healthz turns 503 with the reason while the API server fails, and 200 again after", async () => {
  const faults = new Faults({ seed: 5, verbRates: { list: 1, watch: 1 }, statuses: [503] });
  faults.enabled = false;
  const h = await startProvider({ sim: { transport: "http", faults } });
  try {
    assert.equal((await h.call("GET", "/healthz")).status, 200);
    faults.enabled = true;
    // Open watches stay up; the next periodic relist meets the failing server.
    let sick = { status: 200, text: "" };
    for (let i = 0; i < 40 && sick.status === 200; i++) {
      await h.advance(30_000);
      sick = await h.call("GET", "/healthz");
    }
    assert.equal(sick.status, 503);
    assert.match(sick.text, /Kubernetes API is not reachable/);
    faults.enabled = false;
    let well = 503;
    for (let i = 0; i < 100 && well !== 200; i++) {
      await h.advance(5_000);
      well = (await h.call("GET", "/healthz")).status;
    }
    assert.equal(well, 200);
  } finally {
    await h.close();
  }
});

Deno.test("caches resync: a change the watch never delivered shows up after the periodic relist", async () => {
  const h = await startProvider();
  try {
    await h.call("POST", "/system/functions", { service: "r", image: "functions/alpine:latest" });
    // Change the stored object behind the watch's back (no event is emitted for it).
    const d = h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "r")!;
    d.spec.replicas = 4;
    assert.equal(JSON.parse((await h.call("GET", "/system/function/r")).text).replicas, 1);
    await h.advance(5 * 60_000 + 1_000);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/r")).text).replicas, 4);
  } finally {
    await h.close();
  }
});
