/**
 * "sleep": an HTTP function that takes a given time to answer, for trace
 * replays (sim/trace.ts). The execution time comes from the query parameter
 * `duration_ms` or the header `X-Duration-Ms` (milliseconds, default 0, at most
 * one hour) and is spent in (virtual) time with `ctx.sleep`. It answers 200
 * `text/plain` `slept <ms>ms`; `GET /_/health` answers 200 `OK`. No access log
 * (replays run millions of requests).
 */
import type { SimImage } from "./catalog.ts";
import type { ContainerContext } from "./context.ts";
import { goLog } from "./context.ts";

const maxMs = 3_600_000;

/** The requested execution time in ms (query `duration_ms`, else header `X-Duration-Ms`). */
const sleepDurationMs = (req: Request): number => {
  const q = new URL(req.url).searchParams.get("duration_ms") ?? req.headers.get("x-duration-ms");
  const n = q === null ? 0 : Number(q);
  return Number.isFinite(n) && n > 0 ? Math.min(n, maxMs) : 0;
};

export function sleepStartupLog(_image: SimImage, ctx: ContainerContext): string[] {
  return [goLog(ctx, "Listening on port: 8080 (sleeps duration_ms per request)")];
}

export async function handleSleep(_image: SimImage, ctx: ContainerContext, req: Request): Promise<Response> {
  if (new URL(req.url).pathname === "/_/health") return new Response("OK", { status: 200 });
  const ms = sleepDurationMs(req);
  req.body?.cancel().catch(() => {});
  if (ms > 0) await ctx.sleep(ms, req.signal);
  return new Response(`slept ${ms}ms`, { status: 200, headers: { "Content-Type": "text/plain" } });
}
