import assert from "node:assert/strict";
import { Effect, Stream } from "effect";
import { KubeApi, type KubeApiShape, KubeError } from "../../src/kube/api.ts";
import { buildUrl, HttpTransport, type HttpTransportOptions, parseRetryAfter } from "../../src/kube/http.ts";
import type { ClusterConnection } from "../../src/kube/kubeconfig/resolve.ts";

// ---------------------------------------------------------------------------
// Fixtures: a test CA (EC P-256, valid until 2126), a server certificate for
// kube.test / localhost / 127.0.0.1, a client certificate (CN=alice), and an
// unrelated CA. Generated once with openssl; test-only keys.
// ---------------------------------------------------------------------------

const CA_CRT = `-----BEGIN CERTIFICATE-----
MIIBnTCCAUWgAwIBAgIUXHfdtK+D246DIiAZJcE8SPTrNzIwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRZmFhcy1kZW5vLXRlc3QtY2EwIBcNMjYxMTI1MjE0MzQxWhgP
MjEyNjExMDEyMTQzNDFaMBwxGjAYBgNVBAMMEWZhYXMtZGVuby10ZXN0LWNhMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENZl4RXAi9+qBAmkxyR3PsGW41qaKO4uB
sLe8V2dNswuJCxUiwAarTIps8wBcpEpAZy8y8Rve3G0vg4kUnU2J46NjMGEwHQYD
VR0OBBYEFJd72MtZOx2KiPeKW5MuSgDYibJtMB8GA1UdIwQYMBaAFJd72MtZOx2K
iPeKW5MuSgDYibJtMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoG
CCqGSM49BAMCA0YAMEMCHyE9TDgJUeYXjZrKompNj7tlnXOtPz/3oJ1q2V4xr9YC
IFwo5sAbuxgWMVp1bBmNneaWnnORGtFBN3rx1wApsVUy
-----END CERTIFICATE-----
`;

const SERVER_CRT = `-----BEGIN CERTIFICATE-----
MIIBzzCCAXWgAwIBAgIUcN13JoqOh8MDOyh6VYvM4bkEsRcwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRZmFhcy1kZW5vLXRlc3QtY2EwIBcNMjYxMTI1MjE0MzQxWhgP
MjEyNjExMDEyMTQzNDFaMBQxEjAQBgNVBAMMCWt1YmUudGVzdDBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABAFPekI6JhBNL/pJWHr9dVZLJ15GMUP7w87Mo9dV29bn
xL8yezhdoU1RqH0+fbK3IWkqs7RQLjDamixQxJ0wgm2jgZowgZcwJQYDVR0RBB4w
HIIJa3ViZS50ZXN0gglsb2NhbGhvc3SHBH8AAAEwCQYDVR0TBAIwADAOBgNVHQ8B
Af8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFGp1Fk9XHptN
kdwUQUD7/FRilVf6MB8GA1UdIwQYMBaAFJd72MtZOx2KiPeKW5MuSgDYibJtMAoG
CCqGSM49BAMCA0gAMEUCIAg7HEyZE4f2nWa5rJZpmjZ5tkqDjZAgGoEy/LfZwrqV
AiEA+uk2ATuNQ1N+OkBRQIx/lJi8P30y0H3/0qFxBd+BDvU=
-----END CERTIFICATE-----
`;

const SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGteaTamrY7P3xLXa
PhsUW/Ng4A6OWb+rTsNzURy5p+6hRANCAAQBT3pCOiYQTS/6SVh6/XVWSydeRjFD
+8POzKPXVdvW58S/Mns4XaFNUah9Pn2ytyFpKrO0UC4w2posUMSdMIJt
-----END PRIVATE KEY-----
`;

const CLIENT_CRT = `-----BEGIN CERTIFICATE-----
MIIBuzCCAWGgAwIBAgIUcN13JoqOh8MDOyh6VYvM4bkEsRgwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRZmFhcy1kZW5vLXRlc3QtY2EwIBcNMjYxMTI1MjE0MzQxWhgP
MjEyNjExMDEyMTQzNDFaMCkxDjAMBgNVBAMMBWFsaWNlMRcwFQYDVQQKDA5zeXN0
ZW06bWFzdGVyczBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEmxLtyxezt9WUIk
JwarTnPKg3Pxs2yJj1vRyKUTbn/Jw5rQw+5S9Bq7shPFVtbKCSqcuf6HvhuQhH0q
HlX3tCijcjBwMAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoG
CCsGAQUFBwMCMB0GA1UdDgQWBBT2twvP1bFShCc85Fy3z//Ep9q5LzAfBgNVHSME
GDAWgBSXe9jLWTsdioj3iluTLkoA2ImybTAKBggqhkjOPQQDAgNIADBFAiAA83+s
xPXmIDBW9lKjortPZa+5KHiuqggdC2A4UL+EpwIhANjRKEYavkMU6zSMsjbwwktW
e4XFyGQS6+7H7csMcGir
-----END CERTIFICATE-----
`;

const CLIENT_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2SlzKZ0ELhqrYdCt
ltv2Hdk1fAGs0/EhW7Fx+OlkfMahRANCAARJsS7csXs7fVlCJCcGq05zyoNz8bNs
iY9b0cilE25/ycOa0MPuUvQau7ITxVbWygkqnLn+h74bkIR9Kh5V97Qo
-----END PRIVATE KEY-----
`;

