/** /healthz follows the caches: 503 with the reason until they have synced and while the API server fails. */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { startProvider } from "../support/harness.ts";
import { Faults } from "../../sim/faults.ts";
import { Caches } from "../../src/kube/caches.ts";

Deno.test("healthz: 503 with the reason until the caches have synced, then 200", async () => {
  // Every list fails: the informers cannot load their first list.
  const faults = new Faults({ seed: 1, verbRates: { list: 1 }, statuses: [503] });
  const h = await startProvider({ sim: { faults }, waitForSync: false });
  try {
    const caches = await h.run(Effect.service(Caches));
    await h.advance(5_000);
    assert.equal(caches.unhealthy() !== undefined, true, "not synced while lists fail");
    for (const method of ["GET", "HEAD"]) {
      const r = await h.call(method, "/healthz");
      assert.equal(r.status, 503, `${method} /healthz before sync`);
    }
    const r = await h.call("GET", "/healthz");
    assert.match(r.text, /cache has not synced with the Kubernetes API/);
    // The API server recovers: the retries list, the caches sync, and health follows.
    faults.enabled = false;
    await h.advanceUntil(h.run(Effect.flatMap(Effect.service(Caches), (c) => c.synced)), 1_000, 120_000);
    await h.advance(1_000);
    const ok = await h.call("GET", "/healthz");
    assert.equal(ok.status, 200, ok.text);
  } finally {
    await h.close();
  }
});

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
