/**
 * Request behaviour of the simulated images (sim/images/runtime.ts and friends),
 * driven through `handle` with a fake virtual-time scheduler.
 */
import assert from "node:assert/strict";
import fc, { runs } from "../../support/fc.ts";
import { ImageCatalog, type SimImage } from "../../../sim/images/catalog.ts";
import { type ContainerContext, ContainerUnreachableError } from "../../../sim/images/context.ts";
import { containerEnvironment, handle, startupLog } from "../../../sim/images/runtime.ts";
import { goDurationString, humanSize } from "../../../sim/images/context.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Virtual time: `sleep` registers a timer; `drive` fires timers in order until a promise settles. */
class FakeClock {
  now = 0;
  private seq = 0;
  private timers: { at: number; seq: number; fire: () => void }[] = [];

  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = { at: this.now + Math.max(0, ms), seq: this.seq++, fire: resolve };
      this.timers.push(timer);
      signal?.addEventListener("abort", () => {
        this.timers = this.timers.filter((t) => t !== timer);
        resolve();
      }, { once: true });
    });

  get pending(): number {
    return this.timers.length;
  }

  async drive<T>(p: Promise<T>): Promise<T> {
    let settled = false;
    p.then(() => settled = true, () => settled = true);
    for (let idle = 0;;) {
      await new Promise((r) => setTimeout(r, 0));
      if (settled) return p;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) {
        if (++idle > 50) throw new Error("pending promise with nothing scheduled");
        continue;
      }
      idle = 0;
      this.now = next.at;
      next.fire();
    }
  }
}

const catalog = new ImageCatalog();
const img = (ref: string): SimImage => {
  const i = catalog.lookup(ref);
  assert.ok(i, `catalog has ${ref}`);
  return i;
};
const alpine = img("functions/alpine:latest");
const echo = img("ghcr.io/openfaas/of-echo:latest");
const redirector = img("theaxer/redirector");

const secretFiles = new Map([["/var/openfaas/secrets/x", encoder.encode("s3cr3t-value")]]);

function container(env: Record<string, string>, files: ReadonlyMap<string, Uint8Array> = new Map()) {
  const clock = new FakeClock();
  clock.now = Date.UTC(2024, 0, 2, 3, 4, 5);
  const logs: string[] = [];
  const ctx: ContainerContext = {
    podName: "fn-7d9c5b6f4-x2x9q",
    namespace: "openfaas-fn",
    functionName: "fn",
    env,
    files,
    now: () => clock.now,
    sleep: clock.sleep,
    log: (line) => logs.push(line),
  };
  return { ctx, clock, logs };
}

const podUrl = (path = "/", query = "") => `http://10.244.1.7:8080${path}${query ? `?${query}` : ""}`;

async function call(
  image: SimImage,
  env: Record<string, string>,
  init: RequestInit & { url?: string } = {},
  files?: ReadonlyMap<string, Uint8Array>,
) {
  const c = container(env, files);
  const start = c.clock.now;
  const res = await c.clock.drive(handle(image, c.ctx, new Request(init.url ?? podUrl(), init)));
  const body = new Uint8Array(await res.arrayBuffer());
  return { ...c, res, body, text: decoder.decode(body), elapsed: c.clock.now - start };
}

const lines = (s: string) => s.split("\n");
const withoutPrefix = (logs: string[]) =>
  logs.map((l) => {
    const m = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (.*)$/s.exec(l);
    assert.ok(m, `Go log prefix on ${JSON.stringify(l)}`);
    return m[1];
  });

/** Deterministic pseudo-random bytes covering every byte value. */
const bytes = (n: number) => {
  const out = new Uint8Array(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i < 256 ? i : x >>> 24;
  }
  return out;
};

// ---------------------------------------------------------------------------
// Classic watchdog