const OTHER_CA_CRT = `-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUbwMlj6aL+ZwI9KWZS8MvVkcjANIwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIb3RoZXItY2EwIBcNMjYxMTI1MjE0MzQxWhgPMjEyNjExMDEy
MTQzNDFaMBMxETAPBgNVBAMMCG90aGVyLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEZ+PYEZMJPgtAmar313RMyRXL85x12ei6br69urA6c1EbPxqwOXZhd79O
MAASDLPZKThI6aQtZOzEDVgMtMEu1qNTMFEwHQYDVR0OBBYEFDUuNjhCBMMfR1CD
UwbkmrF0MQLJMB8GA1UdIwQYMBaAFDUuNjhCBMMfR1CDUwbkmrF0MQLJMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAIsYC53CaRi8InNoJN3qiVob
7Ssm7NlUMu9VGskWXoU/AiBtSkIzaX9M4MsVYPEErs6o71DukIGL/vwnPBegaP7r
eQ==
-----END CERTIFICATE-----
`;

// A second test CA and a server certificate for DNS:kube.test only (no IP address), for
// tls-server-name and insecure-skip-tls-verify. Generated once with openssl; test-only keys.
const NAMED_CA_CRT = `-----BEGIN CERTIFICATE-----
MIIBqzCCAVGgAwIBAgIUSguAbTUCZB7pw0JT11SzF9dfTU4wCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXZmFhcy1kZW5vLXRlc3QtbmFtZWQtY2EwIBcNMjYxMTI1MjMw
MjE0WhgPMjEyNjExMDEyMzAyMTRaMCIxIDAeBgNVBAMMF2ZhYXMtZGVuby10ZXN0
LW5hbWVkLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMXR5reSQGOUmrVZG
jM1iwcxWaC9dlpsgwsansnksec99EoGCk8ecMQdqU4PnLy4helBBvZz4mNsZYpTn
0Qpzn6NjMGEwHQYDVR0OBBYEFBxtb/5Clir9ctXDlSYoylWv81cDMB8GA1UdIwQY
MBaAFBxtb/5Clir9ctXDlSYoylWv81cDMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0P
AQH/BAQDAgEGMAoGCCqGSM49BAMCA0gAMEUCIQDmHLHSZDS3tz/jZIvl0NIiXTGC
aGt1N0hesSF/RIjxIAIgTKMNMpfrmRFiuTa/eni9D1u5cibBSNqmJbCh2dpFYkg=
-----END CERTIFICATE-----
`;

const NAMED_SERVER_CRT = `-----BEGIN CERTIFICATE-----
MIIBsjCCAVigAwIBAgIUE9AWlrh1UiUGAy2LddEws+ID9X4wCgYIKoZIzj0EAwIw
IjEgMB4GA1UEAwwXZmFhcy1kZW5vLXRlc3QtbmFtZWQtY2EwIBcNMjYxMTI1MjMw
MjE0WhgPMjEyNjExMDEyMzAyMTRaMBQxEjAQBgNVBAMMCWt1YmUudGVzdDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABEaNOJuKCiBk2qc1CDcda9jJGUsd1GFv8tXa
o/5BsrXtTIKICRIFjUQC3NZmYNBstu4ooBHzwbDdmSOw6IFRE9ejeDB2MBQGA1Ud
EQQNMAuCCWt1YmUudGVzdDAJBgNVHRMEAjAAMBMGA1UdJQQMMAoGCCsGAQUFBwMB
MB0GA1UdDgQWBBSEzGuLe1ew/i6RmqlflsSjPZ2xPjAfBgNVHSMEGDAWgBQcbW/+
QpYq/XLVw5UmKMpVr/NXAzAKBggqhkjOPQQDAgNIADBFAiEAwMO6T5X4klXuqgrJ
JKhJHAF96zWj6lO0xP8ULNvqtfACIAzRN9ADuhXKe/rEImUxauB+dg46QTChIqX3
/AUMbU1W
-----END CERTIFICATE-----
`;

