/** The provider's own requests in /metrics. */
import assert from "node:assert/strict";
import { withProvider } from "../support/harness.ts";
import { metricsText, sample } from "../support/metrics.ts";

Deno.test("/metrics: provider_http_request_duration_seconds after a /system call", () =>
  withProvider(async (h) => {
    const series =
      'provider_http_request_duration_seconds_count{code="200",method="GET",path="/system/info"}';
    const before = sample(await metricsText(h), series);
    assert.equal((await h.call("GET", "/system/info")).status, 200);
    assert.equal((await h.call("GET", "/system/info")).status, 200);
    const text = await metricsText(h);
    assert.equal(sample(text, series) - before, 2);
    assert.match(text, /^# TYPE provider_http_request_duration_seconds histogram$/m);
    assert.match(
      text,
      /^provider_http_request_duration_seconds_bucket\{code="200",method="GET",path="\/system\/info",le="\+Inf"\} \d+$/m,
    );
    assert.match(
      text,
      /^provider_http_request_duration_seconds_sum\{code="200",method="GET",path="\/system\/info"\} [0-9.e-]+$/m,
    );
    // /metrics and /healthz are not /system routes: not recorded.
    assert.doesNotMatch(text, /provider_http_request_duration_seconds_count\{[^}]*path="\/metrics"/);
  }));