Deno.test("watchdog: every verb the watchdog accepts reaches an env function as Http_Method", async () => {
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
    const body = method === "GET" ? undefined : "payload";
    const r = await call(alpine, { fprocess: "env" }, { method, body });
    assert.equal(r.res.status, 200, method);
    const env = lines(r.text);
    assert.ok(env.includes(`Http_Method=${method}`), `${method}: ${r.text}`);
    assert.equal(env.filter((l) => l.startsWith("Http_Method=")).length, 1);
  }
});

Deno.test("watchdog: other methods get 405 without forking", async () => {
  for (const method of ["OPTIONS", "HEAD"]) {
    const r = await call(alpine, { fprocess: "env" }, { method });
    assert.equal(r.res.status, 405, method);
    assert.equal(r.logs.length, 0);
  }
});

Deno.test("watchdog: query, path, host, headers and container env are visible to the process", async () => {
  const r = await call(alpine, { fprocess: "env", greeting: "hi there" }, {
    url: podUrl("/some/path", "x=1&y=two"),
    method: "POST",
    body: "hello",
    headers: { "X-Call-Id": "abc-123", "User-Agent": "curl/8.0", "content-type": "text/plain" },
  });
  const env = lines(r.text);
  for (
    const expected of [
      "Http_Query=x=1&y=two",
      "Http_Path=/some/path",
      "Http_Host=10.244.1.7:8080",
      "Http_X_Call_Id=abc-123",
      "Http_User_Agent=curl/8.0",
      "Http_Content_Type=text/plain",
      "Http_Content_Length=5",
      "Http_ContentLength=5",
      "fprocess=env",
      "greeting=hi there",
      "HOSTNAME=fn-7d9c5b6f4-x2x9q",
    ]
  ) assert.ok(env.includes(expected), `${expected} in\n${r.text}`);
  // container env comes before the request's variables
  assert.ok(env.indexOf("greeting=hi there") < env.indexOf("Http_Method=POST"));

  const noQuery = await call(alpine, { fprocess: "env" }, { url: podUrl("/p") });
  assert.ok(!noQuery.text.includes("Http_Query="), noQuery.text);
  assert.ok(lines(noQuery.text).includes("Http_Path=/p"));
});

Deno.test("watchdog: cgi_headers=false hides the Http_ variables", async () => {
  const r = await call(alpine, { fprocess: "env", cgi_headers: "false" }, { method: "POST", body: "x" });
  assert.equal(r.res.status, 200);
  assert.ok(!r.text.includes("Http_"), r.text);
  assert.ok(lines(r.text).includes("fprocess=env"));
});

Deno.test("watchdog: echo and printenv expand variables", async () => {
  const r = await call(alpine, { fprocess: 'echo "$Http_Method $Http_Path" ${Http_Query}' }, {
    url: podUrl("/a/b", "q=1"),
    method: "PUT",
    body: "",
  });
  assert.equal(r.text, "PUT /a/b q=1\n");
  const p = await call(alpine, { fprocess: "printenv Http_X_Api_Key" }, { headers: { "x-api-key": "k1" } });
  assert.equal(p.text, "k1\n");
});

