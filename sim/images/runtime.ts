/**
 * Request behaviour of simulated function containers, by catalog behaviour,
 * with Web-standard Request/Response. The request URL is
 * `http://<podIP>:8080/<path>?<query>`.
 *
 * - "watchdog": classic OpenFaaS watchdog forking `fprocess` (see `watchdog.ts`).
 * - "http-echo": of-watchdog HTTP mode echoing the request, with SSE/NDJSON
 *   streaming (see `http.ts`). An "oom" image that was not OOMKilled (its
 *   memory fits the limit) serves the same way.
 * - "redirector": 302 to `$destination` (see `http.ts`).
 * - "crash" and "hang": nothing listens on the port; `handle` rejects with
 *   `ContainerUnreachableError` (connection refused), so the caller (the
 *   simulated network or proxy) turns it into its own 502/503.
 *
 * Readiness is not checked here: routing only to ready pods is the caller's job.
 */
import type { SimImage } from "./catalog.ts";
import { type ContainerContext, ContainerUnreachableError, goLog } from "./context.ts";
import { handleWatchdog, watchdogStartupLog } from "./watchdog.ts";
import { echoStartupLog, handleEcho, handleRedirector, redirectorStartupLog } from "./http.ts";
import { handleSleep, sleepStartupLog } from "./sleep.ts";

/** Lines the container writes to its log when it starts (with Go's log date prefix). */
export function startupLog(image: SimImage, ctx: ContainerContext): string[] {
  switch (image.behaviour) {
    case "watchdog":
      return watchdogStartupLog(image, ctx);
    case "http-echo":
      return echoStartupLog(image, ctx);
    case "redirector":
      return redirectorStartupLog(image, ctx);
    case "crash":
      return [goLog(ctx, `Starting ${image.repository}`)];
    case "oom":
      return [goLog(ctx, `Allocating ${Math.round((image.memoryBytes ?? 0) / 1024 / 1024)}Mi`)];
    case "hang":
      return [goLog(ctx, "Starting; waiting forever for a dependency")];
    case "sleep":
      return sleepStartupLog(image, ctx);
  }
}

/** Answers one request as the container would. Rejects with ContainerUnreachableError when nothing listens. */
export function handle(image: SimImage, ctx: ContainerContext, req: Request): Promise<Response> {
  switch (image.behaviour) {
    case "watchdog":
      return handleWatchdog(image, ctx, req);
    case "http-echo":
    case "oom":
      return handleEcho(image, ctx, req);
    case "redirector":
      return handleRedirector(image, ctx, req);
    case "sleep":
      return handleSleep(image, ctx, req);
    case "crash":
    case "hang":
      return Promise.reject(
        new ContainerUnreachableError(ctx.podName, `${image.behaviour} image does not serve`),
      );
  }
}

/**
 * A container spec's `env` as the record `ContainerContext.env` expects, in
 * order; later duplicates win. Entries with `valueFrom` are skipped (the
 * simulator resolves no field or resource references).
 */
export function containerEnvironment(
  container: { readonly env?: readonly { readonly name: string; readonly value?: string }[] },
): Record<string, string> {
  const env = new Map<string, string>();
  for (const e of container.env ?? []) {
    if (e.value === undefined && "valueFrom" in e) continue;
    env.delete(e.name);
    env.set(e.name, e.value ?? "");
  }
  return Object.fromEntries(env);
}