const NAMED_SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcfwopTsZi3Z4ujRF
GxoLBc9WHhDUmNTCk0Kw3ltJgd2hRANCAARGjTibigogZNqnNQg3HWvYyRlLHdRh
b/LV2qP+QbK17UyCiAkSBY1EAtzWZmDQbLbuKKAR88Gw3ZkjsOiBURPX
-----END PRIVATE KEY-----
`;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

interface Seen {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: string;
}

type Handler = (req: Request, seen: Seen) => Response | Promise<Response>;

/** Runs `fn` against a fake API server on 127.0.0.1 (plain HTTP, or TLS with `tls`). */
async function withServer(
  handler: Handler,
  fn: (server: string, seen: Seen[]) => Promise<void>,
  tls?: { cert: string; key: string },
): Promise<void> {
  const seen: Seen[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...(tls ?? {}) },
    async (req) => {
      const s = { method: req.method, url: new URL(req.url), headers: req.headers, body: await req.text() };
      seen.push(s);
      return handler(req, s);
    },
  );
  try {
    await fn(`${tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

const connection = (server: string, extra: Partial<ClusterConnection> = {}): ClusterConnection => ({
  server,
  insecureSkipTlsVerify: false,
  auth: () => Promise.resolve({ Authorization: "Bearer t0k3n" }),
  source: "test",
  ...extra,
});

/** Runs `f` with a KubeApi over HTTP to `conn`. */
const run = <A, E>(
  conn: ClusterConnection,
  f: (kube: KubeApiShape) => Effect.Effect<A, E>,
  options?: HttpTransportOptions,
): Promise<A> =>
  Effect.runPromise(
    Effect.flatMap(Effect.service(KubeApi), f).pipe(Effect.provide(HttpTransport(conn, options))),
  );

/** Runs `f` and returns its KubeError (fails the test if it succeeds). */
const runError = <A>(
  conn: ClusterConnection,
  f: (kube: KubeApiShape) => Effect.Effect<A, KubeError>,
  options?: HttpTransportOptions,
): Promise<KubeError> =>
  run(conn, (kube) => Effect.flip(f(kube)), options).then((e) => {
    assert.ok(e instanceof KubeError, `expected a KubeError, got ${String(e)}`);
    return e;
  });

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

const status = (code: number, reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  code,
  reason,
  message,
});

/** A response body that sends `chunks` with a pause between them, then closes (unless `hold`). */
const chunked = (chunks: string[], opts: { hold?: Promise<void>; onCancel?: () => void } = {}) => {
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const c of chunks) {
        controller.enqueue(enc.encode(c));
        await new Promise((r) => setTimeout(r, 15));
      }
      if (opts.hold) await opts.hold;
      try {
        controller.close();
      } catch {
        // already cancelled by the client
      }
    },
    cancel() {
      opts.onCancel?.();
    },
  });
};

/** Resolves when `p` does, fails the test after `ms`. */
const within = async (p: Promise<unknown>, ms: number, what: string): Promise<void> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      p,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

/** A port nothing listens on. */
const freePort = (): number => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
};

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

Deno.test("http: GET sends the bearer token and Accept, encodes the query and skips undefined values", async () => {
  await withServer(() => json({ kind: "DeploymentList", items: [] }), async (server, seen) => {
    const out = await run(connection(`${server}/`), (kube) =>
      kube.request<{ kind: string }>({
        method: "GET",
        path: "/apis/apps/v1/namespaces/openfaas-fn/deployments",
        query: { labelSelector: "faas_function,tier in (a,b)", limit: "5", continue: undefined },
      }));
    assert.deepEqual(out, { kind: "DeploymentList", items: [] });
    assert.equal(seen.length, 1);
    const s = seen[0];
    assert.equal(s.method, "GET");
    assert.equal(s.url.pathname, "/apis/apps/v1/namespaces/openfaas-fn/deployments");
    assert.equal(s.url.searchParams.get("labelSelector"), "faas_function,tier in (a,b)");
    assert.equal(s.url.searchParams.get("limit"), "5");
    assert.equal(s.url.searchParams.has("continue"), false);
    assert.equal(s.headers.get("authorization"), "Bearer t0k3n");
    assert.equal(s.headers.get("accept"), "application/json");
    assert.equal(s.headers.get("content-type"), null);
    assert.equal(s.body, "");
  });
  assert.equal(
    buildUrl("https://h/prefix/", "/api/v1/pods", { a: "1 2", b: undefined }),
    "https://h/prefix/api/v1/pods?a=1+2",
  );
});

