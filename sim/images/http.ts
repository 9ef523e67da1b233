/**
 * HTTP-serving images that do not fork a process per request.
 *
 * "http-echo" (an of-watchdog in HTTP mode in front of an echo server):
 * - `GET /_/health` -> 200 `OK`.
 * - By default answers 200 `application/json` with one object:
 *   `{ method, path, query, headers, body, bodyBase64, bodyLength, pod, namespace, function }`
 *   where `path` is the URL path, `query` the raw query without `?` (`""` when
 *   none), `headers` the request headers as a lower-case name -> value object,
 *   `body` the body decoded as UTF-8 (invalid bytes become U+FFFD) and
 *   `bodyBase64` the exact bytes.
 * - Streaming: when `Accept` includes `text/event-stream` it answers an SSE
 *   stream of `n` events (query `n`, default 3) spaced by `interval` ms (query,
 *   default 100) of `ctx.sleep`: the first event at once, each as its own chunk:
 *   `id: <i>\ndata: {"n":<i>,"time":<ms>,"pod":"<pod>"}\n\n` (i from 1). With
 *   `Accept: application/x-ndjson` the same objects come as NDJSON lines. The
 *   stream is produced on demand (a chunk is made when the reader asks) and
 *   cancelling it stops the sleeps.
 * - Logs like of-watchdog: `GET /path - 200 OK - ContentLength: 335B (0.0012s)`
 *   (not for `User-Agent: kube-probe/...`; `-1B` for streams, logged at the end).
 *
 * "redirector": 302 with `Location: $destination` and an empty body for every
 * path but `/_/health`; without `destination` it answers 500 `destination not set`
 * (a simulator choice).
 */
import type { SimImage } from "./catalog.ts";
import { type ContainerContext, goLog, humanSize, readBody, statusLine } from "./context.ts";
import { encodeBase64 } from "../../src/lib/base64.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const ofWatchdogVersion = "0.10.7";

const requestUri = (url: URL) => url.pathname + url.search;

const accessLog = (ctx: ContainerContext, req: Request, status: number, length: number, start: number) => {
  if (req.headers.get("user-agent")?.startsWith("kube-probe")) return;
  const seconds = ((ctx.now() - start) / 1000).toFixed(4);
  ctx.log(
    goLog(
      ctx,
      `${req.method} ${requestUri(new URL(req.url))} - ${statusLine(status)} - ContentLength: ${
        humanSize(length)
      } (${seconds}s)`,
    ),
  );
};

export function echoStartupLog(_image: SimImage, ctx: ContainerContext): string[] {
  const fprocess = ctx.env.fprocess || "./echo";
  const [cmd, ...args] = fprocess.split(" ");
  return [
    `Version: ${ofWatchdogVersion}\tSHA: sim`,
    `Forking: ${cmd}, arguments: [${args.join(" ")}]`,
    "Started logging: stderr from function.",
    "Started logging: stdout from function.",
    `Watchdog mode: http\tfprocess: "${fprocess}"`,
    "Timeouts: read: 10s write: 10s hard: 10s health: 10s",
    "Listening on port: 8080",
    "Writing lock-file to: /tmp/.lock",
    "Metrics listening on port: 8081",
  ].map((l) => goLog(ctx, l));
}

const queryInt = (url: URL, name: string, fallback: number, max: number) => {
  const v = url.searchParams.get(name);
  if (v === null || !/^\d+$/.test(v)) return fallback;
  return Math.min(Number(v), max);
};

function stream(
  ctx: ContainerContext,
  req: Request,
  url: URL,
  format: "sse" | "ndjson",
  start: number,
): Response {
  const n = queryInt(url, "n", 3, 100_000);
  const interval = queryInt(url, "interval", 100, 3_600_000);
  const stop = new AbortController();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= n) {
        controller.close();
        accessLog(ctx, req, 200, -1, start);
        return;
      }
      if (sent > 0) await ctx.sleep(interval, stop.signal);
      if (stop.signal.aborted) return;
      sent++;
      const data = JSON.stringify({ n: sent, time: ctx.now(), pod: ctx.podName });
      const chunk = encoder.encode(format === "sse" ? `id: ${sent}\ndata: ${data}\n\n` : `${data}\n`);
      controller.enqueue(chunk);
    },
    cancel() {
      stop.abort();
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": format === "sse" ? "text/event-stream" : "application/x-ndjson",
      "Cache-Control": "no-cache",
    },
  });
}

export async function handleEcho(_image: SimImage, ctx: ContainerContext, req: Request): Promise<Response> {
  const start = ctx.now();
  const url = new URL(req.url);
  if (url.pathname === "/_/health") return new Response("OK", { status: 200 });
  const accept = req.headers.get("accept") ?? "";
  if (accept.includes("text/event-stream")) return stream(ctx, req, url, "sse", start);
  if (accept.includes("application/x-ndjson")) return stream(ctx, req, url, "ndjson", start);
  const body = await readBody(req);
  const json = JSON.stringify({
    method: req.method,
    path: url.pathname,
    query: url.search.slice(1),
    headers: Object.fromEntries(req.headers),
    body: decoder.decode(body),
    bodyBase64: encodeBase64(body),
    bodyLength: body.length,
    pod: ctx.podName,
    namespace: ctx.namespace,
    function: ctx.functionName,
  });
  const out = encoder.encode(json);
  accessLog(ctx, req, 200, out.length, start);
  return new Response(out, { status: 200, headers: { "Content-Type": "application/json" } });
}

export function redirectorStartupLog(_image: SimImage, ctx: ContainerContext): string[] {
  return [goLog(ctx, `Redirecting to: ${ctx.env.destination ?? "(destination not set)"}`)];
}

export function handleRedirector(_image: SimImage, ctx: ContainerContext, req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/_/health") return Promise.resolve(new Response("OK", { status: 200 }));
  req.body?.cancel().catch(() => {});
  const destination = ctx.env.destination;
  if (!destination) {
    return Promise.resolve(
      new Response("destination not set", { status: 500, headers: { "Content-Type": "text/plain" } }),
    );
  }
  return Promise.resolve(new Response(null, { status: 302, headers: { Location: destination } }));
}