Deno.test("watchdog: cat echoes a 256 KiB binary body byte-exact", async () => {
  const body = bytes(256 * 1024);
  const r = await call(alpine, { fprocess: "cat" }, {
    method: "POST",
    body,
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(r.res.status, 200);
  assert.equal(r.body.length, body.length);
  assert.deepEqual(r.body, body);
  assert.equal(r.res.headers.get("content-type"), "application/octet-stream");
});

Deno.test("watchdog: sha512sum prints the real SHA-512 in coreutils format", async () => {
  const body = bytes(100_003);
  const expected = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-512", body)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.equal(expected.length, 128);
  const r = await call(alpine, { fprocess: "sha512sum" }, { method: "POST", body });
  assert.equal(r.res.status, 200);
  assert.equal(r.text, `${expected}  -\n`);
});

Deno.test("watchdog: cat of a mounted secret returns the file; a missing one fails with cat's message", async () => {
  const ok = await call(alpine, { fprocess: "cat /var/openfaas/secrets/x" }, {}, secretFiles);
  assert.equal(ok.res.status, 200);
  assert.equal(ok.text, "s3cr3t-value");

  const missing = await call(alpine, { fprocess: "cat /var/openfaas/secrets/nope" }, {}, secretFiles);
  assert.equal(missing.res.status, 500);
  assert.equal(missing.text, "exit status 1\ncat: /var/openfaas/secrets/nope: No such file or directory\n");
});

Deno.test("watchdog: non-zero exit answers 500 with the exit status and the output", async () => {
  const three = await call(alpine, { fprocess: "echo partial; exit 3" });
  assert.equal(three.res.status, 500);
  assert.equal(three.text, "exit status 3\npartial\n");

  const f = await call(alpine, { fprocess: "false" });
  assert.equal(f.res.status, 500);
  assert.equal(f.text, "exit status 1\n");

  const unknown = await call(alpine, { fprocess: "node index.js" });
  assert.equal(unknown.res.status, 500);
  assert.equal(unknown.text, "exit status 127\nsh: node: not found\n");

  // combine_output=false: only stdout in the body, stderr to the log
  const split = await call(alpine, { fprocess: "cat /nope", combine_output: "false" });
  assert.equal(split.res.status, 500);
  assert.equal(split.text, "exit status 1\n");
  assert.ok(
    withoutPrefix(split.logs).includes("stderr: cat: /nope: No such file or directory"),
    split.logs.join("\n"),
  );

  const none = await call(alpine, {});
  assert.equal(none.res.status, 500);
  assert.equal(none.text, "Missing fprocess");
});

Deno.test("watchdog: exec_timeout kills a slow process in virtual time (408 Killed process.)", async () => {
  const killed = await call(alpine, { fprocess: "sleep 5", exec_timeout: "1s" });
  assert.equal(killed.res.status, 408);
  assert.equal(killed.text, "Killed process.\n");
  assert.equal(killed.elapsed, 1000);
  assert.ok(withoutPrefix(killed.logs).includes("Killing process: sleep 5"));
  assert.equal(killed.clock.pending, 0, "the killed sleep released its timer");

  const bareSeconds = await call(alpine, { fprocess: "sleep 5", exec_timeout: "2" });
  assert.equal(bareSeconds.res.status, 408);
  assert.equal(bareSeconds.elapsed, 2000);

  const inTime = await call(alpine, { fprocess: "sleep 5; echo done", exec_timeout: "10s" });
  assert.equal(inTime.res.status, 200);
  assert.equal(inTime.text, "done\n");
  assert.equal(inTime.elapsed, 5000);
  assert.equal(inTime.clock.pending, 0, "the exec_timeout timer is cancelled");

  const noTimeout = await call(alpine, {
    fprocess: "sleep 100 && echo slept",
    exec_timeout: "0",
    write_timeout: "0",
  });
  assert.equal(noTimeout.res.status, 200);
  assert.equal(noTimeout.elapsed, 100_000);
});

Deno.test("watchdog: an answer ready after write_timeout never reaches the client (connection closed)", async () => {
  const late = await call(alpine, { fprocess: "sleep 3; echo late", write_timeout: "2s" }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(late instanceof Error, "the request fails instead of answering");
  assert.match(late.message, /i\/o timeout \(write_timeout 2s\)/);
  const inTime = await call(alpine, { fprocess: "sleep 1; echo early", write_timeout: "2s" });
  assert.equal(inTime.res.status, 200);
  assert.equal(inTime.text, "early\n");
  // The default write_timeout is 10 s: longer runs need it raised, as with the real watchdog.
  const defaulted = await call(alpine, { fprocess: "sleep 11" }).then(() => "answered", () => "closed");
  assert.equal(defaulted, "closed");
});

Deno.test("watchdog: log lines at start-up and per request", async () => {
  const { ctx } = container({ fprocess: "env", read_timeout: "65s" });
  const start = withoutPrefix(startupLog(alpine, ctx));
  assert.match(start[0], /^Version: \S+\tSHA: \S+$/);
  assert.ok(start.includes("Read/write timeout: 1m5s, 10s. Port: 8080"), start.join("\n"));
  assert.ok(start.includes("Writing lock-file to: /tmp/.lock"));
  assert.equal(startupLog(alpine, ctx)[0].slice(0, 20), "2024/01/02 03:04:05 ");

  const r = await call(alpine, { fprocess: "sleep 1.5; echo hi" });
  assert.deepEqual(withoutPrefix(r.logs), ["Forking fprocess.", "Wrote 3 Bytes - Duration: 1.500000s"]);
  assert.equal(r.res.headers.get("x-duration-seconds"), "1.500000");

  const { ctx: missing } = container({});
  assert.ok(
    withoutPrefix(startupLog(alpine, missing)).includes(
      "Provide a valid process via fprocess environmental variable.",
    ),
  );
});

Deno.test("watchdog: /_/health answers OK without forking", async () => {
  const r = await call(alpine, { fprocess: "env" }, { url: podUrl("/_/health") });
  assert.equal(r.res.status, 200);
  assert.equal(r.text, "OK");
  assert.equal(r.logs.length, 0);
  const post = await call(alpine, { fprocess: "env" }, {
    url: podUrl("/_/health"),
    method: "POST",
    body: "",
  });
  assert.equal(post.res.status, 405);
});

Deno.test("watchdog: Content-Type from content_type, else the request's, else sniffed", async () => {
  const forced = await call(alpine, { fprocess: "cat", content_type: "application/json" }, {
    method: "POST",
    body: "{}",
    headers: { "content-type": "text/csv" },
  });
  assert.equal(forced.res.headers.get("content-type"), "application/json");
  const mirrored = await call(alpine, { fprocess: "cat" }, {
    method: "POST",
    body: "a,b",
    headers: { "content-type": "text/csv" },
  });
  assert.equal(mirrored.res.headers.get("content-type"), "text/csv");
  const sniffed = await call(alpine, { fprocess: "echo hi" });
  assert.equal(sniffed.res.headers.get("content-type"), "text/plain; charset=utf-8");
  const html = await call(alpine, { fprocess: "echo '<html><body>x</body></html>'" });
  assert.equal(html.res.headers.get("content-type"), "text/html; charset=utf-8");
});

Deno.test("property: cat echoes any body exactly and wc -c prints its length", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (body) => {
      const cat = await call(alpine, { fprocess: "cat" }, { method: "POST", body });
      assert.equal(cat.res.status, 200);
      assert.deepEqual(cat.body, body);
      const wc = await call(alpine, { fprocess: "wc -c" }, { method: "POST", body });
      assert.equal(wc.text, `${body.length}\n`);
    }),
    { numRuns: runs(60) },
  );
});

