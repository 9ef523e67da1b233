/**
 * Kubernetes API calls in /metrics: successes as 2xx, failures with their status, streams counted once,
 * retries and give-ups.
 */
import assert from "node:assert/strict";
import { Effect, Stream } from "effect";
import { type KubeApiShape, KubeError, type WatchEvent } from "../../src/kube/api.ts";
import { meter } from "../../src/kube/metered.ts";
import { metrics } from "../../src/metrics/registry.ts";
import { withProvider } from "../support/harness.ts";
import { metricsText, sample } from "../support/metrics.ts";
import { Kinds } from "../../sim/kinds.ts";
import { ApiError } from "../../sim/apierror.ts";

const forbidden = KubeError.status(403, "Forbidden", "cannot watch");

const api = (watch: () => Stream.Stream<WatchEvent, KubeError>): KubeApiShape => ({
  request: <T>() => Effect.fail(forbidden) as Effect.Effect<T, KubeError>,
  watch: watch as KubeApiShape["watch"],
  lines: () => Stream.fromIterable(["a", "b"]),
});

Deno.test("metered: a refused watch counts as its status, a working one once as 2xx", async () => {
  const count = (verb: string, code: string) => metrics.kubeRequests.get({ verb, code });
  const errors = (verb: string, code: string) => metrics.kubeErrors.get({ verb, code });
  const before = {
    watch403: count("WATCH", "403"),
    watchErr: errors("WATCH", "403"),
    watchOk: count("WATCH", "2xx"),
    get403: count("GET", "403"),
    linesOk: count("GET", "2xx"),
  };
  const refused = meter(api(() => Stream.fail(forbidden)));
  await Effect.runPromise(Effect.exit(Stream.runDrain(refused.watch("/w"))));
  await Effect.runPromise(Effect.exit(refused.request({ method: "GET", path: "/x" })));
  const events: WatchEvent[] = [1, 2, 3].map((i) => ({ type: "ADDED", object: { i } }));
  const working = meter(api(() => Stream.fromIterable(events)));
  await Effect.runPromise(Stream.runDrain(working.watch("/w")));
  await Effect.runPromise(Stream.runDrain(working.lines("/log")));
  assert.equal(count("WATCH", "403") - before.watch403, 1);
  assert.equal(errors("WATCH", "403") - before.watchErr, 1);
  assert.equal(count("WATCH", "2xx") - before.watchOk, 1, "three events, one watch");
  assert.equal(count("GET", "403") - before.get403, 1);
  assert.equal(count("GET", "2xx") - before.linesOk, 1);
});

Deno.test("/metrics: Kubernetes API calls are counted and timed; retries and give-ups are counted", () =>
  withProvider(async (h) => {
    const created = 'provider_kube_requests_total{verb="POST",code="2xx"}';
    const timed = 'provider_kube_request_duration_seconds_count{verb="POST"}';
    const errors = 'provider_kube_request_errors_total{verb="POST",code="503"}';
    const retries = "provider_kube_retries_total";
    const giveUps = "provider_kube_retry_giveups_total";
    const m0 = await metricsText(h);
    // A deploy creates a Deployment and a Service: two POSTs, each counted and timed.
    assert.equal(
      (await h.call("POST", "/system/functions", { service: "m1", image: "functions/alpine:latest" })).status,
      202,
    );
    const m1 = await metricsText(h);
    assert.ok(sample(m1, created) - sample(m0, created) >= 2, "creates counted");
    assert.ok(sample(m1, timed) - sample(m0, timed) >= 2, "creates timed");
    assert.match(m1, /^# TYPE provider_kube_request_duration_seconds histogram$/m);

    // The first create of the next deploy fails with 503: retried, then it succeeds.
    let failures = 1;
    h.cluster.api.interceptor = (req) =>
      req.method === "POST" && req.path.endsWith("/deployments") && failures-- > 0
        ? ApiError.of(503, "ServiceUnavailable", "injected")
        : undefined;
    const retried = await h.advanceUntil(
      h.call("POST", "/system/functions", { service: "m2", image: "functions/alpine:latest" }),
    );
    assert.equal(retried.status, 202, retried.text);
    const m2 = await metricsText(h);
    assert.ok(sample(m2, retries) - sample(m1, retries) >= 1, "the retry is counted");
    assert.equal(sample(m2, giveUps) - sample(m1, giveUps), 0, "no give-up");
    assert.ok(sample(m2, errors) - sample(m1, errors) >= 1, "the failed call is counted as an error");

    // Every create fails: retried for a bounded time, then given up with a clear error.
    h.cluster.api.interceptor = (req) =>
      req.method === "POST" && req.path.endsWith("/deployments")
        ? ApiError.of(503, "ServiceUnavailable", "injected")
        : undefined;
    const started = h.cluster.clock.now();
    const failed = await h.advanceUntil(
      h.call("POST", "/system/functions", { service: "m3", image: "functions/alpine:latest" }),
      500,
      300_000,
    );
    const waited = h.cluster.clock.now() - started;
    h.cluster.api.interceptor = undefined;
    assert.ok(failed.status >= 500, `${failed.status}: ${failed.text}`);
    assert.match(failed.text, /injected/, "the API server's message is passed on");
    // apiRetry (src/kube/retry.ts) retries for at most 30 s.
    assert.ok(waited >= 25_000 && waited <= 40_000, `gave up after ${waited} ms of virtual time`);
    const m3 = await metricsText(h);
    assert.equal(sample(m3, giveUps) - sample(m2, giveUps), 1, "the give-up is counted");
    assert.ok(sample(m3, retries) - sample(m2, retries) >= 3, "after several retries");
    assert.equal(h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "m3"), undefined);
  }));
