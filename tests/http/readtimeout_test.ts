/**
 * read_timeout bounds request bodies (Go's http.Server.ReadTimeout): over raw TCP on 127.0.0.1, in real
 * time, a body that stops short of its Content-Length gets a 408 and changes nothing, a slow body that
 * completes in time is served, and a stalled upload to a function is cut off by the upstream timeout.
 */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";
import { routeTo, withUpstream } from "../support/upstream.ts";
import { Kinds } from "../../sim/kinds.ts";
import { readTimeoutMessage, withReadTimeout } from "../../src/http/readtimeout.ts";
import { RequestTimeout } from "../../src/domain/errors.ts";

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
  /** Real milliseconds from the first byte sent to the whole response read. */
  elapsedMs: number;
}

/**
 * Sends `head` (request line and headers, without the blank line) and then each part of `parts` over one
 * TCP connection, `gapMs` apart, and reads one response (Content-Length framed). Gives up, closing the
 * connection, when no response has arrived `boundMs` after the start.
 */
const rawRequest = async (
  url: string,
  head: string,
  parts: string[],
  gapMs = 0,
  boundMs = 5_000,
): Promise<RawResponse> => {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const started = performance.now();
  let closed = false;
  const close = () => {
    if (!closed) conn.close();
    closed = true;
  };
  const bound = setTimeout(close, boundMs);
  const sending = (async () => {
    await conn.write(encoder.encode(`${head}\r\n\r\n`));
    for (const [i, part] of parts.entries()) {
      if (i > 0 && gapMs > 0) await sleep(gapMs);
      if (closed) return;
      await conn.write(encoder.encode(part));
    }
  })().catch(() => {}); // the server may answer (and the test close) before everything is sent
  try {
    let received = new Uint8Array();
    const buffer = new Uint8Array(16 * 1024);
    const text = () => new TextDecoder().decode(received);
    while (true) {
      const all = text();
      const end = all.indexOf("\r\n\r\n");
      if (end !== -1) {
        const [statusLine, ...lines] = all.slice(0, end).split("\r\n");
        const headers = new Map(lines.map((l) => {
          const colon = l.indexOf(":");
          return [l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim()] as const;
        }));
        const length = Number(headers.get("content-length") ?? "0");
        const body = all.slice(end + 4);
        if (encoder.encode(body).length >= length) {
          return {
            status: Number(statusLine.split(" ")[1]),
            headers,
            body,
            elapsedMs: performance.now() - started,
          };
        }
      }
      const n = closed ? null : await conn.read(buffer).catch(() => null);
      if (n === null) {
        throw new Error(
          `no complete response within ${
            Math.round(performance.now() - started)
          } ms (bound ${boundMs} ms); ` +
            `received: ${JSON.stringify(text())}`,
        );
      }
      const next = new Uint8Array(received.length + n);
      next.set(received);
      next.set(buffer.subarray(0, n), received.length);
      received = next;
    }
  } finally {
    clearTimeout(bound);
    close();
    await sending;
  }
};

const readTimeoutMs = 400;
const options = { config: { readTimeoutMs } };

/** A JSON body of exactly `length` bytes: `make(padding)` with the padding that gets it there. */
const sized = (length: number, make: (padding: string) => unknown) => {
  const text = JSON.stringify(make("x".repeat(length - JSON.stringify(make("")).length)));
  assert.equal(text.length, length);
  return text;
};

/** A deploy body of exactly 162 bytes. */
const deployBody = sized(162, (note) => ({
  service: "slowpoke",
  image: "functions/alpine:latest",
  envProcess: "cat",
  annotations: { note },
}));