// ---------------------------------------------------------------------------
// http-echo, redirector, non-serving images

Deno.test("http-echo: echoes method, path, query, headers and body as JSON", async () => {
  const r = await call(echo, {}, {
    url: podUrl("/x/y", "a=1"),
    method: "PATCH",
    body: "héllo",
    headers: { "x-trace": "t1" },
  });
  assert.equal(r.res.status, 200);
  assert.equal(r.res.headers.get("content-type"), "application/json");
  const j = JSON.parse(r.text);
  assert.equal(j.method, "PATCH");
  assert.equal(j.path, "/x/y");
  assert.equal(j.query, "a=1");
  assert.equal(j.headers["x-trace"], "t1");
  assert.equal(j.body, "héllo");
  assert.equal(j.bodyLength, 6);
  assert.equal(atob(j.bodyBase64), String.fromCharCode(...encoder.encode("héllo")));
  assert.equal(j.pod, "fn-7d9c5b6f4-x2x9q");
  assert.ok(r.body.length > 100 && r.body.length < 1000);
  assert.deepEqual(withoutPrefix(r.logs), [
    `PATCH /x/y?a=1 - 200 OK - ContentLength: ${r.body.length}B (0.0000s)`,
  ]);
});

Deno.test("http-echo: SSE events arrive as separate chunks spaced in virtual time", async () => {
  const c = container({});
  const res = await c.clock.drive(handle(
    echo,
    c.ctx,
    new Request(podUrl("/stream", "n=4&interval=250"), { headers: { accept: "text/event-stream" } }),
  ));
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.getReader();
  const t0 = c.clock.now;
  const chunks: { text: string; at: number }[] = [];
  for (;;) {
    const { value, done } = await c.clock.drive(reader.read());
    if (done) break;
    chunks.push({ text: decoder.decode(value), at: c.clock.now - t0 });
  }
  assert.equal(chunks.length, 4);
  chunks.forEach((ch, i) => {
    const m = /^id: (\d+)\ndata: (.*)\n\n$/.exec(ch.text);
    assert.ok(m, `one whole event per chunk: ${JSON.stringify(ch.text)}`);
    assert.equal(Number(m[1]), i + 1);
    assert.equal(JSON.parse(m[2]).n, i + 1);
  });
  assert.deepEqual(chunks.map((ch) => ch.at), [0, 250, 500, 750]);
  assert.ok(
    withoutPrefix(c.logs).includes("GET /stream?n=4&interval=250 - 200 OK - ContentLength: -1B (0.7500s)"),
  );
});

