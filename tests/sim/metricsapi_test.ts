/**
 * The simulator's `metrics.k8s.io/v1beta1` API over its UsageMeter: in process, over the HTTP
 * facade, through the provider's invoke path and for `kubectl top`.
 */
import assert from "node:assert/strict";
import { Effect, Stream } from "effect";

import { deploymentFixture } from "../support/fixtures.ts";
import { withProvider } from "../support/harness.ts";
import { withSimCluster, withSimServer } from "../support/simcluster.ts";
import type { SimClusterShape } from "../../sim/cluster.ts";

import { SimApiServer } from "../../sim/apiserver.ts";

import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { ApiError } from "../../sim/apierror.ts";
import { parseMetricsPath } from "../../sim/metricsapi.ts";
import { goDurationString } from "../../sim/images/context.ts";
import { canonicalQuantity } from "../../src/domain/quantity.ts";
import { KubeApi, type KubeError } from "../../src/kube/api.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const Mi = 1024 * 1024;

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
    const now = cluster.clock.now();
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

Deno.test("metrics API: label-selected PodMetrics come from the store's label index, not a scan of every pod", async () => {
  await withCluster(async ({ cluster, advance }) => {
    deploy(cluster, "a");
    deploy(cluster, "b");
    await advance(30_000);
    const scanned: string[] = [];
    const scan = cluster.store.scan.bind(cluster.store);
    cluster.store.scan = (kind, namespace) => {
      scanned.push(kind.kind);
      return scan(kind, namespace);
    };
    const list = get(cluster, `${base}/namespaces/openfaas-fn/pods`, { labelSelector: "faas_function=b" });
    assert.deepEqual((list.body as Any).items.map((i: Any) => i.metadata.labels.faas_function), ["b"]);
    const all = get(cluster, `${base}/pods`, { labelSelector: "faas_function in (a,b)" });
    assert.deepEqual((all.body as Any).items.map((i: Any) => i.metadata.labels.faas_function), ["a", "b"]);
    assert.deepEqual(scanned.filter((k) => k === "Pod"), [], "no scan of the pods");
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
      return ApiError.of(503, "ServiceUnavailable", "injected");
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