const post = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}`;

/** Asserts a 408 caused by the read deadline, well before the bound and not before the deadline. */
const assertTimedOut = (res: RawResponse) => {
  assert.equal(res.status, 408, res.body);
  assert.equal(res.body, `${readTimeoutMessage(readTimeoutMs)}\n`);
  assert.match(res.body, /read_timeout \(400ms\)/);
  assert.equal(res.headers.get("connection"), "close");
  assert.ok(res.elapsedMs >= readTimeoutMs * 0.9, `answered after ${res.elapsedMs} ms, before the deadline`);
  assert.ok(res.elapsedMs < 4_000, `answered after ${res.elapsedMs} ms`);
};

const deployments = (h: Harness) => [...h.cluster.store.scan(Kinds.Deployment)].map((d) => d.metadata.name);

Deno.test("read_timeout: POST /system/functions with 62 of 162 body bytes gets 408 and deploys nothing", () =>
  withProvider(async (h) => {
    const res = await rawRequest(h.url, post("/system/functions", 162), [deployBody.slice(0, 62)]);
    assertTimedOut(res);
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/functions")).text), []);
    assert.deepEqual(deployments(h), []);
    const metrics = (await h.call("GET", "/metrics")).text;
    assert.match(
      metrics,
      /provider_http_requests_total\{code="408",method="POST",path="\/system\/functions"\} 1/,
    );
  }, options));

Deno.test("read_timeout: POST /system/secrets with 62 of 162 body bytes gets 408 and creates no secret", () =>
  withProvider(async (h) => {
    const secret = sized(162, (value) => ({ name: "api-key", value }));
    const res = await rawRequest(h.url, post("/system/secrets", 162), [secret.slice(0, 62)]);
    assertTimedOut(res);
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/secrets")).text), []);
    assert.deepEqual(
      [...h.cluster.store.scan(Kinds.Secret)].filter((s) => s.metadata.name === "api-key"),
      [],
    );
  }, options));

Deno.test("read_timeout: a body still trickling in at the deadline gets 408 (a deadline, not an idle timeout)", () =>
  withProvider(async (h) => {
    // 16 parts of ~10 bytes, 50 ms apart: never idle for long, but 750 ms in all.
    const parts = deployBody.match(/.{1,11}/g)!;
    assert.ok(parts.length * 50 > readTimeoutMs * 1.5);
    const res = await rawRequest(h.url, post("/system/functions", 162), parts, 50);
    assertTimedOut(res);
    assert.deepEqual(deployments(h), []);
  }, options));

Deno.test("read_timeout: a slow body that completes within read_timeout is served", () =>
  withProvider(async (h) => {
    // Three parts 150 ms apart: 300 ms of a 3 s deadline.
    const parts = [deployBody.slice(0, 62), deployBody.slice(62, 120), deployBody.slice(120)];
    const res = await rawRequest(h.url, post("/system/functions", 162), parts, 150);
    assert.equal(res.status, 202, res.body);
    assert.ok(res.elapsedMs >= 250, `served after ${res.elapsedMs} ms: the body was not sent slowly`);
    assert.deepEqual(deployments(h), ["slowpoke"]);
  }, { config: { readTimeoutMs: 3_000 } }));

Deno.test("read_timeout: a stalled upload to a function is cut off by the upstream timeout (504)", async () => {
  let podSaw: string | undefined;
  await withUpstream(async (req) => {
    try {
      await req.arrayBuffer();
      podSaw = "the whole body";
    } catch (e) {
      podSaw = `an aborted body: ${(e as Error).name}`;
    }
    return new Response("done");
  }, async (h, up) => {
    await routeTo(h, "upload", up.port);
    const res = await rawRequest(h.url, post("/function/upload", 162), ["x".repeat(62)]);
    assert.equal(res.status, 504, res.body);
    assert.equal(res.body, "Timeout waiting for: upload.\n");
    assert.equal(res.headers.get("x-openfaas-internal"), "proxy");
    assert.ok(res.elapsedMs < 4_000, `answered after ${res.elapsedMs} ms`);
    for (let i = 0; i < 100 && podSaw === undefined; i++) await sleep(10);
    assert.match(podSaw ?? "nothing", /^an aborted body/);
  }, { config: { readTimeoutMs } });
});

/** A POST whose body is `source`, as Deno.serve hands a streamed request over. */
const streamedPost = (url: string, source: ReadableStream<Uint8Array>) =>
  new Request(url, { method: "POST", body: source, duplex: "half" } as RequestInit);

Deno.test("withReadTimeout: at the deadline the handler's read fails with RequestTimeout and the source is cancelled", async () => {
  let cancelledWith: unknown = "not cancelled";
  let pulls = 0;
  const source = new ReadableStream<Uint8Array>({
    pull: (controller) => {
      // One chunk, then nothing more: a client that stopped sending.
      if (pulls++ === 0) controller.enqueue(encoder.encode('{"name":'));
      return new Promise(() => {});
    },
    cancel: (reason) => {
      cancelledWith = reason;
    },
  });
  let readError: unknown;
  const serve = withReadTimeout(50, async (req) => {
    try {
      await req.text();
    } catch (e) {
      readError = e;
    }
    return new Response(null, { status: readError instanceof RequestTimeout ? 408 : 200 });
  });
  const req = streamedPost("http://x/system/secrets", source);
  const res = await serve(req);
  assert.equal(res.status, 408);
  assert.ok(readError instanceof RequestTimeout);
  assert.equal(readError.message, "request body not received within read_timeout (50ms)");
  assert.equal(res.headers.get("connection"), "close");
  assert.equal(cancelledWith, readError, "the source was cancelled with the timeout");
});

Deno.test("withReadTimeout: a body the handler leaves unread is cancelled once it has answered", async () => {
  let cancelled = false;
  const source = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
  const serve = withReadTimeout(60_000, () => new Response(null, { status: 401 }));
  const req = streamedPost("http://x/system/functions", source);
  assert.equal((await serve(req)).status, 401);
  assert.equal(cancelled, true);
  assert.equal(withReadTimeout(0, serve), serve, "read_timeout 0 sets no deadline");
});
