/**
 * The classic OpenFaaS watchdog (openfaas/classic-watchdog, and the older
 * faas/watchdog in `functions/alpine`): forks `fprocess` per request with the
 * request body on stdin and CGI-style `Http_*` variables in its environment.
 *
 * Faithful to the Go source:
 * - `GET /_/health` answers 200 `OK` (other methods 405).
 * - Only GET, POST, PUT, PATCH and DELETE run the process; other methods get 405.
 * - Environment: the container's, then `Http_<Header>` per request header (Go's
 *   canonical header name with `-` -> `_`, e.g. `Http_X_Call_Id`,
 *   `Http_Content_Type`), then `Http_Method`, `Http_ContentLength`,
 *   `Http_Content_Length`, `Http_Transfer_Encoding` (if any), `Http_Query` (raw
 *   query, only when present), `Http_Path`, `Http_Host`. `cgi_headers=false`
 *   leaves only the container's environment.
 * - Non-zero exit: 500 with `exit status N` and a newline, followed by the
 *   process output (stdout and stderr interleaved, as `combine_output`
 *   defaults to true; with `combine_output=false` only stdout, and stderr goes
 *   to the log as `stderr: ...`).
 * - `exec_timeout` (seconds or Go duration, 0 = none) exceeded: the process is
 *   killed and the answer is **408** `Killed process.` (the Go source writes
 *   `http.StatusRequestTimeout`), logged as `Killing process: <fprocess>`.
 * - Success: 200 with the output, `Content-Type` from `content_type`, else the
 *   request's, else sniffed like Go's `http.DetectContentType`
 *   (`text/plain; charset=utf-8` for text); `X-Duration-Seconds`.
 * - Log lines via `ctx.log`, each with Go's `log` date prefix: `Forking
 *   fprocess.` before and `Wrote N Bytes - Duration: S.SSSSSSs` after a run.
 *
 * Simplification: the real watchdog splits `fprocess` on spaces and execs it
 * without a shell; here the command line goes through the mini shell
 * (`shell/`), so quoting, `$VAR` and pipelines work. `write_timeout` is Go's
 * server write deadline: an answer ready after it never reaches the client (the
 * connection is closed, which the proxy reports as 502). `read_timeout` only
 * appears in the start-up log; `max_inflight`, `marshal_request` and JWT auth
 * are not simulated.
 */
import { parseBool, parseDuration } from "../../src/domain/envvalues.ts";
import type { SimImage } from "./catalog.ts";
import {
  type ContainerContext,
  goDurationString,
  goFloat,
  goLog,
  processEnvironment,
  readBody,
} from "./context.ts";
import { runShell, type ShellResult } from "./shell/run.ts";

const watchdogVersion = "0.2.3";
const watchdogSha = "sim";

const decoder = new TextDecoder();
const runMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

/** Lines the watchdog prints when it starts. */
export function watchdogStartupLog(_image: SimImage, ctx: ContainerContext): string[] {
  const lines = [`Version: ${watchdogVersion}\tSHA: ${watchdogSha}`];
  if (!ctx.env.fprocess) {
    const msg = "Provide a valid process via fprocess environmental variable.";
    return [...lines, msg, `panic: ${msg}`].map((l) => goLog(ctx, l));
  }
  const read = parseDuration(ctx.env.read_timeout, 10_000);
  const write = parseDuration(ctx.env.write_timeout, 10_000);
  const port = ctx.env.port && /^\d+$/.test(ctx.env.port) ? ctx.env.port : "8080";
  lines.push(`Read/write timeout: ${goDurationString(read)}, ${goDurationString(write)}. Port: ${port}`);
  if (parseBool(ctx.env.suppress_lock, false)) {
    lines.push(
      'Warning: "suppress_lock" is enabled. No automated health-checks will be in place for your function.',
    );
  } else {
    lines.push("Writing lock-file to: /tmp/.lock");
  }
  return lines.map((l) => goLog(ctx, l));
}

/** Go's `textproto.CanonicalMIMEHeaderKey`: `x-call-id` -> `X-Call-Id`. */
const canonicalHeaderKey = (key: string): string => {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) return key;
  return key.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
};

/** The process environment for one request (see the module comment for the order). */
function requestEnvironment(
  ctx: ContainerContext,
  req: Request,
  bodyLength: number,
): Record<string, string> {
  const env = processEnvironment(ctx);
  if (!parseBool(ctx.env.cgi_headers, true)) return Object.fromEntries(env);
  const set = (k: string, v: string) => {
    env.delete(k);
    env.set(k, v);
  };
  const url = new URL(req.url);
  // Go moves Host and Transfer-Encoding out of the header map.
  const headers = [...req.headers]
    .filter(([k]) => k !== "host" && k !== "transfer-encoding")
    .map(([k, v]) => [canonicalHeaderKey(k), v] as const)
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  for (const [k, v] of headers) set(`Http_${k.replaceAll("-", "_")}`, v);
  set("Http_Method", req.method);
  const te = req.headers.get("transfer-encoding");
  const declared = req.headers.get("content-length");
  const contentLength = declared && /^\d+$/.test(declared)
    ? declared
    : te?.toLowerCase().includes("chunked")
    ? "-1"
    : String(bodyLength);
  set("Http_ContentLength", contentLength);
  set("Http_Content_Length", contentLength);
  if (te) set("Http_Transfer_Encoding", te.split(",")[0].trim());
  if (url.search.length > 1) set("Http_Query", url.search.slice(1));
  let path = url.pathname;
  try {
    path = decodeURIComponent(path);
  } catch { /* keep it encoded */ }
  if (path) set("Http_Path", path);
  set("Http_Host", req.headers.get("host") ?? url.host);
  return Object.fromEntries(env);
}