Deno.test("http: bodies are JSON; PATCH is merge-patch unless strategic merge is asked for", async () => {
  await withServer(
    (_req, s) => json({ echoed: s.method }, s.method === "POST" ? 201 : 200),
    async (server, seen) => {
      const conn = connection(server);
      const deployment = { metadata: { name: "env" }, spec: { replicas: 1 } };
      await run(conn, (kube) =>
        Effect.all([
          kube.request({ method: "POST", path: "/apis/apps/v1/namespaces/fn/deployments", body: deployment }),
          kube.request({
            method: "PUT",
            path: "/apis/apps/v1/namespaces/fn/deployments/env",
            body: deployment,
          }),
          kube.request({ method: "PATCH", path: "/p1", body: { spec: { replicas: 0 } } }),
          kube.request({
            method: "PATCH",
            path: "/p2",
            body: { spec: { replicas: 2 } },
            contentType: "application/strategic-merge-patch+json",
          }),
          kube.request({ method: "DELETE", path: "/apis/apps/v1/namespaces/fn/deployments/env" }),
        ]));
      assert.deepEqual(seen.map((s) => s.method), ["POST", "PUT", "PATCH", "PATCH", "DELETE"]);
      assert.equal(seen[0].headers.get("content-type"), "application/json");
      assert.deepEqual(JSON.parse(seen[0].body), deployment);
      assert.equal(seen[1].headers.get("content-type"), "application/json");
      assert.equal(seen[2].headers.get("content-type"), "application/merge-patch+json");
      assert.deepEqual(JSON.parse(seen[2].body), { spec: { replicas: 0 } });
      assert.equal(seen[3].headers.get("content-type"), "application/strategic-merge-patch+json");
      assert.equal(seen[4].headers.get("content-type"), null);
      assert.equal(seen[4].body, "");
    },
  );
});

Deno.test("http: Status failures map to KubeError with reason, message and Retry-After", async () => {
  const routes: Record<string, () => Response> = {
    "/404": () => json(status(404, "NotFound", 'deployments.apps "nope" not found'), 404),
    "/conflict": () => json(status(409, "Conflict", "the object has been modified"), 409),
    "/exists": () => json(status(409, "AlreadyExists", 'secrets "s" already exists'), 409),
    "/422": () => json(status(422, "Invalid", "spec.replicas: Invalid value: -1"), 422),
    "/429": () => json(status(429, "TooManyRequests", "slow down"), 429, { "retry-after": "7" }),
    "/503": () => new Response("upstream connect error", { status: 503 }),
    "/403-empty": () => new Response(null, { status: 403 }),
  };
  await withServer((req) => routes[new URL(req.url).pathname](), async (server) => {
    const conn = connection(server);
    const get = (path: string) => runError(conn, (kube) => kube.request({ method: "GET", path }));

    const notFound = await get("/404");
    assert.equal(notFound.status, 404);
    assert.equal(notFound.statusReason, "NotFound");
    assert.equal(notFound.message, 'deployments.apps "nope" not found');
    assert.equal(notFound.retryAfterSeconds, undefined);

    const conflict = await get("/conflict");
    assert.equal(conflict.status, 409);
    assert.equal(conflict.statusReason, "Conflict");
    const exists = await get("/exists");
    assert.equal(exists.status, 409);
    assert.equal(exists.statusReason, "AlreadyExists");

    const invalid = await get("/422");
    assert.equal(invalid.status, 422);
    assert.equal(invalid.statusReason, "Invalid");
    assert.equal(invalid.message, "spec.replicas: Invalid value: -1");

    const throttled = await get("/429");
    assert.equal(throttled.status, 429);
    assert.equal(throttled.retryAfterSeconds, 7);

    const down = await get("/503");
    assert.equal(down.status, 503);
    assert.equal(down.statusReason, "ServiceUnavailable");
    assert.ok(down.message.includes("upstream connect error"), down.message);

    const forbidden = await get("/403-empty");
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.statusReason, "Forbidden");
  });
  assert.equal(parseRetryAfter("12"), 12);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 0), 10);
  assert.equal(parseRetryAfter("soon"), undefined);
  assert.equal(parseRetryAfter(null), undefined);
});

