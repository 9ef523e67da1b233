/**
 * What the proxy answers itself: bad names, unknown functions, no ready endpoint, an unreachable or slow
 * pod.
 */
import assert from "node:assert/strict";
import { withProvider } from "../support/harness.ts";
import { realUpstream, routeTo, startUpstream, withUpstream } from "../support/upstream.ts";

/** How long the proxy waits for a ready endpoint of a function that has replicas (src/invoke/proxy.ts). */
const readinessWaitMs = 5_000;

Deno.test("proxy: an upstream slower than read_timeout gives 504 from the proxy", async () => {
  await withUpstream(async () => {
    await new Promise((r) => setTimeout(r, 1_000));
    return new Response("late");
  }, async (h, up) => {
    await routeTo(h, "slow", up.port);
    const res = await h.request("GET", "/function/slow");
    assert.equal(res.status, 504);
    assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
    await res.body?.cancel();
  }, { config: { readTimeoutMs: 200 } });
});

/** A pod that streams "tick\n" every 100 ms, `ticks` times, without a Content-Length unless `length`. */
const tickingPod = (ticks: number, length = false) => () => {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 100));
      if (sent++ === ticks) controller.close();
      else controller.enqueue(new TextEncoder().encode("tick\n"));
    },
  });
  return new Response(body, length ? { headers: { "Content-Length": String(5 * ticks) } } : {});
};

Deno.test("proxy: read_timeout bounds a streamed response body: it ends where it is, as faas-netes' Go proxy's does", async () => {
  await withUpstream(tickingPod(30), async (h, up) => {
    await routeTo(h, "stream", up.port);
    const started = Date.now();
    const res = await h.request("GET", "/function/stream");
    assert.equal(res.status, 200);
    const text = await res.text();
    const ticks = text.split("\n").filter((l) => l === "tick").length;
    // About 5 ticks in 550 ms; never the 30 the pod would send in 3 s.
    assert.ok(ticks >= 1 && ticks < 30, `${ticks} ticks`);
    assert.ok(Date.now() - started < 2_500, "the body ended at the timeout, not when the pod finished");
  }, { config: { readTimeoutMs: 550 } });
});

Deno.test("proxy: read_timeout 0 sets no deadline (a Go http.Client with Timeout 0): slow answers and long streams arrive whole", async () => {
  await withUpstream(tickingPod(8), async (h, up) => {
    await routeTo(h, "stream", up.port);
    const res = await h.request("GET", "/function/stream");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "tick\n".repeat(8));
  }, { config: { readTimeoutMs: 0 } });
  await withUpstream(async () => {
    await new Promise((r) => setTimeout(r, 300));
    return new Response("late");
  }, async (h, up) => {
    await routeTo(h, "slow", up.port);
    const res = await h.request("GET", "/function/slow");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "late");
  }, { config: { readTimeoutMs: 0 } });
});

Deno.test("proxy: a streamed body within read_timeout arrives whole, with or without a Content-Length", async () => {
  for (const length of [false, true]) {
    await withUpstream(tickingPod(4, length), async (h, up) => {
      await routeTo(h, "stream", up.port);
      const res = await h.request("GET", "/function/stream");
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "tick\n".repeat(4));
    }, { config: { readTimeoutMs: 5_000 } });
  }
});

Deno.test("proxy: an unreachable upstream gives 502 from the proxy", async () => {
  const up = startUpstream(() => new Response("x"));
  const port = up.port;
  await up.close();
  await withProvider(async (h) => {
    await routeTo(h, "down", port);
    const res = await h.request("GET", "/function/down");
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
    assert.match(await res.text(), /Can't reach service for: down/);
  }, realUpstream);
});

Deno.test("proxy: unknown function 404, empty name 400, no ready endpoint 503 after the bounded wait", () =>
  withProvider(async (h) => {
    const unknown = await h.request("GET", "/function/nope");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get("x-openfaas-internal"), "proxy");
    await unknown.body?.cancel();
    assert.equal((await h.call("PROPFIND", "/function/nope")).status, 405);
    assert.equal((await h.call("GET", "/function/")).status, 404);
    const empty = await h.request("GET", "/function/.openfaas-fn");
    assert.equal(empty.status, 400);
    await empty.body?.cancel();
    // An image that never pulls: the function wants a replica but never has a ready endpoint.
    await h.call("POST", "/system/functions", { service: "cold", image: "registry.invalid/none:1" });
    // The wait runs in virtual time: it lasts the proxy's readiness bound (5 s), not 0 and not longer.
    const started = h.cluster.clock.now();
    const res = await h.advanceUntil(h.request("GET", "/function/cold"));
    const waited = h.cluster.clock.now() - started;
    assert.ok(waited >= readinessWaitMs, `answered after ${waited} ms of virtual time, before the wait`);
    assert.ok(waited <= readinessWaitMs + 500, `answered after ${waited} ms of virtual time, past the bound`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
    assert.match(await res.text(), /No endpoints available for: cold/);
  }));

Deno.test("proxy: a malformed percent-encoding in the function name is a 400 from the proxy, not a 500", () =>
  withProvider(async (h) => {
    for (const path of ["/function/%zz", "/function/%E0%A4%A.openfaas-fn/sub?x=1", "/function/%"]) {
      const res = await h.call("POST", path, "x");
      assert.equal(res.status, 400, path);
      assert.equal(res.headers.get("x-openfaas-internal"), "proxy", path);
      assert.match(res.text, /function name/, path);
    }
  }));
