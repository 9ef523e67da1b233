/** The test harness itself: waits in virtual time are bounded and fail with a clear error. */
import assert from "node:assert/strict";
import { startProvider, withProvider } from "../support/harness.ts";
import { Faults } from "../../sim/faults.ts";

Deno.test("harness: advanceUntil rejects after maxMs of virtual time when the promise never settles", () =>
  withProvider(async (h) => {
    const started = h.cluster.clock.now();
    await assert.rejects(
      h.advanceUntil(new Promise<never>(() => {}), 100, 2_000),
      /did not settle within 2000 ms of virtual time/,
    );
    const elapsed = h.cluster.clock.now() - started;
    assert.ok(elapsed >= 2_000 && elapsed <= 2_100, `${elapsed} ms of virtual time went by`);
    // A promise that settles is still awaited as before, rejections included.
    assert.equal(await h.advanceUntil(Promise.resolve(7)), 7);
    await assert.rejects(h.advanceUntil(Promise.reject(new Error("boom"))), /boom/);
    assert.equal((await h.advanceUntil(h.call("GET", "/healthz"))).status, 200);
  }));

Deno.test("harness: start-up rejects with a clear error when the caches never sync", async () => {
  const faults = new Faults({ seed: 1, verbRates: { list: 1 }, statuses: [503] });
  await assert.rejects(
    startProvider({ sim: { faults }, syncTimeoutMs: 5_000 }),
    /start-up: the caches' first sync did not settle within 5000 ms of virtual time/,
  );
});