Deno.test("http: a 401 re-reads credentials and retries once", async () => {
  await withServer(
    (req) =>
      req.headers.get("authorization") === "Bearer fresh"
        ? json({ ok: true })
        : json(status(401, "Unauthorized", "Unauthorized"), 401),
    async (server, seen) => {
      let token = "stale";
      let invalidated = 0;
      const conn = connection(server, {
        auth: () => Promise.resolve({ Authorization: `Bearer ${token}` }),
        invalidate: () => {
          invalidated++;
          token = "fresh";
        },
      });
      assert.deepEqual(await run(conn, (kube) => kube.request({ method: "GET", path: "/x" })), { ok: true });
      assert.equal(invalidated, 1);
      assert.deepEqual(seen.map((s) => s.headers.get("authorization")), ["Bearer stale", "Bearer fresh"]);

      // Still refused after the retry: the 401 is reported.
      const never = connection(server, { invalidate: () => invalidated++ });
      const e = await runError(never, (kube) => kube.request({ method: "GET", path: "/x" }));
      assert.equal(e.status, 401);
      assert.equal(e.statusReason, "Unauthorized");
      assert.equal(seen.length, 4);
    },
  );
});

Deno.test("http: connection refused and credential failures are status 0 errors", async () => {
  const server = `http://127.0.0.1:${freePort()}`;
  const e = await runError(connection(server), (kube) => kube.request({ method: "GET", path: "/api" }));
  assert.equal(e.status, undefined);
  assert.equal(e.statusReason, "Connection");
  assert.ok(e.message.includes(server), e.message);
  assert.ok(/refused/i.test(e.message), e.message);

  const broken = connection(server, { auth: () => Promise.reject(new Error("plugin exploded")) });
  const c = await runError(broken, (kube) => kube.request({ method: "GET", path: "/api" }));
  assert.equal(c.status, undefined);
  assert.equal(c.statusReason, "Credentials");
  assert.ok(c.message.includes("plugin exploded"), c.message);
});

Deno.test("http: a request without an answer within the timeout fails with reason Timeout", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const fallback = setTimeout(() => release(), 3_000);
  await withServer(async () => {
    await released;
    return json({});
  }, async (server) => {
    const started = Date.now();
    const e = await runError(
      connection(server),
      (kube) => kube.request({ method: "GET", path: "/slow" }),
      { timeoutMs: 200 },
    );
    const elapsed = Date.now() - started;
    release();
    clearTimeout(fallback);
    assert.equal(e.status, undefined);
    assert.equal(e.statusReason, "Timeout");
    assert.ok(e.message.includes("/slow"), e.message);
    assert.ok(elapsed >= 180 && elapsed < 2_000, `timed out after ${elapsed} ms`);
  });
});

Deno.test("http: interrupting a request aborts it", async () => {
  let cancelled!: () => void;
  const wasCancelled = new Promise<void>((r) => (cancelled = r));
  let end!: () => void;
  const held = new Promise<void>((r) => (end = r));
  await withServer(
    () => new Response(chunked(['{"kind":'], { hold: held, onCancel: () => cancelled() })),
    async (server) => {
      const out = await run(
        connection(server),
        (kube) =>
          kube.request({ method: "GET", path: "/hang" }).pipe(
            Effect.timeoutOrElse({ duration: "100 millis", orElse: () => Effect.succeed("gave up") }),
          ),
      );
      assert.equal(out, "gave up");
      await within(wasCancelled, 2_000, "the server never saw the abort").finally(end);
    },
  );
});

// ---------------------------------------------------------------------------
// Watch and lines
// ---------------------------------------------------------------------------

const ev = (type: string, name: string, rv: string) =>
  JSON.stringify({ type, object: { kind: "Deployment", metadata: { name, resourceVersion: rv } } });

