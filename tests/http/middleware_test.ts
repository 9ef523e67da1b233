/**
 * The HTTP middleware, each on its own small Hono app: the 405 gate, basic auth, the body limit, request
 * metrics and read_timeout.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { allowMethods } from "../../src/http/middleware/methods.ts";
import { basicAuth } from "../../src/http/middleware/basicauth.ts";
import { bodyLimit } from "../../src/http/middleware/bodylimit.ts";
import { requestMetrics } from "../../src/http/middleware/metrics.ts";
import { readTimeout } from "../../src/http/middleware/readtimeout.ts";
import { metrics } from "../../src/metrics/registry.ts";
import { PayloadTooLarge, RequestTimeout } from "../../src/domain/errors.ts";

const url = (path: string) => `http://provider${path}`;

/** A body of `chunks`, counting how many were pulled and whether it was cancelled. */
const countedBody = (chunks: string[]) => {
  const seen = { pulled: 0, cancelled: false };
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled === chunks.length) return controller.close();
      controller.enqueue(encoder.encode(chunks[seen.pulled++]));
    },
    cancel() {
      seen.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, seen };
};

/** An app whose handler reads the body and answers with its length or with the name of the read error. */
const reading = (...middleware: Parameters<Hono["use"]>[1][]) => {
  const app = new Hono();
  app.use(...middleware);
  app.post("/", async (c) => {
    try {
      return new Response(String((await c.req.raw.bytes()).byteLength));
    } catch (e) {
      return new Response((e as { _tag?: string })._tag ?? String(e), { status: 400 });
    }
  });
  return app;
};

Deno.test("allowMethods: other methods get 405 with an empty body before anything else; HEAD rides on GET", async () => {
  let reached = 0;
  const app = new Hono();
  app.use("/things", allowMethods(["GET", "POST"]), async (_c, next) => {
    reached++;
    await next();
  });
  app.get("/things", () => new Response("list"));
  app.post("/things", () => new Response("made"));
  app.use("/made", allowMethods(["POST"]));
  app.post("/made", () => new Response("made"));

  for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"]) {
    const res = await app.request(url("/things"), { method });
    assert.equal(res.status, 405, method);
    assert.equal(await res.text(), "");
    assert.equal(res.headers.get("content-type"), null);
  }
  assert.equal(reached, 0, "a wrong method stops at the gate");
  assert.equal(await (await app.request(url("/things"))).text(), "list");
  assert.equal(await (await app.request(url("/things"), { method: "POST" })).text(), "made");
  const head = await app.request(url("/things"), { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(reached, 3);
  assert.equal((await app.request(url("/made"), { method: "HEAD" })).status, 405, "no GET, no HEAD");
});

Deno.test("basicAuth: 401 with a realm unless the request carries the credentials", async () => {
  const app = new Hono();
  app.use(basicAuth({ user: "admin", password: "pw" }));
  app.get("/", () => new Response("in"));
  const as = (authorization?: string) =>
    app.request(url("/"), { headers: authorization === undefined ? {} : { authorization } });

  const ok = await as(`Basic ${btoa("admin:pw")}`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "in");
  for (
    const header of [
      undefined,
      `Basic ${btoa("admin:nope")}`,
      `Basic ${btoa("root:pw")}`,
      `Basic ${btoa("admin")}`,
      `Basic ${btoa("admin:pw:")}`,
      "Basic !!!",
      `Bearer ${btoa("admin:pw")}`,
    ]
  ) {
    const res = await as(header);
    assert.equal(res.status, 401, String(header));
    assert.equal(res.headers.get("www-authenticate"), 'Basic realm="Restricted"');
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await res.text(), "invalid credentials");
  }
  assert.equal((await as(`Basic ${btoa("admin:pw")}  `)).status, 200, "trailing space after the token");
});

