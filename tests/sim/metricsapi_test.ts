/**
 * The simulator's resource metrics: the UsageMeter (cAdvisor-style CPU counter,
 * working-set memory) and the `metrics.k8s.io/v1beta1` API over it, in process,
 * over the HTTP facade, through the provider's invoke path and for `kubectl top`.
 */
import assert from "node:assert/strict";
import { Effect, Stream } from "effect";

import fc, { runs } from "../support/fc.ts";
import { deploymentFixture } from "../support/fixtures.ts";
import { withProvider } from "../support/harness.ts";
import { withSimCluster, withSimServer } from "../support/simcluster.ts";
import { type MeteredPod, UsageMeter } from "../../sim/usagemeter.ts";
import { type SimClusterShape } from "../../sim/cluster.ts";

import { SimApiServer } from "../../sim/apiserver.ts";

import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { ApiError } from "../../sim/store.ts";
import { parseMetricsPath } from "../../sim/metricsapi.ts";
import { goDurationString } from "../../sim/images/context.ts";
import { canonicalQuantity } from "../../src/domain/validation.ts";
import { defaultCosts, imageCosts } from "../../sim/images/catalog.ts";
import { KubeApi, type KubeError } from "../../src/kube/api.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const Mi = 1024 * 1024;
const t0 = Date.parse("2026-01-01T00:00:00Z");

// ---------------------------------------------------------------------------
// The meter, with a hand-driven clock

const meterFor = (pods: Record<string, Partial<MeteredPod>>, options: { windowMs?: number } = {}) => {
  const clock = { t: t0 };
  const known = new Map(
    Object.entries(pods).map(([name, p]) => [name, {
      id: name,
      startedAt: t0,
      cpuLimitMillis: Infinity,
      baseMemoryBytes: 8 * Mi,
      ...p,
    }]),
  );
  const meter = new UsageMeter(
    { now: () => clock.t },
    (ns, name) => ns === "fn" ? known.get(name) : undefined,
    options,
  );
  const cpuMillis = (name: string) => meter.podMetrics("fn", name)!.cpuNanoCores / 1e6;
  return { clock, known, meter, cpuMillis };
};

Deno.test("usage meter: an idle pod uses 1m and its base memory", () => {
  const { clock, meter } = meterFor({ a: {} });
  clock.t = t0 + 120_000;
  const m = meter.podMetrics("fn", "a")!;
  assert.equal(m.cpuNanoCores, 1_000_000);
  assert.equal(m.memoryBytes, 8 * Mi);
  assert.equal(m.windowMs, 30_000);
  assert.equal(m.timestamp, t0 + 120_000);
});

Deno.test("usage meter: N requests in flight for the whole window add N x cpuMillis, capped by the limit", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: {}, capped: { cpuLimitMillis: 250 } });
  clock.t = t0 + 10_000;
  const ends = [1, 2, 3].flatMap(
    () => [meter.begin("fn", "a", 100, 2 * Mi), meter.begin("fn", "capped", 100, 0)],
  );
  clock.t = t0 + 60_000;
  assert.equal(cpuMillis("a"), 301);
  assert.equal(cpuMillis("capped"), 250, "3 x 100m + 1m capped at the 250m limit");
  assert.equal(meter.inFlight("fn", "a"), 3);
  ends.forEach((end) => end());
  assert.equal(meter.inFlight("fn", "a"), 0);
});

Deno.test("usage meter: after the load stops, usage decays to idle within one window", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: {} });
  clock.t = t0 + 5_000;
  const ends = [meter.begin("fn", "a", 100, 0), meter.begin("fn", "a", 100, 0)];
  clock.t = t0 + 60_000;
  assert.equal(cpuMillis("a"), 201);
  ends.forEach((end) => end());
  clock.t = t0 + 75_000;
  assert.equal(cpuMillis("a"), (15 * 201 + 15 * 1) / 30, "half the window busy");
  clock.t = t0 + 89_000;
  assert.ok(cpuMillis("a") > 1);
  clock.t = t0 + 90_000;
  assert.equal(cpuMillis("a"), 1);
  clock.t = t0 + 3_600_000;
  assert.equal(cpuMillis("a"), 1);
});