Deno.test("http: watch parses events split across chunks and ends when the server closes", async () => {
  const body = `${ev("ADDED", "a", "6")}\n${ev("MODIFIED", "a", "7")}\r\n\n${ev("BOOKMARK", "", "8")}\n${
    ev("DELETED", "a", "9")
  }`;
  // Cut mid-event, between \r and \n, inside the two bytes of "ä", and just before the end.
  const bytes = new TextEncoder().encode(body.replace('"a"', '"ä"'));
  const points = [10, bytes.indexOf(0x0d) + 1, bytes.indexOf(0xc3) + 1, bytes.length - 3].sort((a, b) =>
    a - b
  );
  assert.equal(new Set(points).size, 4);
  await withServer(() => {
    let prev = 0;
    const parts: Uint8Array[] = [];
    for (const p of points) {
      parts.push(bytes.slice(prev, p));
      prev = p;
    }
    parts.push(bytes.slice(prev));
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        for (const part of parts) {
          c.enqueue(part);
          await new Promise((r) => setTimeout(r, 10));
        }
        c.close();
      },
    });
    return new Response(stream, { headers: { "content-type": "application/json" } });
  }, async (server, seen) => {
    const events = await run(connection(server), (kube) =>
      Stream.runCollect(
        kube.watch<{ metadata: { name: string; resourceVersion: string } }>(
          "/apis/apps/v1/namespaces/fn/deployments",
          {
            resourceVersion: "5",
            labelSelector: "faas_function",
            allowWatchBookmarks: "true",
            fieldSelector: undefined,
          },
        ),
      ));
    assert.deepEqual(
      Array.from(events).map((e) =>
        `${e.type}:${e.object.metadata.name}:${e.object.metadata.resourceVersion}`
      ),
      ["ADDED:ä:6", "MODIFIED:a:7", "BOOKMARK::8", "DELETED:a:9"],
    );
    const q = seen[0].url.searchParams;
    assert.equal(q.get("watch"), "true");
    assert.equal(q.get("resourceVersion"), "5");
    assert.equal(q.get("labelSelector"), "faas_function");
    assert.equal(q.get("allowWatchBookmarks"), "true");
    assert.equal(q.has("fieldSelector"), false);
    const timeout = Number(q.get("timeoutSeconds"));
    assert.ok(timeout >= 300 && timeout < 600, `timeoutSeconds=${q.get("timeoutSeconds")}`);
    assert.equal(seen[0].headers.get("authorization"), "Bearer t0k3n");
  });
});

Deno.test("http: a watch ERROR event fails the stream with its Status (410 Expired, 500)", async () => {
  const gone = JSON.stringify({
    type: "ERROR",
    object: status(410, "Expired", "too old resource version: 5 (120)"),
  });
  const failure = JSON.stringify({ type: "ERROR", object: status(500, "InternalError", "etcd hiccup") });
  await withServer(
    (req) =>
      new Response(
        chunked(
          new URL(req.url).pathname === "/gone"
            ? [
              `${ev("ADDED", "a", "6")}\n${gone.slice(0, 20)}`,
              `${gone.slice(20)}\n`,
              `${ev("ADDED", "b", "7")}\n`,
            ]
            : [`${failure}\n`],
        ),
      ),
    async (server) => {
      const received: string[] = [];
      const e = await runError(
        connection(server),
        (kube) =>
          kube.watch<{ metadata: { name: string } }>("/gone", { timeoutSeconds: "30" }).pipe(
            Stream.runForEach((event) =>
              Effect.sync(() => received.push(`${event.type}:${event.object.metadata.name}`))
            ),
          ),
      );
      assert.deepEqual(received, ["ADDED:a"]);
      assert.equal(e.status, 410);
      assert.equal(e.statusReason, "Expired");
      assert.equal(e.message, "too old resource version: 5 (120)");

      // Any other ERROR event fails the watch with its own Status.
      const other = await runError(connection(server), (kube) => Stream.runDrain(kube.watch("/other")));
      assert.equal(other.status, 500);
      assert.equal(other.statusReason, "InternalError");
      assert.equal(other.message, "etcd hiccup");
    },
  );
});

Deno.test("http: a watch refused with a Status fails; a non-JSON line fails", async () => {
  await withServer(
    (req) =>
      new URL(req.url).pathname === "/forbidden"
        ? json(status(403, "Forbidden", 'deployments.apps is forbidden: User "x" cannot watch'), 403)
        : new Response(chunked([`${ev("ADDED", "a", "1")}\n`, "<html>oops</html>\n"])),
    async (server) => {
      const e = await runError(connection(server), (kube) => Stream.runDrain(kube.watch("/forbidden")));
      assert.equal(e.status, 403);
      assert.equal(e.statusReason, "Forbidden");
      assert.ok(e.message.includes("cannot watch"));
      const bad = await runError(connection(server), (kube) => Stream.runDrain(kube.watch("/garbage")));
      assert.equal(bad.status, undefined);
      assert.ok(bad.message.includes("<html>oops</html>"), bad.message);
    },
  );
});

Deno.test("http: interrupting a watch aborts the request", async () => {
  let cancelled!: () => void;
  const wasCancelled = new Promise<void>((r) => (cancelled = r));
  let end!: () => void;
  const held = new Promise<void>((r) => (end = r));
  await withServer(
    () => new Response(chunked([`${ev("ADDED", "a", "1")}\n`], { hold: held, onCancel: () => cancelled() })),
    async (server) => {
      const first = await run(
        connection(server),
        (kube) => Stream.runCollect(Stream.take(kube.watch("/w"), 1)),
      );
      assert.equal(Array.from(first).length, 1);
      await within(wasCancelled, 2_000, "the server never saw the abort").finally(end);
    },
  );
});