/** A small `http.DetectContentType`: the signatures that matter for function output. */
const detectContentType = (data: Uint8Array): string => {
  const head = data.subarray(0, 512);
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || (head[i] >= 0x09 && head[i] <= 0x0d))) i++;
  const text = decoder.decode(head.subarray(i, i + 16)).toLowerCase();
  if (
    /^(<!doctype html|<html|<head|<body|<script|<iframe|<h1|<div|<p|<table|<title|<a|<style|<br|<font|<b)[ >]/
      .test(text) || text.startsWith("<!--")
  ) {
    return "text/html; charset=utf-8";
  }
  if (text.startsWith("<?xml")) return "text/xml; charset=utf-8";
  const starts = (...sig: number[]) => sig.every((b, n) => head[n] === b);
  if (starts(0x25, 0x50, 0x44, 0x46, 0x2d)) return "application/pdf";
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (starts(0x1f, 0x8b, 0x08)) return "application/x-gzip";
  if (starts(0x50, 0x4b, 0x03, 0x04)) return "application/zip";
  for (const b of head) {
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) {
      return "application/octet-stream";
    }
  }
  return "text/plain; charset=utf-8";
};

const text = (status: number, body: string | Uint8Array | null, headers: Record<string, string> = {}) =>
  new Response(body as BodyInit | null, {
    status,
    headers: body === null ? headers : { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });

export async function handleWatchdog(
  _image: SimImage,
  ctx: ContainerContext,
  req: Request,
): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === "/_/health") {
    return req.method === "GET" ? text(200, "OK") : text(405, null);
  }
  if (!runMethods.has(req.method)) return text(405, null);
  const fprocess = ctx.env.fprocess;
  if (!fprocess) return text(500, "Missing fprocess");

  const start = ctx.now();
  ctx.log(goLog(ctx, "Forking fprocess."));
  const body = await readBody(req);
  const env = requestEnvironment(ctx, req, body.length);
  const combine = parseBool(ctx.env.combine_output, true);
  const execTimeout = parseDuration(ctx.env.exec_timeout, 0);

  const writeTimeout = parseDuration(ctx.env.write_timeout, 10_000);
  /** The answer, unless the write deadline has passed: then the client only sees the connection close. */
  const deliver = (res: Response): Response => {
    if (writeTimeout > 0 && ctx.now() - start > writeTimeout) {
      throw new Error(
        `write tcp ${ctx.podName}:8080: i/o timeout (write_timeout ${goDurationString(writeTimeout)})`,
      );
    }
    return res;
  };

  const kill = new AbortController();
  const run = runShell(fprocess, {
    stdin: body,
    env,
    files: ctx.files,
    sleep: ctx.sleep,
    signal: kill.signal,
  });
  let result: ShellResult;
  if (execTimeout > 0) {
    const timer = new AbortController();
    const outcome = await Promise.race([
      run.then((r) => ({ done: r })),
      ctx.sleep(execTimeout, timer.signal).then(() => ({ done: undefined })),
    ]);
    if (!outcome.done) {
      ctx.log(goLog(ctx, `Killing process: ${fprocess}`));
      kill.abort();
      run.catch(() => {}); // the killed run settles whenever its sleep notices
      return deliver(text(408, "Killed process.\n"));
    }
    timer.abort();
    result = outcome.done;
  } else {
    result = await run;
  }

  const out = combine ? result.combined : result.stdout;
  if (!combine && result.stderr.length > 0) ctx.log(goLog(ctx, `stderr: ${decoder.decode(result.stderr)}`));
  if (result.status !== 0) {
    const prefix = new TextEncoder().encode(
      result.status === 137 ? "signal: killed\n" : `exit status ${result.status}\n`,
    );
    const merged = new Uint8Array(prefix.length + out.length);
    merged.set(prefix);
    merged.set(out, prefix.length);
    return deliver(text(500, merged));
  }
  const contentType = ctx.env.content_type || req.headers.get("content-type") || detectContentType(out);
  const seconds = (ctx.now() - start) / 1000;
  ctx.log(goLog(ctx, `Wrote ${out.length} Bytes - Duration: ${goFloat(seconds)}s`));
  return deliver(
    new Response(out as BodyInit, {
      status: 200,
      headers: { "Content-Type": contentType, "X-Duration-Seconds": goFloat(seconds) },
    }),
  );
}
