/** provider_http_requests_total and provider_http_request_duration_seconds for the /system API. */
import type { MiddlewareHandler } from "hono";
import { metrics } from "../../metrics/registry.ts";

/** The path label: the URL path, with function names stripped. */
const metricPath = (path: string) =>
  path.startsWith("/system/function/")
    ? "/system/function"
    : path.startsWith("/system/scale-function/")
    ? "/system/scale-function"
    : path;

/** Counts and times one answer (`started`: performance.now() when the request arrived); `path` as a label. */
export const recordRequest = (code: number, method: string, path: string, started: number) => {
  const labels = { code: String(code), method, path };
  metrics.httpRequests.inc(labels);
  metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
};

/** Counts and times each answer by code, method and path, a 401 included. */
export const requestMetrics: MiddlewareHandler = async (c, next) => {
  const started = performance.now();
  await next();
  // An error no handler caught is answered and logged by onError: it is not an answer of the API.
  if (c.error) return;
  recordRequest(c.res.status, c.req.method, metricPath(c.req.path), started);
};