Deno.test("http: lines streams a text body line by line as it arrives", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await withServer(
    (req) =>
      new URL(req.url).searchParams.get("follow") === "true"
        ? new Response(chunked(["first line\nsec", "ond line\r\n", "\n"], { hold: held }), {
          headers: { "content-type": "text/plain" },
        })
        : new Response(chunked(["a\nb\n", "no newline at the end"]), {
          headers: { "content-type": "text/plain" },
        }),
    async (server, seen) => {
      // The first lines arrive while the server still holds the stream open.
      const early = await run(connection(server), (kube) =>
        Stream.runCollect(
          Stream.take(
            kube.lines("/api/v1/namespaces/fn/pods/env-1/log", { follow: "true", tailLines: "10" }),
            2,
          ),
        ));
      assert.deepEqual(Array.from(early), ["first line", "second line"]);
      release();
      assert.equal(seen[0].url.searchParams.get("tailLines"), "10");
      assert.equal(seen[0].headers.get("authorization"), "Bearer t0k3n");

      const all = await run(connection(server), (kube) => Stream.runCollect(kube.lines("/log")));
      assert.deepEqual(Array.from(all), ["a", "b", "no newline at the end"]);
    },
  );
});

Deno.test("http: lines reports a missing pod as a 404 KubeError", async () => {
  await withServer(() => json(status(404, "NotFound", 'pods "x" not found'), 404), async (server) => {
    const e = await runError(
      connection(server),
      (kube) => Stream.runDrain(kube.lines("/api/v1/namespaces/fn/pods/x/log")),
    );
    assert.equal(e.status, 404);
    assert.equal(e.message, 'pods "x" not found');
  });
});

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

