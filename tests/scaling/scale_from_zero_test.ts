/**
 * Scale from zero, in virtual time: a request at zero scales the function up once, however many
 * arrive together, and is answered; one whose pod never becomes ready gets its 503 after
 * scale_from_zero_timeout.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { type Harness, withProvider } from "../support/harness.ts";
import { deployFunction, functionStatus as status } from "../support/functions.ts";
import { Kinds } from "../../sim/kinds.ts";
import { Scaler } from "../../src/scaling/scaler.ts";
import { loadConfig } from "../../src/config/load.ts";

const deploy = (h: Harness, body: Record<string, unknown>) =>
  deployFunction(h, { envProcess: "cat", ...body });

const scaling = { config: { scaling: true } };

/** Waits a few real milliseconds for I/O (an HTTP answer) to arrive. */
const io = () => new Promise((r) => setTimeout(r, 5));

Deno.test("a request at zero whose pod never becomes ready gets its 503 after scale_from_zero_timeout, not before", async () => {
  const { scaleFromZeroTimeoutMs } = loadConfig({ scale_from_zero_timeout: "20s" }, []);
  assert.equal(scaleFromZeroTimeoutMs, 20_000);
  await withProvider(async (h) => {
    // sim/hang starts but never becomes ready.
    await deploy(h, { service: "stuck", image: "sim/hang:latest", envProcess: undefined });
    await h.advance(5_000);
    const scaled = await h.call("POST", "/system/scale-function/stuck", {
      serviceName: "stuck",
      replicas: 0,
    });
    assert.equal(scaled.status, 202, scaled.text);
    await h.advance(40_000);
    assert.equal(h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.length, 0, "at zero, no pods");

    const started = h.cluster.clock.now();
    let answered: number | undefined;
    const pending = h.request("GET", "/function/stuck").then((r) => {
      answered = h.cluster.clock.now() - started;
      return r;
    });
    // Held (while the pod starts and stays unready) up to the bound...
    while (h.cluster.clock.now() - started < scaleFromZeroTimeoutMs - 1_000) {
      await h.advance(500);
      await io();
      assert.equal(answered, undefined, `answered after ${answered} ms of virtual time, before the bound`);
    }
    assert.equal((await status(h, "stuck")).replicas, 1, "scaled up from zero");
    // ...then 503 from the proxy, soon after it.
    const res = await h.advanceUntil(pending, 100, 10_000);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
    await res.body?.cancel();
    assert.ok(
      answered! >= scaleFromZeroTimeoutMs && answered! <= scaleFromZeroTimeoutMs + 1_000,
      `answered after ${answered} ms of virtual time`,
    );
  }, { config: { scaleFromZeroTimeoutMs } });
});

Deno.test("scale to 0 through the API, then an invoke scales up and returns 200", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "test-scale-from-zero" });
    await h.advance(10_000);
    assert.equal(
      (await h.call("POST", "/system/scale-function/test-scale-from-zero", {
        serviceName: "test-scale-from-zero",
        replicas: 0,
        namespace: "openfaas-fn",
      })).status,
      202,
    );
    assert.equal((await status(h, "test-scale-from-zero")).replicas, 0);
    await h.advance(15_000); // the pod drains for write_timeout (10 s), then it is gone
    assert.equal(h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.length, 0);
    const r = await h.advanceUntil(h.call("POST", "/function/test-scale-from-zero", "hi"));
    assert.equal(r.status, 200);
    assert.equal(r.text, "hi");
    assert.equal((await status(h, "test-scale-from-zero")).replicas, 1);
  }, scaling));

Deno.test("concurrent requests at zero cause exactly one scale-up and all succeed", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "burst", labels: { "com.openfaas.scale.min": "2" } });
    await h.advance(10_000);
    await h.call("POST", "/system/scale-function/burst", { serviceName: "burst", replicas: 0 });
    await h.advance(2_000);
    const run = () => h.run(Effect.map(Effect.service(Scaler), (s) => s.decisions()));
    const before = (await run()).length;
    const results = await h.advanceUntil(
      Promise.all(Array.from({ length: 20 }, () => h.call("POST", "/function/burst", "x"))),
    );
    assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
    const fromZero = (await run()).slice(before).filter((d) => d.policy === "from-zero");
    assert.equal(fromZero.length, 1);
    assert.equal(fromZero[0].to, 2, "scales to com.openfaas.scale.min");
    assert.equal((await status(h, "burst")).replicas, 2);
  }, scaling));