Deno.test("http-echo: NDJSON streams default to 3 lines 100 ms apart; cancel stops the stream", async () => {
  const c = container({});
  const res = await c.clock.drive(
    handle(echo, c.ctx, new Request(podUrl("/"), { headers: { accept: "application/x-ndjson" } })),
  );
  const text = await c.clock.drive(res.text());
  const objs = text.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(objs.map((o) => o.n), [1, 2, 3]);
  assert.equal(objs[2].time - objs[0].time, 200);

  const c2 = container({});
  const res2 = await c2.clock.drive(
    handle(echo, c2.ctx, new Request(podUrl("/", "n=100"), { headers: { accept: "application/x-ndjson" } })),
  );
  const reader = res2.body!.getReader();
  await c2.clock.drive(reader.read());
  const pendingRead = reader.read();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(c2.clock.pending, 1);
  await reader.cancel();
  await pendingRead;
  assert.equal(c2.clock.pending, 0);
});

Deno.test("redirector: 302 to $destination with an empty body", async () => {
  const r = await call(redirector, { destination: "https://www.openfaas.com/" }, {
    url: podUrl("/anything"),
  });
  assert.equal(r.res.status, 302);
  assert.equal(r.res.headers.get("location"), "https://www.openfaas.com/");
  assert.equal(r.body.length, 0);
  const unset = await call(redirector, {});
  assert.equal(unset.res.status, 500);
});

Deno.test("helpers: Go duration strings and go-units sizes", () => {
  assert.equal(goDurationString(10_000), "10s");
  assert.equal(goDurationString(65_000), "1m5s");
  assert.equal(goDurationString(1_500), "1.5s");
  assert.equal(goDurationString(500), "500ms");
  assert.equal(goDurationString(3_600_000), "1h0m0s");
  assert.equal(goDurationString(0), "0s");
  assert.equal(humanSize(335), "335B");
  assert.equal(humanSize(1024), "1.024kB");
  assert.equal(humanSize(-1), "-1B");
});

Deno.test("containerEnvironment: a container spec's env in order, later duplicates winning", () => {
  const env = containerEnvironment({
    env: [
      { name: "fprocess", value: "env" },
      { name: "a", value: "1" },
      { name: "fprocess", value: "cat" },
      { name: "b" },
      { name: "ref", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } } as { name: string },
    ],
  });
  assert.deepEqual(Object.entries(env), [["a", "1"], ["fprocess", "cat"], ["b", ""]]);
});

Deno.test("crash and hang images refuse connections", async () => {
  for (const ref of ["sim/crashloop", "sim/hang"]) {
    const c = container({});
    await assert.rejects(handle(img(ref), c.ctx, new Request(podUrl())), ContainerUnreachableError);
    assert.ok(startupLog(img(ref), c.ctx).length > 0);
  }
});
