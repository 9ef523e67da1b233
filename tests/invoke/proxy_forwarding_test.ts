/** What the proxy forwards to the pod and back: method, path, query, headers, redirects, WebSockets. */
import assert from "node:assert/strict";
import { routeTo, withUpstream } from "../support/upstream.ts";

/** The requests a real upstream saw. */
interface Seen {
  method: string;
  headers: Headers;
}

Deno.test("proxy: method, sub-path, query, headers and status pass through; X-Call-Id and X-Start-Time added", async () => {
  let seen: { method: string; url: string; headers: Headers; body: string } | undefined;
  await withUpstream(async (req) => {
    seen = { method: req.method, url: req.url, headers: req.headers, body: await req.text() };
    return new Response("created", {
      status: 201,
      headers: { "X-Custom": "yes", "Content-Type": "text/x-test" },
    });
  }, async (h, up) => {
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
  });
});

Deno.test("proxy: redirects are passed through, not followed", async () => {
  await withUpstream(
    () => new Response(null, { status: 302, headers: { Location: "http://127.0.0.1:9/elsewhere" } }),
    async (h, up) => {
      await routeTo(h, "redirector", up.port);
      const res = await h.request("POST", "/function/redirector", "x");
      assert.equal(res.status, 302);
      assert.equal(res.headers.get("location"), "http://127.0.0.1:9/elsewhere");
      await res.body?.cancel();
    },
  );
});

Deno.test("proxy: WebSockets are tunnelled both ways", async () => {
  await withUpstream((req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(`echo:${e.data} ${new URL(req.url).pathname}`);
    return response;
  }, async (h, up) => {
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
  });
});

Deno.test("proxy: an incoming X-Call-Id is kept; X-Forwarded-Host is set; OPTIONS and HEAD are forwarded", async () => {
  const seen: Seen[] = [];
  await withUpstream((req) => {
    seen.push({ method: req.method, headers: req.headers });
    if (req.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { Allow: "GET, POST, OPTIONS", "X-Up": "options" } });
    }
    if (req.method === "HEAD") {
      return new Response(null, { status: 200, headers: { "X-Up": "head", "Content-Type": "text/x-head" } });
    }
    return new Response("ok", { headers: { "X-Up": req.method.toLowerCase() } });
  }, async (h, up) => {
    await routeTo(h, "hdrs", up.port);
    const host = new URL(h.url).host;

    const withId = await h.request("POST", "/function/hdrs/x", "body", { "X-Call-Id": "call-123" });
    assert.equal(withId.status, 200);
    await withId.text();
    assert.equal(withId.headers.get("x-call-id"), "call-123", "the response carries the caller's id");
    assert.equal(seen.at(-1)?.headers.get("x-call-id"), "call-123", "the pod sees the caller's id");
    assert.equal(seen.at(-1)?.headers.get("x-forwarded-host"), host);

    const fresh = await h.request("GET", "/function/hdrs");
    await fresh.text();
    const id = fresh.headers.get("x-call-id");
    assert.ok(id && id !== "call-123", "a new id when none is given");
    assert.equal(seen.at(-1)?.headers.get("x-call-id"), id);
    assert.equal(seen.at(-1)?.headers.get("x-forwarded-host"), host);

    const options = await h.request("OPTIONS", "/function/hdrs");
    await options.body?.cancel();
    assert.equal(seen.at(-1)?.method, "OPTIONS", "the pod got the OPTIONS request");
    assert.equal(options.status, 204);
    assert.equal(options.headers.get("allow"), "GET, POST, OPTIONS");
    assert.equal(options.headers.get("x-up"), "options");
    assert.equal(options.headers.get("x-openfaas-internal"), null, "not a proxy error");

    const head = await h.request("HEAD", "/function/hdrs");
    assert.equal(seen.at(-1)?.method, "HEAD", "the pod got the HEAD request");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("x-up"), "head");
    assert.equal(head.headers.get("content-type"), "text/x-head");
    assert.equal(await head.text(), "");
    assert.equal(seen.length, 4, "one upstream request per call");
  });
});

Deno.test("proxy: hop-by-hop headers are dropped both ways; host and content-length are not hop-by-hop in responses", async () => {
  let seen: Headers | undefined;
  await withUpstream((req) => {
    seen = req.headers;
    return new Response("body", {
      headers: {
        "Content-Length": "4",
        "Proxy-Authenticate": "Basic",
        "Host": "pod.example",
        "X-Call-Id": "from-the-pod",
      },
    });
  }, async (h, up) => {
    await routeTo(h, "hops", up.port);
    const res = await h.request("GET", "/function/hops", undefined, {
      "Proxy-Authorization": "Basic abc",
      "X-Kept": "yes",
    });
    assert.equal(await res.text(), "body");
    assert.equal(res.headers.get("content-length"), "4");
    assert.equal(res.headers.get("host"), "pod.example");
    assert.equal(res.headers.get("proxy-authenticate"), null);
    assert.notEqual(res.headers.get("x-call-id"), "from-the-pod", "the proxy's own X-Call-Id wins");
    assert.equal(seen?.get("proxy-authorization"), null);
    assert.equal(seen?.get("x-kept"), "yes");
    assert.equal(seen?.get("x-forwarded-host"), new URL(h.url).host);
  });
});
