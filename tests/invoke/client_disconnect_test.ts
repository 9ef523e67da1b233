/**
 * A client that leaves: the pod's request or streamed body is cancelled, and the invocation is counted once.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { type Harness, withProvider } from "../support/harness.ts";
import { holdingPod, routeTo, withUpstream } from "../support/upstream.ts";
import { Invocations } from "../../src/metrics/invocations.ts";
import { metrics } from "../../src/metrics/registry.ts";

/** Resolves once `check` holds, polling on the wall clock (real sockets are involved); fails after `ms`. */
const eventually = async (check: () => boolean | Promise<boolean>, what: string, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const inFlight = (h: Harness, name: string) =>
  h.run(Effect.map(Effect.service(Invocations), (i) => i.load(name, "openfaas-fn")?.inFlight ?? 0));

const invocationsWith = (name: string, code: number) =>
  metrics.invocations.get({ function_name: `${name}.openfaas-fn`, code: String(code) });

Deno.test("proxy: a client that leaves before the pod answers aborts the pod's request; recorded once as 499", async () => {
  const pod = holdingPod();
  await withUpstream(pod.handler, async (h, up) => {
    await routeTo(h, "hang", up.port);
    const before = { c499: invocationsWith("hang", 499), c502: invocationsWith("hang", 502) };
    const client = new AbortController();
    const pending = fetch(`${h.url}/function/hang`, { method: "POST", body: "x", signal: client.signal })
      .then(() => "answered", (e) => (e as Error).name);
    await pod.gotRequest;
    assert.equal(await inFlight(h, "hang"), 1);
    client.abort();
    assert.equal(await pending, "AbortError");
    let podAborted = false;
    pod.sawAbort.then(() => (podAborted = true));
    await eventually(() => podAborted, "the pod sees its request aborted");
    await eventually(async () => (await inFlight(h, "hang")) === 0, "the in-flight count returns to 0");
    assert.equal(invocationsWith("hang", 499) - before.c499, 1, "counted once, as client closed");
    assert.equal(invocationsWith("hang", 502) - before.c502, 0, "not as an unreachable pod");
    assert.equal(metrics.inFlight.get({ function_name: "hang.openfaas-fn" }), 0);
  }, { config: { readTimeoutMs: 60_000 } });
});

Deno.test("proxy: the client's signal is followed only until the pod answers: a streamed body is delivered whole", async () => {
  let cancelled = false;
  await withUpstream(() => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 10));
        if (i++ < 5) c.enqueue(new TextEncoder().encode(`chunk ${i}\n`));
        else c.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/plain" } });
  }, async (h, up) => {
    await routeTo(h, "streamer", up.port);
    const before = { ok: invocationsWith("streamer", 200), closed: invocationsWith("streamer", 499) };
    for (let n = 0; n < 3; n++) {
      const res = await h.request("GET", "/function/streamer");
      assert.equal(await res.text(), "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n");
    }
    await eventually(async () => (await inFlight(h, "streamer")) === 0, "in flight back to 0");
    // Give a late (legacy) abort of the finished requests' signals the chance to count them again.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(cancelled, false);
    assert.equal(invocationsWith("streamer", 200) - before.ok, 3, "each invocation counted once");
    assert.equal(invocationsWith("streamer", 499) - before.closed, 0);
  });
});

Deno.test("proxy: a client that leaves during a streamed body cancels it at the pod; counted once with the pod's status", async () => {
  let cancelled!: () => void;
  const podCancelled = new Promise<void>((r) => (cancelled = r));
  await withUpstream(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 10));
          c.enqueue(new TextEncoder().encode("tick\n"));
        },
        cancel() {
          cancelled();
        },
      }),
      { headers: { "Content-Type": "text/event-stream" } },
    ), async (h, up) => {
    await routeTo(h, "ticker", up.port);
    const before = { ok: invocationsWith("ticker", 200), closed: invocationsWith("ticker", 499) };
    const client = new AbortController();
    const res = await fetch(`${h.url}/function/ticker`, { signal: client.signal });
    const reader = res.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "tick\n");
    client.abort();
    await reader.read().catch(() => {});
    let gone = false;
    podCancelled.then(() => (gone = true));
    await eventually(() => gone, "the pod's response body is cancelled");
    await eventually(async () => (await inFlight(h, "ticker")) === 0, "in flight back to 0");
    assert.equal(invocationsWith("ticker", 200) - before.ok, 1);
    assert.equal(invocationsWith("ticker", 499) - before.closed, 0);
  });
});

Deno.test("proxy: in the simulator, a client that leaves stops the simulated handling", () =>
  withProvider(async (h) => {
    const r = await h.call("POST", "/system/functions", { service: "sleeper", image: "sim/sleep:latest" });
    assert.equal(r.status, 202, r.text);
    await h.advance(10_000);
    const before = invocationsWith("sleeper", 499);
    const client = new AbortController();
    // Ten minutes of virtual time that the test does not advance: only the abort can end it.
    const pending = fetch(`${h.url}/function/sleeper?duration_ms=600000`, { signal: client.signal })
      .then(() => "answered", (e) => (e as Error).name);
    try {
      await eventually(async () => (await inFlight(h, "sleeper")) === 1, "the request reaches the pod");
      client.abort();
      assert.equal(await pending, "AbortError");
      await eventually(async () => (await inFlight(h, "sleeper")) === 0, "the in-flight count returns to 0");
      assert.equal(invocationsWith("sleeper", 499) - before, 1);
    } finally {
      await h.advance(600_000); // lets a request the abort did not stop end, so the server can close
    }
  }, { config: { readTimeoutMs: 3_600_000 } }));