Deno.test("usage meter: memory is the base plus requests in flight; end is idempotent", () => {
  const { clock, meter } = meterFor({ a: { baseMemoryBytes: 12 * Mi } });
  const one = meter.begin("fn", "a", 20, 2 * Mi);
  const two = meter.begin("fn", "a", 20, 3 * Mi);
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 17 * Mi);
  one();
  one();
  clock.t += 1_000;
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 15 * Mi, "a second end() changes nothing");
  assert.equal(meter.inFlight("fn", "a"), 1);
  two();
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 12 * Mi);
});

Deno.test("usage meter: a pod younger than the window is averaged over its lifetime", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: { startedAt: t0 + 1_000 } });
  clock.t = t0 + 6_000;
  const end = meter.begin("fn", "a", 100, 0);
  clock.t = t0 + 11_000;
  const m = meter.podMetrics("fn", "a")!;
  assert.equal(m.windowMs, 10_000);
  assert.equal(cpuMillis("a"), (5 * 1 + 5 * 101) / 10);
  end();
  // Exactly at startup there is no interval yet: the current rate.
  const fresh = meterFor({ b: {} });
  assert.equal(fresh.meter.podMetrics("fn", "b")!.windowMs, 0);
  assert.equal(fresh.cpuMillis("b"), 1);
});

Deno.test("usage meter: the window is at most windowMs and at least windowMs - 1 s off the grid", () => {
  const { clock, meter } = meterFor({ a: {} });
  const end = meter.begin("fn", "a", 50, 0);
  clock.t = t0 + 100_500;
  const m = meter.podMetrics("fn", "a")!;
  assert.equal(m.windowMs, 29_500);
  assert.equal(m.cpuNanoCores, 51_000_000);
  end();
});

Deno.test("usage meter: deleted pods are forgotten; a restarted container starts a new counter", () => {
  const { clock, known, meter, cpuMillis } = meterFor({ a: {}, b: {} });
  const endA = meter.begin("fn", "a", 100, 0);
  meter.begin("fn", "b", 100, 0);
  assert.equal(meter.size, 2);
  meter.forget("fn", "b");
  assert.equal(meter.size, 1);
  // A pod that is gone (or no longer running) is dropped when read.
  known.delete("a");
  clock.t = t0 + 10_000;
  assert.equal(meter.podMetrics("fn", "a"), undefined);
  assert.equal(meter.size, 0);
  endA(); // ending a request of a forgotten pod is harmless
  // Same name, new container run: a fresh counter, not the old one's history.
  known.set("a", { id: "a#2", startedAt: t0 + 10_000, cpuLimitMillis: Infinity, baseMemoryBytes: 0 });
  const old = meter.begin("fn", "a", 500, 0);
  clock.t = t0 + 20_000;
  assert.equal(cpuMillis("a"), 501);
  known.set("a", { id: "a#3", startedAt: t0 + 20_000, cpuLimitMillis: Infinity, baseMemoryBytes: 0 });
  clock.t = t0 + 30_000;
  old();
  assert.equal(cpuMillis("a"), 1, "the restart dropped the old counter and its in-flight request");
  assert.equal(meter.podMetrics("other-namespace", "a"), undefined);
  assert.equal(meter.begin("fn", "unknown", 100, 0)(), undefined, "an unknown pod is not metered");
  assert.equal(meter.size, 1);
});

