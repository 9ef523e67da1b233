/**
 * The invoke proxy, more of issue 3 §2: least-loaded endpoint picking, X-Call-Id kept, OPTIONS and
 * HEAD forwarded, X-Forwarded-Host set; and the provider's own /metrics (§4, issue 4 §2).
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { type Harness, withProvider } from "../support/harness.ts";
import { realUpstream, routeTo, startUpstream } from "../support/upstream.ts";
import { Kinds } from "../../sim/kinds.ts";
import { ApiError } from "../../sim/store.ts";
import { Invocations } from "../../src/metrics/invocations.ts";

/** The requests a real upstream saw. */
interface Seen {
  method: string;
  headers: Headers;
}

Deno.test("proxy: with two ready pods, a request goes to the one without a request in flight", () =>
  withProvider(async (h) => {
    // `sleep $Http_X_Delay` holds a request for the given (virtual) seconds; HOSTNAME is the pod's name.
    const deployed = await h.call("POST", "/system/functions", {
      service: "lb",
      image: "functions/alpine:latest",
      envProcess: "sh -c 'sleep $Http_X_Delay; hostname'",
      labels: { "com.openfaas.scale.min": "2" },
    });
    assert.equal(deployed.status, 202, deployed.text);
    await h.advance(10_000);
    const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.map((p) => p.metadata.name!).sort();
    assert.equal(pods.length, 2);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/lb")).text).availableReplicas, 2);
    const invocations = await h.run(Effect.service(Invocations));
    const inFlight = () => invocations.load("lb", "openfaas-fn")?.inFlight ?? 0;

    // Hold one request open on one pod (pod A)...
    const slowStarted = h.cluster.env.now();
    const slow = h.call("POST", "/function/lb", "", { "X-Delay": "3" });
    for (let i = 0; i < 200 && inFlight() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(inFlight(), 1, "the slow request is in flight");
    // ...the next ones all go to the other pod (B): random picking would hit A about half the time.
    const hosts: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await h.advanceUntil(h.call("POST", "/function/lb", "", { "X-Delay": "0" }), 10);
      assert.equal(r.status, 200, r.text);
      hosts.push(r.text.trim());
    }
    const held = await h.advanceUntil(slow);
    assert.equal(held.status, 200, held.text);
    assert.ok(h.cluster.env.now() - slowStarted >= 3_000, "the slow request was held for its 3 s");
    const a = held.text.trim();
    assert.ok(pods.includes(a), `the slow request answered from a pod: ${a}`);
    const b = pods.find((p) => p !== a)!;
    assert.deepEqual(hosts, Array(6).fill(b), `while ${a} was busy: ${hosts.join(", ")}`);
  }));

Deno.test("proxy: an incoming X-Call-Id is kept; X-Forwarded-Host is set; OPTIONS and HEAD are forwarded", async () => {
  const seen: Seen[] = [];
  const up = startUpstream((req) => {
    seen.push({ method: req.method, headers: req.headers });
    if (req.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { Allow: "GET, POST, OPTIONS", "X-Up": "options" } });
    }
    if (req.method === "HEAD") {
      return new Response(null, { status: 200, headers: { "X-Up": "head", "Content-Type": "text/x-head" } });
    }
    return new Response("ok", { headers: { "X-Up": req.method.toLowerCase() } });
  });
  try {
    await withProvider(async (h) => {
      await routeTo(h, "hdrs", up.port);
      const host = new URL(h.url).host;

      const withId = await h.request("POST", "/function/hdrs/x", "body", { "X-Call-Id": "call-123" });
      assert.equal(withId.status, 200);
      await withId.text();
      assert.equal(withId.headers.get("x-call-id"), "call-123", "the response carries the caller's id");
      assert.equal(seen.at(-1)?.headers.get("x-call-id"), "call-123", "the pod sees the caller's id");
      assert.equal(seen.at(-1)?.headers.get("x-forwarded-host"), host);

      const fresh = await h.request("GET", "/function/hdrs");
      await fresh.text();
      const id = fresh.headers.get("x-call-id");
      assert.ok(id && id !== "call-123", "a new id when none is given");
      assert.equal(seen.at(-1)?.headers.get("x-call-id"), id);
      assert.equal(seen.at(-1)?.headers.get("x-forwarded-host"), host);

      const options = await h.request("OPTIONS", "/function/hdrs");
      await options.body?.cancel();
      assert.equal(seen.at(-1)?.method, "OPTIONS", "the pod got the OPTIONS request");
      assert.equal(options.status, 204);
      assert.equal(options.headers.get("allow"), "GET, POST, OPTIONS");
      assert.equal(options.headers.get("x-up"), "options");
      assert.equal(options.headers.get("x-openfaas-internal"), null, "not a proxy error");

      const head = await h.request("HEAD", "/function/hdrs");
      assert.equal(seen.at(-1)?.method, "HEAD", "the pod got the HEAD request");
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("x-up"), "head");
      assert.equal(head.headers.get("content-type"), "text/x-head");
      assert.equal(await head.text(), "");
      assert.equal(seen.length, 4, "one upstream request per call");
    }, realUpstream);
  } finally {
    await up.close();
  }
});

/** The value of the sample `series` (name and labels exactly as exposed), 0 when absent. */
const sample = (text: string, series: string): number => {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
};

const metricsText = async (h: Harness) => {
  const r = await h.call("GET", "/metrics");
  assert.equal(r.status, 200);
  return r.text;
};

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
        ? new ApiError(503, "ServiceUnavailable", "injected")
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
        ? new ApiError(503, "ServiceUnavailable", "injected")
        : undefined;
    const started = h.cluster.env.now();
    const failed = await h.advanceUntil(
      h.call("POST", "/system/functions", { service: "m3", image: "functions/alpine:latest" }),
      500,
      300_000,
    );
    const waited = h.cluster.env.now() - started;
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