Deno.test("bodyLimit: a body over the limit fails the handler's read with PayloadTooLarge", async () => {
  const app = reading(bodyLimit(8));
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    app.request(url("/"), { method: "POST", body, headers, duplex: "half" } as RequestInit);

  assert.equal(await (await post("12345678")).text(), "8", "at the limit");
  const declared = await post("123456789");
  assert.equal(declared.status, 400);
  assert.equal(await declared.text(), "PayloadTooLarge");

  // Streamed without a length: cut off at the chunk that crosses the limit, the rest cancelled.
  const { stream, seen } = countedBody(["12345", "6789", "never read"]);
  const streamed = await post(stream);
  assert.equal(await streamed.text(), "PayloadTooLarge");
  assert.equal(seen.pulled, 2);
  assert.equal(seen.cancelled, true);

  const error = await new Promise<unknown>((resolve) => {
    const app = new Hono();
    app.use(bodyLimit(8));
    app.post("/", async (c) => {
      await c.req.raw.bytes().catch(resolve);
      return new Response(null);
    });
    app.request(url("/"), { method: "POST", body: "123456789" });
  });
  assert.ok(error instanceof PayloadTooLarge);
  assert.equal(error.message, "request body is larger than the limit of 8 bytes");
});

Deno.test("bodyLimit: a declared length over the limit reads nothing, and a handler that does not read is unaffected", async () => {
  const { stream, seen } = countedBody(["1234"]);
  const app = reading(bodyLimit(8));
  const res = await app.request(url("/"), {
    method: "POST",
    body: stream,
    headers: { "content-length": "1000" },
    duplex: "half",
  } as RequestInit);
  assert.equal(await res.text(), "PayloadTooLarge");
  assert.equal(seen.pulled, 0);

  const ignoring = new Hono();
  ignoring.use(bodyLimit(8));
  ignoring.delete("/", () => new Response("gone"));
  const gone = await ignoring.request(url("/"), { method: "DELETE", body: "x".repeat(100) });
  assert.equal(await gone.text(), "gone");
});

Deno.test("requestMetrics: counts answers by code, method and path, with function names stripped", async () => {
  const app = new Hono();
  app.use(requestMetrics, basicAuth({ user: "u", password: "p" }));
  app.get("/system/function/:name", () => new Response("{}"));
  app.post("/system/scale-function/:name", () => new Response(null, { status: 202 }));
  app.get("/system/broken", () => {
    throw new Error("boom");
  });
  app.onError(() => new Response("internal error", { status: 500 }));
  const auth = { authorization: `Basic ${btoa("u:p")}` };
  const count = (code: string, method: string, path: string) =>
    metrics.httpRequests.get({ code, method, path });

  const before = {
    status: count("200", "GET", "/system/function"),
    denied: count("401", "GET", "/system/function"),
    scale: count("202", "POST", "/system/scale-function"),
    broken: count("500", "GET", "/system/broken"),
  };
  await app.request(url("/system/function/a"), { headers: auth });
  await app.request(url("/system/function/b.other"), { headers: auth });
  await app.request(url("/system/function/a"));
  await app.request(url("/system/scale-function/a"), { method: "POST", headers: auth });
  assert.equal((await app.request(url("/system/broken"), { headers: auth })).status, 500);
  assert.equal(count("200", "GET", "/system/function"), before.status + 2);
  assert.equal(count("401", "GET", "/system/function"), before.denied + 1, "a 401 is an answer too");
  assert.equal(count("202", "POST", "/system/scale-function"), before.scale + 1);
  assert.equal(count("500", "GET", "/system/broken"), before.broken, "an unhandled error is not counted");
});

Deno.test("readTimeout: a body not read within the deadline fails with RequestTimeout; the 408 closes the connection", async () => {
  const app = new Hono();
  app.use(readTimeout(30));
  app.post("/", async (c) => {
    try {
      await c.req.raw.bytes();
      return new Response("read");
    } catch (e) {
      assert.ok(e instanceof RequestTimeout);
      return new Response(e.message, { status: 408 });
    }
  });
  const stalled = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
  const res = await app.request(url("/"), { method: "POST", body: stalled, duplex: "half" } as RequestInit);
  assert.equal(res.status, 408);
  assert.equal(res.headers.get("connection"), "close");
  assert.equal(await res.text(), "request body not received within read_timeout (30ms)");
  const fine = await app.request(url("/"), { method: "POST", body: "quick" });
  assert.equal(await fine.text(), "read");

  const open = new Hono();
  open.use(readTimeout(0));
  open.post("/", (c) => new Response(c.req.raw.body === null ? "none" : "body"));
  assert.equal(await (await open.request(url("/"), { method: "POST", body: "x" })).text(), "body");
});