Deno.test("usage meter: the average equals the exact integral of the capped rate over the reported window", () => {
  fc.assert(
    fc.property(
      fc.record({
        startOffset: fc.integer({ min: 0, max: 5_000 }),
        cap: fc.option(fc.integer({ min: 1, max: 600 }), { nil: undefined }),
        ops: fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 9_000 }),
            op: fc.constantFrom("begin", "begin", "end", "query"),
            cpu: fc.integer({ min: 0, max: 300 }),
            mem: fc.integer({ min: 0, max: 4 * Mi }),
            pick: fc.nat(),
          }),
          { maxLength: 60 },
        ),
      }),
      ({ startOffset, cap, ops }) => {
        const startedAt = t0 + startOffset;
        const { clock, meter } = meterFor({ a: { startedAt, cpuLimitMillis: cap ?? Infinity } });
        clock.t = startedAt;
        const requests: { start: number; end?: number; cpu: number; mem: number; stop: () => void }[] = [];
        const rateAt = (t: number) => {
          let r = 1;
          for (const q of requests) if (q.start <= t && (q.end === undefined || t < q.end)) r += q.cpu;
          return Math.min(r, cap ?? Infinity);
        };
        const check = () => {
          const m = meter.podMetrics("fn", "a")!;
          const now = clock.t;
          const from = now - m.windowMs;
          if (now - startedAt < 30_000) assert.equal(from, startedAt);
          else assert.ok(m.windowMs <= 30_000 && m.windowMs > 29_000, `window ${m.windowMs}`);
          const points = [
            from,
            now,
            ...requests.flatMap((q) => [q.start, q.end ?? now]).filter((t) => t > from && t < now),
          ].sort((a, b) => a - b);
          let integral = 0;
          for (let i = 1; i < points.length; i++) {
            integral += rateAt(points[i - 1]) * (points[i] - points[i - 1]);
          }
          const expected = m.windowMs > 0 ? integral / m.windowMs : rateAt(now);
          assert.ok(
            Math.abs(m.cpuNanoCores / 1e6 - expected) < 1e-5,
            `${m.cpuNanoCores / 1e6} vs ${expected}`,
          );
          const open = requests.filter((q) => q.end === undefined).reduce((s, q) => s + q.mem, 0);
          assert.equal(m.memoryBytes, 8 * Mi + open);
        };
        for (const o of ops) {
          clock.t += o.dt;
          const open = requests.filter((q) => q.end === undefined);
          if (o.op === "begin") {
            const stop = meter.begin("fn", "a", o.cpu, o.mem);
            requests.push({ start: clock.t, cpu: o.cpu, mem: o.mem, stop });
          } else if (o.op === "end" && open.length > 0) {
            const q = open[o.pick % open.length];
            q.stop();
            q.stop();
            q.end = clock.t;
          } else check();
        }
        clock.t += 1_234;
        check();
      },
    ),
    { numRuns: runs(200) },
  );
});

Deno.test("usage meter: a million requests keep the per-pod state small and the result exact", () => {
  const { clock, meter, cpuMillis } = meterFor({ a: {} });
  // 1000 requests per second of 10 ms each at 100m: 1 request in flight on average.
  for (let i = 0; i < 1_000_000; i++) {
    const end = meter.begin("fn", "a", 100, 1024);
    clock.t += 10;
    end();
  }
  assert.equal(clock.t, t0 + 10_000_000);
  assert.ok(Math.abs(cpuMillis("a") - 101) < 1e-6, String(cpuMillis("a")));
  assert.equal(meter.podMetrics("fn", "a")!.memoryBytes, 8 * Mi);
  assert.equal(meter.size, 1);
});

Deno.test("image costs: defaults by behaviour, an image's own fields win, oom uses its memoryBytes", () => {
  const watchdog = {
    repository: "x/w",
    behaviour: "watchdog",
    pullMs: 0,
    startupMs: 0,
    description: "",
  } as const;
  assert.deepEqual(imageCosts(watchdog), {
    cpuMillisPerRequest: 100,
    memoryBytesPerRequest: 2 * Mi,
    baseMemoryBytes: 8 * Mi,
  });
  assert.equal(imageCosts({ ...watchdog, cpuMillisPerRequest: 7 }).cpuMillisPerRequest, 7);
  assert.equal(
    imageCosts({ ...watchdog, behaviour: "oom", memoryBytes: 512 * Mi }).baseMemoryBytes,
    512 * Mi,
  );
  assert.equal(defaultCosts["http-echo"].cpuMillisPerRequest, 20);
  assert.equal(defaultCosts["http-echo"].baseMemoryBytes, 12 * Mi);
  assert.equal(defaultCosts.sleep.cpuMillisPerRequest, 5);
});