Deno.test("https: the CA from the connection verifies the server; an unknown CA fails", async () => {
  await withServer(() => json({ kind: "APIVersions" }), async (server) => {
    const ok = await run(
      connection(server, { caCert: CA_CRT }),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.deepEqual(ok, { kind: "APIVersions" });

    const localhost = server.replace("127.0.0.1", "localhost");
    const byName = await run(
      connection(localhost, { caCert: CA_CRT }),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.deepEqual(byName, { kind: "APIVersions" });

    const wrong = await runError(
      connection(server, { caCert: OTHER_CA_CRT }),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.equal(wrong.status, undefined);
    assert.equal(wrong.statusReason, "Connection");
    assert.ok(/certificate|issuer/i.test(wrong.message), wrong.message);

    const none = await runError(connection(server), (kube) => kube.request({ method: "GET", path: "/api" }));
    assert.equal(none.status, undefined);
  }, { cert: SERVER_CRT, key: SERVER_KEY });
});

Deno.test("https: tls-server-name verifies the certificate against that name, over node:https", async () => {
  let watchCancelled = false;
  await withServer((req) => {
    const url = new URL(req.url);
    if (url.searchParams.get("watch") === "true") {
      const ev = (name: string) => JSON.stringify({ type: "ADDED", object: { metadata: { name } } }) + "\n";
      return new Response(
        chunked([ev("a"), ev("b")], { hold: new Promise(() => {}), onCancel: () => (watchCancelled = true) }),
        {
          headers: { "content-type": "application/json" },
        },
      );
    }
    if (url.pathname.endsWith("/log")) {
      return new Response(chunked(["one\ntw", "o\n"]), { headers: { "content-type": "text/plain" } });
    }
    if (url.pathname === "/missing") return json(status(404, "NotFound", "nope"), 404);
    return json({ kind: "APIVersions", method: req.method });
  }, async (server, seen) => {
    // The certificate names kube.test only: Deno's fetch to 127.0.0.1 refuses it.
    const byIp = await runError(
      connection(server, { caCert: NAMED_CA_CRT }),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.equal(byIp.statusReason, "Connection");

    const named = connection(server, { caCert: NAMED_CA_CRT, tlsServerName: "kube.test" });
    assert.deepEqual(await run(named, (kube) => kube.request({ method: "GET", path: "/api" })), {
      kind: "APIVersions",
      method: "GET",
    });
    assert.deepEqual(
      await run(named, (kube) => kube.request({ method: "POST", path: "/api", body: { x: "ü" } })),
      { kind: "APIVersions", method: "POST" },
    );
    assert.equal(seen.at(-1)!.body, JSON.stringify({ x: "ü" }));
    assert.equal(seen.at(-1)!.headers.get("authorization"), "Bearer t0k3n");
    const missing = await runError(named, (kube) => kube.request({ method: "GET", path: "/missing" }));
    assert.equal(missing.status, 404);
    assert.equal(missing.message, "nope");
    // Streams: a watch read as it arrives (and aborted when the stream is interrupted), and log lines.
    const events = await run(
      named,
      (kube) => Stream.runCollect(Stream.take(kube.watch<{ metadata: { name: string } }>("/api/v1/pods"), 2)),
    );
    assert.deepEqual(Array.from(events).map((e) => e.object.metadata.name), ["a", "b"]);
    await within(
      (async () => {
        while (!watchCancelled) await new Promise((r) => setTimeout(r, 10));
      })(),
      5_000,
      "the watch was not aborted",
    );
    assert.deepEqual(
      Array.from(
        await run(named, (kube) => Stream.runCollect(kube.lines("/api/v1/namespaces/fn/pods/x/log"))),
      ),
      ["one", "two"],
    );

    const wrongName = await runError(
      connection(server, { caCert: NAMED_CA_CRT, tlsServerName: "other.test" }),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.equal(wrongName.statusReason, "Connection");
    assert.match(wrongName.message, /tls-server-name other\.test/);
    // Without a CA, node:https wants the system store, which the test (like the provider) may not read.
    const noCa = await runError(
      connection(server, { tlsServerName: "kube.test" }),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.equal(noCa.statusReason, "Connection");
    assert.ok(/certificate-authority|issuer|certificate/.test(noCa.message), noCa.message);
    const wrongCa = await runError(
      connection(server, { caCert: CA_CRT, tlsServerName: "kube.test" }),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.equal(wrongCa.statusReason, "Connection");
  }, { cert: NAMED_SERVER_CRT, key: NAMED_SERVER_KEY });
});

Deno.test("https: insecure-skip-tls-verify accepts a certificate no CA or name vouches for", async () => {
  await withServer(() => json({ kind: "APIVersions" }), async (server) => {
    const strict = await runError(
      connection(server),
      (kube) => kube.request({ method: "GET", path: "/api" }),
    );
    assert.equal(strict.statusReason, "Connection");
    const insecure = connection(server, { insecureSkipTlsVerify: true });
    assert.deepEqual(await run(insecure, (kube) => kube.request({ method: "GET", path: "/api" })), {
      kind: "APIVersions",
    });
  }, { cert: NAMED_SERVER_CRT, key: NAMED_SERVER_KEY });
});

const canRunOpenssl =
  (await Deno.permissions.query({ name: "run", command: "openssl" })).state === "granted" &&
  await new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" }).output().then(
    (o) => o.success,
    () => false,
  );

/** `openssl s_server` that requires a client certificate signed by the test CA and answers GETs with a status page. */
async function withMutualTlsServer(fn: (server: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mtls_test_" });
  const files = { "ca.crt": CA_CRT, "server.crt": SERVER_CRT, "server.key": SERVER_KEY };
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${name}`, text);
  const proc = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      "127.0.0.1:0",
      "-cert",
      `${dir}/server.crt`,
      "-key",
      `${dir}/server.key`,
      "-CAfile",
      `${dir}/ca.crt`,
      "-Verify",
      "1",
      "-www",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let out = "";
    let port: string | undefined;
    while (port === undefined) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`openssl s_server did not start: ${out}`);
      out += value;
      port = /ACCEPT .*:(\d+)/.exec(out)?.[1];
    }
    await fn(`https://127.0.0.1:${port}`);
  } finally {
    proc.kill("SIGTERM");
    await reader.cancel().catch(() => {});
    await proc.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "https: client certificates, static and from a credential plugin (needs openssl and --allow-run)",
  ignore: !canRunOpenssl,
  fn: () =>
    withMutualTlsServer(async (server) => {
      const page = await run(
        connection(server, { caCert: CA_CRT, clientCert: CLIENT_CRT, clientKey: CLIENT_KEY }),
        (kube) => Stream.runCollect(kube.lines("/")),
      );
      assert.ok(Array.from(page).some((l) => l.includes("Cipher")), Array.from(page).join("\n"));

      let calls = 0;
      const dynamic = await run(
        connection(server, {
          caCert: CA_CRT,
          clientCertificate: () => {
            calls++;
            return Promise.resolve({ cert: CLIENT_CRT, key: CLIENT_KEY });
          },
        }),
        (kube) => Stream.runCollect(kube.lines("/")),
      );
      assert.ok(Array.from(dynamic).length > 0);
      assert.ok(calls >= 1);

      const refused = await runError(
        connection(server, { caCert: CA_CRT }),
        (kube) => Stream.runDrain(kube.lines("/")),
      );
      assert.equal(refused.status, undefined);
      assert.equal(refused.statusReason, "Connection");
    }),
});
