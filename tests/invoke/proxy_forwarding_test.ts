import assert from "node:assert/strict";
import { withProvider } from "../support/harness.ts";
import { realUpstream, routeTo, startUpstream } from "../support/upstream.ts";

/** How long the proxy waits for a ready endpoint of a function that has replicas (src/invoke/proxy.ts). */
const readinessWaitMs = 5_000;

Deno.test("proxy: method, sub-path, query, headers and status pass through; X-Call-Id and X-Start-Time added", async () => {
  let seen: { method: string; url: string; headers: Headers; body: string } | undefined;
  const up = startUpstream(async (req) => {
    seen = { method: req.method, url: req.url, headers: req.headers, body: await req.text() };
    return new Response("created", {
      status: 201,
      headers: { "X-Custom": "yes", "Content-Type": "text/x-test" },
    });
  });
  try {
    await withProvider(async (h) => {
      await routeTo(h, "echo", up.port);
      const res = await h.request("PUT", "/function/echo.openfaas-fn/sub/path?x=1&y=two", "payload", {
        "X-Test": "abc",
        "Content-Type": "text/plain",
      });
      assert.equal(res.status, 201);
      assert.equal(await res.text(), "created");
      assert.equal(res.headers.get("x-custom"), "yes");
      assert.equal(res.headers.get("content-type"), "text/x-test");
      assert.ok(res.headers.get("x-call-id"));
      assert.match(res.headers.get("x-start-time") ?? "", /^\d+$/);
      assert.match(res.headers.get("x-duration-seconds") ?? "", /^\d+\.\d+$/);
      assert.equal(seen?.method, "PUT");
      assert.equal(new URL(seen!.url).pathname, "/sub/path");
      assert.equal(new URL(seen!.url).search, "?x=1&y=two");
      assert.equal(seen?.headers.get("x-test"), "abc");
      assert.equal(seen?.headers.get("x-call-id"), res.headers.get("x-call-id"));
      assert.ok(seen?.headers.get("x-forwarded-for")?.startsWith("127.0.0.1:"));
      assert.equal(seen?.body, "payload");
      // the name without namespace uses the default one
      assert.equal((await h.call("GET", "/function/echo")).status, 201);
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: redirects are passed through, not followed", async () => {
  const up = startUpstream(() =>
    new Response(null, { status: 302, headers: { Location: "http://127.0.0.1:9/elsewhere" } })
  );
  try {
    await withProvider(async (h) => {
      await routeTo(h, "redirector", up.port);
      const res = await h.request("POST", "/function/redirector", "x");
      assert.equal(res.status, 302);
      assert.equal(res.headers.get("location"), "http://127.0.0.1:9/elsewhere");
      await res.body?.cancel();
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: the response streams (first chunk arrives before the last is sent)", async () => {
  let releaseLast!: () => void;
  const lastMayGo = new Promise<void>((r) => (releaseLast = r));
  let lastSent = false;
  const up = startUpstream(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode("data: first\n\n"));
        await lastMayGo;
        lastSent = true;
        controller.enqueue(new TextEncoder().encode("data: last\n\n"));
        controller.close();
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
  });
  try {
    await withProvider(async (h) => {
      await routeTo(h, "sse", up.port);
      const res = await h.request("GET", "/function/sse", undefined, { Accept: "text/event-stream" });
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      assert.equal(first, "data: first\n\n");
      assert.equal(lastSent, false, "first chunk arrived before the last was sent");
      releaseLast();
      let rest = "";
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      assert.equal(rest, "data: last\n\n");
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: a 1 MiB upload streams through byte-exact", async () => {
  const up = startUpstream(async (req) => new Response(new Uint8Array(await req.arrayBuffer())));
  try {
    await withProvider(async (h) => {
      await routeTo(h, "big", up.port);
      const data = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) % 251);
      const res = await fetch(`${h.url}/function/big`, { method: "POST", body: data });
      const back = new Uint8Array(await res.arrayBuffer());
      assert.equal(res.status, 200);
      assert.equal(back.length, data.length);
      assert.deepEqual(back, data);
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: an upstream slower than read_timeout gives 504 from the proxy", async () => {
  const up = startUpstream(async () => {
    await new Promise((r) => setTimeout(r, 1_000));
    return new Response("late");
  });
  try {
    await withProvider(async (h) => {
      await routeTo(h, "slow", up.port);
      const res = await h.request("GET", "/function/slow");
      assert.equal(res.status, 504);
      assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
      await res.body?.cancel();
    }, { ...realUpstream, config: { readTimeoutMs: 200 } });
  } finally {
    await up.close();
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
    const started = h.cluster.env.now();
    const res = await h.advanceUntil(h.request("GET", "/function/cold"));
    const waited = h.cluster.env.now() - started;
    assert.ok(waited >= readinessWaitMs, `answered after ${waited} ms of virtual time, before the wait`);
    assert.ok(waited <= readinessWaitMs + 500, `answered after ${waited} ms of virtual time, past the bound`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
    assert.match(await res.text(), /No endpoints available for: cold/);
  }));

Deno.test("proxy: invocations are counted in /metrics", async () => {
  const up = startUpstream(() => new Response("ok"));
  try {
    await withProvider(async (h) => {
      await routeTo(h, "counted", up.port);
      const before = await h.call("GET", "/metrics");
      const count = (text: string) =>
        Number(
          /gateway_function_invocation_total\{function_name="counted.openfaas-fn",code="200"\} (\d+)/.exec(
            text,
          )?.[1] ?? 0,
        );
      for (let i = 0; i < 3; i++) await (await h.request("GET", "/function/counted")).text();
      const after = await h.call("GET", "/metrics");
      assert.equal(count(after.text) - count(before.text), 3);
      assert.match(
        after.text,
        /gateway_functions_seconds_count\{function_name="counted.openfaas-fn",code="200"\} \d+/,
      );
      assert.match(
        after.text,
        /provider_http_requests_total\{code="202",method="POST",path="\/system\/functions"\} \d+/,
      );
      assert.match(after.text, /provider_kube_requests_total\{verb="POST",code="2xx"\} \d+/);
      assert.match(after.text, /gateway_service_count\{function_name="counted.openfaas-fn"\} 0/);
      // A function with replicas reports them.
      const two = await h.call("POST", "/system/functions", {
        service: "two",
        image: "functions/alpine:latest",
        labels: { "com.openfaas.scale.min": "2" },
      });
      assert.equal(two.status, 202, two.text);
      const withTwo = await h.call("GET", "/metrics");
      assert.match(withTwo.text, /^gateway_service_count\{function_name="two.openfaas-fn"\} 2$/m);
      assert.match(withTwo.text, /^gateway_service_count\{function_name="counted.openfaas-fn"\} 0$/m);
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: WebSockets are tunnelled both ways", async () => {
  const up = startUpstream((req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(`echo:${e.data} ${new URL(req.url).pathname}`);
    return response;
  });
  try {
    await withProvider(async (h) => {
      await routeTo(h, "ws", up.port);
      const ws = new WebSocket(`${h.url.replace("http", "ws")}/function/ws/chat`);
      const got = await new Promise<string>((resolve, reject) => {
        ws.onopen = () => ws.send("hello");
        ws.onmessage = (e) => resolve(String(e.data));
        ws.onerror = () => reject(new Error("websocket error"));
      });
      assert.equal(got, "echo:hello /chat");
      const closed = new Promise((r) => (ws.onclose = r));
      ws.close();
      await closed;
    }, realUpstream);
  } finally {
    await up.close();
  }
});