Deno.test("metrics helpers: paths, Go durations and canonical quantities", () => {
  assert.equal(parseMetricsPath("/apis/metrics.k8s.io/v1beta1/pods")?.kind.kind, "PodMetrics");
  const one = parseMetricsPath("/apis/metrics.k8s.io/v1beta1/namespaces/fn/pods/a")!;
  assert.deepEqual([one.kind.kind, one.namespace, one.name], ["PodMetrics", "fn", "a"]);
  assert.equal(parseMetricsPath("/apis/metrics.k8s.io/v1beta1/nodes/n1")?.kind.kind, "NodeMetrics");
  assert.equal(parseMetricsPath("/apis/metrics.k8s.io/v1beta1/namespaces/fn/nodes"), undefined);
  assert.equal(parseMetricsPath("/apis/metrics.k8s.io/v1/pods"), undefined);
  assert.equal(parseMetricsPath("/api/v1/pods"), undefined);
  assert.deepEqual(
    [0, 250, 1_000, 29_500, 30_000, 60_000, 90_250, 3_600_000].map(goDurationString),
    ["0s", "250ms", "1s", "29.5s", "30s", "1m0s", "1m30.25s", "1h0m0s"],
  );
  assert.deepEqual(
    ["0n", "1000000n", "1500000n", "2000000000n", "1234n", "8192Ki", "1536Ki", "0Ki"].map((q) =>
      canonicalQuantity(q)
    ),
    ["0", "1m", "1500u", "2", "1234n", "8Mi", "1536Ki", "0"],
  );
});

// ---------------------------------------------------------------------------
// The API on a simulated cluster (in process)

const withCluster = withSimCluster;

const base = "/apis/metrics.k8s.io/v1beta1";
const get = (cluster: SimClusterShape, path: string, query: Record<string, string> = {}) =>
  cluster.api.handle({ method: "GET", path, query });

const deploy = (
  cluster: SimClusterShape,
  name: string,
  image?: string,
  extra: Record<string, unknown> = {},
) => {
  const body: Any = deploymentFixture(name, image);
  Object.assign(body.spec.template.spec.containers[0], extra);
  const res = cluster.api.handle({
    method: "POST",
    path: "/apis/apps/v1/namespaces/openfaas-fn/deployments",
    body,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
};

const podOf = (cluster: SimClusterShape, fn: string): KObj =>
  [...cluster.store.scan(Kinds.Pod, "openfaas-fn")].find((p) => p.metadata.labels?.faas_function === fn)!;

Deno.test("metrics API: PodMetrics get and list have metrics-server's shapes", async () => {
  await withCluster(async ({ cluster, advance }) => {
    deploy(cluster, "a");
    deploy(cluster, "b", "ghcr.io/openfaas/of-echo:latest");
    await advance(30_000);
    const a = podOf(cluster, "a");
    const end = [1, 2].map(() => cluster.usage.begin("openfaas-fn", a.metadata.name!, 100, 2 * Mi));
    await advance(30_000);
    const one = get(cluster, `${base}/namespaces/openfaas-fn/pods/${a.metadata.name}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    const now = cluster.env.now();
    assert.deepEqual(one.body, {
      kind: "PodMetrics",
      apiVersion: "metrics.k8s.io/v1beta1",
      metadata: {
        name: a.metadata.name,
        namespace: "openfaas-fn",
        labels: a.metadata.labels,
        creationTimestamp: new Date(now).toISOString().replace(".000Z", "Z"),
      },
      timestamp: new Date(now).toISOString().replace(".000Z", "Z"),
      window: "30s",
      containers: [{ name: "a", usage: { cpu: "201000000n", memory: `${8 * 1024 + 2 * 2 * 1024}Ki` } }],
    });
    end.forEach((e) => e());

    const all = get(cluster, `${base}/pods`).body as Any;
    assert.equal(all.kind, "PodMetricsList");
    assert.equal(all.apiVersion, "metrics.k8s.io/v1beta1");
    assert.deepEqual(all.metadata, {});
    assert.deepEqual(all.items.map((i: Any) => i.metadata.labels.faas_function), ["a", "b"]);
    const b = all.items[1];
    assert.equal(b.containers[0].usage.cpu, "1000000n");
    assert.equal(b.containers[0].usage.memory, "12288Ki", "of-echo's base memory");
    const inNs = get(cluster, `${base}/namespaces/openfaas-fn/pods`).body as Any;
    assert.equal(inNs.items.length, 2);
    assert.equal((get(cluster, `${base}/namespaces/default/pods`).body as Any).items.length, 0);
  });
});

Deno.test("metrics API: label and field selectors", async () => {
  await withCluster(async ({ cluster, advance }) => {
    deploy(cluster, "a");
    deploy(cluster, "b");
    await advance(30_000);
    const names = (query: Record<string, string>) =>
      (get(cluster, `${base}/namespaces/openfaas-fn/pods`, query).body as Any).items.map((i: Any) =>
        i.metadata.labels.faas_function
      );
    assert.deepEqual(names({ labelSelector: "faas_function=b" }), ["b"]);
    assert.deepEqual(names({ labelSelector: "faas_function in (a,b)" }), ["a", "b"]);
    assert.deepEqual(names({ labelSelector: "faas_function!=b" }), ["a"]);
    assert.deepEqual(names({ labelSelector: "nothing" }), []);
    assert.deepEqual(names({ fieldSelector: `metadata.name=${podOf(cluster, "a").metadata.name}` }), ["a"]);
    const bad = get(cluster, `${base}/pods`, { labelSelector: "a in (" });
    assert.equal(bad.status, 400);
    assert.equal(get(cluster, `${base}/pods`, { fieldSelector: "spec.foo=x" }).status, 400);
  });
});

Deno.test("metrics API: 404 for missing and not running pods, 405 for writes and watches", async () => {
  await withCluster(async ({ cluster, rt, advance }) => {
    deploy(cluster, "pulling", "no/such-image:1");
    deploy(cluster, "a");
    await advance(30_000);
    const pending = podOf(cluster, "pulling");
    assert.notEqual(pending.status.phase, "Running");
    for (const name of [pending.metadata.name!, "nope"]) {
      const res = get(cluster, `${base}/namespaces/openfaas-fn/pods/${name}`);
      assert.equal(res.status, 404);
      assert.equal((res.body as Any).kind, "Status");
      assert.equal((res.body as Any).reason, "NotFound");
      assert.equal((res.body as Any).message, `podmetrics.metrics.k8s.io "${name}" not found`);
    }
    const listed = (get(cluster, `${base}/namespaces/openfaas-fn/pods`).body as Any).items;
    assert.deepEqual(listed.map((i: Any) => i.metadata.labels.faas_function), ["a"], "only running pods");
    const name = podOf(cluster, "a").metadata.name!;
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const path = `${base}/namespaces/openfaas-fn/pods${method === "POST" ? "" : `/${name}`}`;
      const res = cluster.api.handle({ method, path, body: {} });
      assert.equal(res.status, 405, method);
      assert.equal((res.body as Any).reason, "MethodNotAllowed");
    }
    assert.equal(get(cluster, `${base}/pods`, { watch: "1" }).status, 405);
    assert.throws(
      () => cluster.api.watch(`${base}/pods`, {}, { event: () => {}, close: () => {} }),
      (e: unknown) => e instanceof ApiError && e.code === 405,
    );
    assert.equal(get(cluster, `${base}/namespaces/openfaas-fn/pods/${name}/log`).status, 404);
    // Through the KubeApi seam (SimTransport) as the provider reads it.
    const viaSeam = await rt.runPromise(Effect.gen(function* () {
      const kube = yield* KubeApi;
      const list: Any = yield* kube.request({
        method: "GET",
        path: `${base}/namespaces/openfaas-fn/pods`,
        query: { labelSelector: "faas_function=a" },
      });
      const watchErr = yield* Effect.flip(Stream.runDrain(kube.watch(`${base}/pods`, {})));
      return { list, watchErr: watchErr as KubeError };
    }));
    assert.equal(viaSeam.list.items.length, 1);
    assert.equal(viaSeam.watchErr.status, 405);
  });
});

Deno.test("metrics API: the fault interceptor applies; without a meter the group is absent", async () => {
  await withCluster(async ({ cluster, advance }) => {
    deploy(cluster, "a");
    await advance(30_000);
    const seen: string[] = [];
    cluster.api.interceptor = (req, parsed) => {
      seen.push(`${req.method} ${parsed?.kind.kind} ${parsed?.name ?? ""}`);
      return new ApiError(503, "ServiceUnavailable", "injected");
    };
    const res = get(cluster, `${base}/namespaces/openfaas-fn/pods/x`);
    assert.equal(res.status, 503);
    assert.deepEqual(seen, ["GET PodMetrics x"]);
    cluster.api.interceptor = undefined;
    assert.equal(get(cluster, `${base}/pods`).status, 200);
  });
  await withCluster(({ cluster }) => {
    const bare = new SimApiServer(cluster.store);
    assert.equal(bare.handle({ method: "GET", path: `${base}/pods` }).status, 404);
    return Promise.resolve();
  });
});

Deno.test("metrics API: NodeMetrics sum the node's pods", async () => {
  await withCluster(async ({ cluster, advance }) => {
    deploy(cluster, "a");
    await advance(30_000);
    const pod = podOf(cluster, "a");
    const end = cluster.usage.begin("openfaas-fn", pod.metadata.name!, 300, 4 * Mi);
    await advance(60_000);
    const nodes = get(cluster, `${base}/nodes`).body as Any;
    assert.equal(nodes.kind, "NodeMetricsList");
    assert.deepEqual(nodes.items.map((n: Any) => n.metadata.name), [
      "sim-node-1",
      "sim-node-2",
      "sim-node-3",
    ]);
    const host = nodes.items.find((n: Any) => n.metadata.name === pod.spec.nodeName);
    assert.deepEqual(host.usage, { cpu: "301000000n", memory: `${12 * 1024}Ki` });
    assert.equal(host.window, "30s");
    for (const other of nodes.items.filter((n: Any) => n !== host)) {
      assert.deepEqual(other.usage, { cpu: "0n", memory: "0Ki" });
    }
    const one = get(cluster, `${base}/nodes/${pod.spec.nodeName}`).body as Any;
    assert.equal(one.kind, "NodeMetrics");
    assert.equal(one.usage.cpu, "301000000n");
    assert.equal(get(cluster, `${base}/nodes/nope`).status, 404);
    const labelled = get(cluster, `${base}/nodes`, { labelSelector: "kubernetes.io/hostname=sim-node-2" });
    assert.deepEqual((labelled.body as Any).items.map((n: Any) => n.metadata.name), ["sim-node-2"]);
    end();
  });
});

Deno.test("metrics API: a deleted pod is forgotten by the meter", async () => {
  await withCluster(async ({ cluster, advance }) => {
    deploy(cluster, "a");
    await advance(30_000);
    const pod = podOf(cluster, "a");
    cluster.usage.begin("openfaas-fn", pod.metadata.name!, 100, 0);
    assert.equal(cluster.usage.size, 1);
    cluster.api.handle({ method: "DELETE", path: "/apis/apps/v1/namespaces/openfaas-fn/deployments/a" });
    await advance(15_000); // past the watchdog's drain
    assert.equal(cluster.store.peek(Kinds.Pod, "openfaas-fn", pod.metadata.name!), undefined);
    assert.equal(cluster.usage.size, 0);
    assert.equal(get(cluster, `${base}/namespaces/openfaas-fn/pods/${pod.metadata.name}`).status, 404);
  });
});

// ---------------------------------------------------------------------------
// Through the provider: invoked functions use CPU

Deno.test("metrics API: an invoked function shows more CPU than an idle one", () =>
  withProvider(async (h) => {
    for (const service of ["busy", "idle"]) {
      const r = await h.call("POST", "/system/functions", { service, image: "sim/sleep:latest" });
      assert.equal(r.status, 202, r.text);
    }
    await h.advance(30_000);
    const usage = (fn: string) => {
      const res = h.cluster.api.handle({
        method: "GET",
        path: `${base}/namespaces/openfaas-fn/pods`,
        query: { labelSelector: `faas_function=${fn}` },
      });
      const items = (res.body as Any).items;
      assert.equal(items.length, 1, fn);
      return Number(/^(\d+)n$/.exec(items[0].containers[0].usage.cpu)![1]) / 1e6;
    };
    const busyPod = podOf(h.cluster, "busy").metadata.name!;
    const calls = Array.from({ length: 4 }, () => h.call("GET", "/function/busy?duration_ms=8000"));
    // The requests cross a real socket before they reach the pod: wait for them (wall clock, no virtual time).
    for (let i = 0; i < 500 && h.cluster.usage.inFlight("openfaas-fn", busyPod) < 4; i++) {
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(h.cluster.usage.inFlight("openfaas-fn", busyPod), 4);
    await h.advance(4_000);
    assert.ok(usage("busy") > 3, "already busy while the requests run");
    const results = await h.advanceUntil(Promise.all(calls));
    for (const r of results) assert.equal(r.status, 200, r.text);
    assert.equal(h.cluster.usage.inFlight("openfaas-fn", busyPod), 0);
    const busy = usage("busy"), idle = usage("idle");
    assert.equal(idle, 1);
    // 4 requests x 5m (sim/sleep) for 8 s of the 30 s window, on top of the 1m idle baseline.
    assert.ok(busy > 6 && busy < 6.7, `busy ${busy}m`);
    // The provider reads the same numbers for `usage` in function status (faas-cli describe).
    const status = async (fn: string) =>
      JSON.parse((await h.call("GET", `/system/function/${fn}?usage=1`)).text);
    const [busyStatus, idleStatus] = [await status("busy"), await status("idle")];
    assert.ok(
      busyStatus.usage.cpu > idleStatus.usage.cpu,
      JSON.stringify([busyStatus.usage, idleStatus.usage]),
    );
    assert.equal(idleStatus.usage.totalMemoryBytes, 6 * Mi, "sim/sleep's base memory");
  }));

// ---------------------------------------------------------------------------
// The HTTP facade and kubectl top

const withServer = withSimServer;

const getJson = async (url: string, init: RequestInit = {}) => {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
};

Deno.test("sim serve: metrics.k8s.io discovery, PodMetrics over HTTP, 405 for writes and watches", async () => {
  await withServer(async ({ url, cluster, advance }) => {
    const apis = await getJson(`${url}/apis`);
    const group = apis.body.groups.find((g: Any) => g.name === "metrics.k8s.io");
    assert.deepEqual(group, {
      name: "metrics.k8s.io",
      versions: [{ groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" }],
      preferredVersion: { groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" },
    });
    assert.equal((await getJson(`${url}/apis/metrics.k8s.io`)).body.kind, "APIGroup");
    const resources = (await getJson(`${url}${base}`)).body;
    assert.deepEqual(resources, {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: "metrics.k8s.io/v1beta1",
      resources: [
        { name: "nodes", singularName: "", namespaced: false, kind: "NodeMetrics", verbs: ["get", "list"] },
        { name: "pods", singularName: "", namespaced: true, kind: "PodMetrics", verbs: ["get", "list"] },
      ],
    });

    deploy(cluster, "a");
    await advance(60_000);
    const list = await getJson(`${url}${base}/namespaces/openfaas-fn/pods?labelSelector=faas_function%3Da`);
    assert.equal(list.status, 200);
    assert.equal(list.body.kind, "PodMetricsList");
    assert.deepEqual(list.body.items[0].containers, [{
      name: "a",
      usage: { cpu: "1000000n", memory: "8192Ki" },
    }]);
    const name = list.body.items[0].metadata.name;
    assert.equal((await getJson(`${url}${base}/namespaces/openfaas-fn/pods/${name}`)).body.window, "30s");
    const missing = await getJson(`${url}${base}/namespaces/openfaas-fn/pods/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.message, `podmetrics.metrics.k8s.io "nope" not found`);
    const post = await getJson(`${url}${base}/namespaces/openfaas-fn/pods`, { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
    assert.equal((await getJson(`${url}${base}/pods?watch=1`)).status, 405);
    const table = await getJson(`${url}${base}/namespaces/openfaas-fn/pods`, {
      headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" },
    });
    assert.equal(table.body.kind, "Table");
    assert.deepEqual(table.body.columnDefinitions.map((c: Any) => c.name), [
      "Name",
      "CPU",
      "Memory",
      "Window",
    ]);
    assert.deepEqual(table.body.rows[0].cells, [name, "1m", "8Mi", "30s"]);
  });
});

Deno.test({
  name: "kubectl: top pods and top nodes against the facade",
  ignore: !kubectlPath,
  fn: async () => {
    await withServer(async ({ url, cluster, advance }) => {
      const none = await kubectl(url, "top", "pods", "-n", "openfaas-fn");
      assert.match(none.stdout + none.stderr, /No resources found in openfaas-fn namespace/);
      deploy(cluster, "env", undefined, { resources: { limits: { cpu: "250m" } } });
      deploy(cluster, "echo", "ghcr.io/openfaas/of-echo:latest");
      await advance(30_000);
      const env = podOf(cluster, "env").metadata.name!;
      const echo = podOf(cluster, "echo").metadata.name!;
      const ends = [1, 2, 3].map(() => cluster.usage.begin("openfaas-fn", env, 100, 2 * Mi));
      ends.push(cluster.usage.begin("openfaas-fn", echo, 20, 0));
      await advance(30_000);

      const top = await kubectl(url, "top", "pods", "-n", "openfaas-fn");
      assert.equal(top.code, 0, top.stderr);
      const lines = top.stdout.trim().split("\n").map((l) => l.trim());
      assert.match(lines[0], /^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)$/);
      assert.ok(lines.some((l) => new RegExp(`^${echo}\\s+21m\\s+12Mi$`).test(l)), top.stdout);
      assert.ok(lines.some((l) => new RegExp(`^${env}\\s+250m\\s+14Mi$`).test(l)), top.stdout);

      const one = await kubectl(url, "top", "pod", env, "-n", "openfaas-fn", "--no-headers");
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout.trim(), new RegExp(`^${env}\\s+250m\\s+14Mi$`));
      const selected = await kubectl(url, "top", "pods", "-A", "-l", "faas_function=echo", "--no-headers");
      assert.match(selected.stdout.trim(), new RegExp(`^openfaas-fn\\s+${echo}\\s+21m\\s+12Mi$`));
      const missing = await kubectl(url, "top", "pod", "nope", "-n", "openfaas-fn");
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /podmetrics\.metrics\.k8s\.io "nope" not found/);

      const nodes = await kubectl(url, "top", "nodes");
      assert.equal(nodes.code, 0, nodes.stderr);
      assert.match(nodes.stdout, /^NAME\s+CPU\(cores\)\s+CPU(\(%\))?\s+MEMORY\(bytes\)\s+MEMORY(\(%\))?/);
      assert.match(nodes.stdout, /sim-node-\d\s+(250m|271m|21m)\s+/);
      ends.forEach((e) => e());
    });
  },
});
