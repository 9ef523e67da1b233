import assert from "node:assert/strict";
import { type Harness, startProvider } from "../support/harness.ts";

/**
 * Every API test runs against both ways of reaching the cluster: the simulator
 * in process (SimTransport) and over HTTP (sim/serve + HttpTransport).
 */
const apiTest = (
  name: string,
  fn: (h: Harness) => Promise<void>,
  options: Parameters<typeof startProvider>[0] = {},
) => {
  for (const transport of ["in-process", "http"] as const) {
    Deno.test(`${name} [${transport}]`, async () => {
      const h = await startProvider({ ...options, sim: { ...options.sim, transport } });
      try {
        await fn(h);
      } finally {
        await h.close();
      }
    });
  }
};
import { Kinds } from "../../sim/kinds.ts";

const fn = (service: string, extra: Record<string, unknown> = {}) => ({
  service,
  image: "functions/alpine:latest",
  envProcess: "env",
  ...extra,
});

apiTest("deploy then status round-trips the request and list shows it", async (h) => {
  const req = fn("env-test", {
    envVars: { custom_env: "custom_env_value" },
    labels: { canary_build: "true" },
    annotations: { "some-json": '{\n  "a": 1\n}' },
    limits: { memory: "5Mi", cpu: "100m" },
    requests: { memory: "0.5Mi", cpu: "0.05" },
    constraints: ["disktype=ssd"],
    readOnlyRootFilesystem: true,
  });
  const deployed = await h.call("POST", "/system/functions", req);
  assert.equal(deployed.status, 202);
  assert.equal(deployed.text, "");
  const res = await h.call("GET", "/system/function/env-test");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  const s = JSON.parse(res.text);
  assert.equal(s.name, "env-test");
  assert.equal(s.namespace, "openfaas-fn");
  assert.equal(s.image, "functions/alpine:latest");
  assert.equal(s.envProcess, "env");
  assert.deepEqual(s.envVars, { custom_env: "custom_env_value" });
  assert.deepEqual(s.constraints, ["disktype=ssd"]);
  assert.deepEqual(s.limits, { memory: "5Mi", cpu: "100m" });
  assert.deepEqual(s.requests, { memory: "512Ki", cpu: "50m" });
  assert.equal(s.readOnlyRootFilesystem, true);
  assert.equal(s.labels.faas_function, "env-test");
  assert.equal(s.labels.canary_build, "true");
  assert.equal(s.annotations["some-json"], '{\n  "a": 1\n}');
  assert.equal(s.annotations["prometheus.io.scrape"], "false");
  assert.equal(s.replicas, 1);
  assert.equal(s.createdAt, "2026-01-01T00:00:00Z");
  const list = JSON.parse((await h.call("GET", "/system/functions")).text);
  assert.deepEqual(list.map((f: { name: string }) => f.name), ["env-test"]);
  assert.deepEqual(list[0], s);
});

apiTest("status omits envVars, limits and requests that were not given", async (h) => {
  assert.equal(
    (await h.call("POST", "/system/functions", fn("stronghash", { envProcess: "sha512sum" }))).status,
    202,
  );
  const s = JSON.parse((await h.call("GET", "/system/function/stronghash")).text);
  assert.equal("envVars" in s, false);
  assert.equal("limits" in s, false);
  assert.equal("requests" in s, false);
  assert.equal("secrets" in s, false);
  assert.equal("constraints" in s, false);
  assert.equal(s.envProcess, "sha512sum");
});

apiTest("deployment and service match the faas-netes mapping", async (h) => {
  await h.call(
    "POST",
    "/system/functions",
    fn("mapped", { labels: { team: "a" }, constraints: ["zone == z1"] }),
  );
  const d = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "mapped");
  assert.equal(d.metadata.labels.faas_function, "mapped");
  assert.equal(d.metadata.labels.team, "a");
  assert.deepEqual(d.spec.selector, { matchLabels: { faas_function: "mapped" } });
  assert.deepEqual(d.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
  const c = d.spec.template.spec.containers[0];
  assert.deepEqual(c.env, [{ name: "fprocess", value: "env" }]);
  assert.deepEqual(c.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
  assert.deepEqual(c.readinessProbe.exec.command, ["cat", "/tmp/.lock"]);
  assert.equal(c.imagePullPolicy, "Always");
  assert.deepEqual(d.spec.template.spec.nodeSelector, { zone: "z1" });
  assert.equal(d.spec.template.metadata.labels.team, "a");
  const svc = h.cluster.store.get(Kinds.Service, "openfaas-fn", "mapped");
  assert.deepEqual(svc.spec.selector, { faas_function: "mapped" });
  assert.equal(svc.spec.ports[0].port, 8080);
  assert.equal(svc.metadata.annotations["prometheus.io.scrape"], "false");
});

apiTest("probe and service-account annotations per function; bad values are 400s", async (h) => {
  const annotations = {
    "com.openfaas.health.http.path": "/healthz",
    "com.openfaas.health.http.initialDelay": "30s",
    "com.openfaas.serviceaccount": "fn-reader",
  };
  assert.equal((await h.call("POST", "/system/functions", fn("slow-probe", { annotations }))).status, 202);
  const pod = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "slow-probe").spec.template.spec;
  assert.equal(pod.serviceAccountName, "fn-reader");
  for (const probe of [pod.containers[0].readinessProbe, pod.containers[0].livenessProbe]) {
    assert.deepEqual(probe.httpGet, { path: "/healthz", port: 8080, scheme: "HTTP" });
    assert.equal(probe.exec, undefined);
    assert.equal(probe.initialDelaySeconds, 30);
  }
  // Ready only after the 30 s initial delay.
  await h.advance(20_000);
  assert.equal(JSON.parse((await h.call("GET", "/system/function/slow-probe")).text).availableReplicas, 0);
  await h.advance(15_000);
  assert.equal(JSON.parse((await h.call("GET", "/system/function/slow-probe")).text).availableReplicas, 1);
  const bad: Record<string, string>[] = [
    { "com.openfaas.health.http.initialDelay": "30" },
    { "com.openfaas.health.http.initialDelay": "soon" },
    { "com.openfaas.health.http.path": "healthz" },
    { "com.openfaas.health.http.path": "/a b" },
    { "com.openfaas.serviceaccount": "Not A Name" },
  ];
  for (const annotations of bad) {
    const r = await h.call("POST", "/system/functions", fn("bad-probe", { annotations }));
    assert.equal(r.status, 400, JSON.stringify(annotations));
    assert.ok(r.text.includes(Object.keys(annotations)[0]), r.text);
  }
  assert.equal(h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "bad-probe"), undefined);
});

apiTest("functions become available after their pods are ready, in virtual time", async (h) => {
  await h.call("POST", "/system/functions", fn("ready"));
  let s = JSON.parse((await h.call("GET", "/system/function/ready")).text);
  assert.equal(s.availableReplicas, 0);
  await h.advance(10_000);
  s = JSON.parse((await h.call("GET", "/system/function/ready")).text);
  assert.equal(s.availableReplicas, 1);
});

apiTest("com.openfaas.scale.min sets the initial replicas, readable immediately", async (h) => {
  await h.call(
    "POST",
    "/system/functions",
    fn("test-min-scale", { labels: { "com.openfaas.scale.min": "2" } }),
  );
  const s = JSON.parse((await h.call("GET", "/system/function/test-min-scale")).text);
  assert.equal(s.replicas, 2);
});

apiTest("scale to 0 and above 5 is accepted and visible in the next status read", async (h) => {
  await h.call("POST", "/system/functions", fn("scaled"));
  for (const replicas of [0, 7]) {
    const r = await h.call("POST", "/system/scale-function/scaled", {
      serviceName: "scaled",
      replicas,
      namespace: "openfaas-fn",
    });
    assert.equal(r.status, 202);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/scaled")).text).replicas, replicas);
  }
  // namespace from the query when the body has none (what the Gateway sends)
  const q = await h.call("POST", "/system/scale-function/scaled?namespace=openfaas-fn", {
    serviceName: "scaled",
    replicas: 1,
  });
  assert.equal(q.status, 202);
  assert.equal(JSON.parse((await h.call("GET", "/system/function/scaled")).text).replicas, 1);
});

apiTest("unknown function: 404 on status, update, delete and scale", async (h) => {
  assert.equal((await h.call("GET", "/system/function/nope")).status, 404);
  assert.equal((await h.call("PUT", "/system/functions", fn("nope"))).status, 404);
  assert.equal((await h.call("DELETE", "/system/functions", { functionName: "nope" })).status, 404);
  assert.equal(
    (await h.call("POST", "/system/scale-function/nope", { serviceName: "nope", replicas: 1 })).status,
    404,
  );
});

apiTest("duplicate deploy is 409 and changes nothing", async (h) => {
  await h.call("POST", "/system/functions", fn("dup"));
  const before = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "dup");
  const r = await h.call("POST", "/system/functions", fn("dup", { image: "functions/alpine:other" }));
  assert.equal(r.status, 409);
  assert.match(r.text, /already exists/);
  const after = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "dup");
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
});

apiTest("update replaces the spec, keeps replicas unless scale.min is given, and rolls pods", async (h) => {
  await h.call("POST", "/system/functions", fn("upd", { envVars: { a: "1" } }));
  await h.advance(10_000);
  await h.call("POST", "/system/scale-function/upd", { serviceName: "upd", replicas: 3 });
  await h.advance(10_000);
  const oldPods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.map((p) => p.metadata.name);
  const r = await h.call(
    "PUT",
    "/system/functions",
    fn("upd", { image: "ghcr.io/openfaas/alpine:latest", envVars: { b: "2" } }),
  );
  assert.equal(r.status, 202);
  const s = JSON.parse((await h.call("GET", "/system/function/upd")).text);
  assert.equal(s.image, "ghcr.io/openfaas/alpine:latest");
  assert.deepEqual(s.envVars, { b: "2" });
  assert.equal(s.replicas, 3);
  await h.advance(60_000);
  const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items;
  assert.equal(pods.length, 3);
  assert.ok(pods.every((p) => !oldPods.includes(p.metadata.name)), "every pod was replaced");
  assert.equal(JSON.parse((await h.call("GET", "/system/function/upd")).text).availableReplicas, 3);
  await h.call("PUT", "/system/functions", fn("upd", { labels: { "com.openfaas.scale.min": "2" } }));
  assert.equal(JSON.parse((await h.call("GET", "/system/function/upd")).text).replicas, 2);
});

apiTest("delete removes deployment, service and pods; namespace from body or query", async (h) => {
  await h.call("POST", "/system/functions", fn("gone"));
  await h.call("POST", "/system/functions", fn("gone2"));
  await h.advance(10_000);
  assert.equal(
    (await h.call("DELETE", "/system/functions", { functionName: "gone", namespace: "openfaas-fn" }))
      .status,
    202,
  );
  assert.equal(
    (await h.call("DELETE", "/system/functions?namespace=openfaas-fn", { functionName: "gone2" })).status,
    202,
  );
  assert.equal((await h.call("GET", "/system/function/gone")).status, 404);
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/functions")).text), []);
  assert.equal(h.cluster.store.list(Kinds.Service, "openfaas-fn").items.length, 0);
  // The pods terminate gracefully: the watchdog drains for write_timeout (10 s), then they are gone.
  const terminating = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items;
  assert.ok(terminating.every((p) => p.metadata.deletionTimestamp), "what is left is terminating");
  await h.advance(11_000);
  assert.equal(h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.length, 0);
});

apiTest("namespaces: default plus those marked openfaas; kube-system refused; others 400", async (h) => {
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  const created = await h.call("POST", "/system/namespace/", {
    name: "staging-fn",
    labels: { openfaas: "1" },
  });
  assert.equal(created.status, 201);
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), [
    "openfaas-fn",
    "staging-fn",
  ]);
  assert.equal(
    (await h.call("POST", "/system/functions", fn("x", { namespace: "staging-fn" }))).status,
    202,
  );
  assert.equal(
    JSON.parse((await h.call("GET", "/system/functions?namespace=staging-fn")).text)[0].namespace,
    "staging-fn",
  );
  assert.equal((await h.call("GET", "/system/functions?namespace=kube-system")).status, 401);
  assert.equal((await h.call("POST", "/system/functions", fn("x", { namespace: "default" }))).status, 400);
  assert.equal((await h.call("GET", "/system/function/x?namespace=staging-fn")).status, 200);
  const ns = JSON.parse((await h.call("GET", "/system/namespace/staging-fn")).text);
  assert.equal(ns.name, "staging-fn");
  assert.equal(ns.labels.openfaas, "1");
  assert.equal(
    (await h.call("PUT", "/system/namespace/staging-fn", { name: "staging-fn", labels: { team: "b" } }))
      .status,
    202,
  );
  assert.equal(JSON.parse((await h.call("GET", "/system/namespace/staging-fn")).text).labels.team, "b");
  assert.equal((await h.call("GET", "/system/namespace/default")).status, 404);
  assert.equal(
    (await h.call("POST", "/system/namespace/", { name: "staging-fn", labels: { openfaas: "1" } })).status,
    409,
  );
  assert.equal((await h.call("POST", "/system/namespace/", { name: "plain" })).status, 400);
  assert.equal((await h.call("DELETE", "/system/namespace/staging-fn")).status, 202);
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  assert.equal((await h.call("DELETE", "/system/namespace/staging-fn")).status, 404);
}, { config: { clusterRole: true } });

apiTest("cluster_role=false (the default): one namespace, read through namespaced paths only", async (h) => {
  // A marked namespace exists, but without cluster_role the provider neither lists nor uses it.
  h.cluster.store.create(Kinds.Namespace, undefined, {
    metadata: { name: "staging-fn", labels: { openfaas: "1" } },
  });
  const paths: string[] = [];
  h.cluster.api.interceptor = (req) => {
    paths.push(req.path);
    return undefined;
  };
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  const other = await h.call("POST", "/system/functions", fn("x", { namespace: "staging-fn" }));
  assert.equal(other.status, 400);
  assert.match(other.text, /namespace must be: openfaas-fn/);
  assert.equal(h.cluster.store.list(Kinds.Deployment, "staging-fn").items.length, 0);
  assert.equal((await h.call("GET", "/system/functions?namespace=staging-fn")).status, 400);
  assert.equal((await h.call("GET", "/system/secrets?namespace=staging-fn")).status, 400);
  assert.equal((await h.call("GET", "/system/functions?namespace=kube-system")).status, 401);
  for (
    const [method, path, body] of [
      ["GET", "/system/namespace/openfaas-fn", undefined],
      ["POST", "/system/namespace/", { name: "new-fn", labels: { openfaas: "1" } }],
      ["PUT", "/system/namespace/openfaas-fn", { name: "openfaas-fn" }],
      ["DELETE", "/system/namespace/staging-fn", undefined],
    ] as const
  ) {
    const r = await h.call(method, path, body);
    assert.equal(r.status, 501, `${method} ${path}`);
    assert.match(r.text, /cluster_role=true/);
  }
  assert.ok(h.cluster.store.peek(Kinds.Namespace, undefined, "staging-fn"), "nothing deleted");
  assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "new-fn"), undefined, "nothing created");
  // Everything works in the function namespace.
  assert.equal((await h.call("POST", "/system/functions", fn("env"))).status, 202);
  assert.equal((await h.call("POST", "/system/secrets", { name: "k", value: "v" })).status, 202);
  await h.advance(6 * 60_000); // past the 5-minute resync: every cache relists
  assert.equal(JSON.parse((await h.call("GET", "/system/function/env")).text).availableReplicas, 1);
  assert.equal((await h.call("GET", "/system/logs?name=env&tail=1")).status, 200);
  // Every read was namespaced (a namespaced Role is enough): no Namespace and no cluster-wide list or watch.
  assert.ok(
    paths.some((p) => p.startsWith("/apis/apps/v1/namespaces/openfaas-fn/deployments")),
    paths.join(),
  );
  const clusterWide = paths.filter((p) => !/^\/apis?\/(v1|[^/]+\/v1)\/namespaces\/openfaas-fn\//.test(p));
  assert.deepEqual(clusterWide, []);
});

apiTest("secrets: create, list without values, update, 409 duplicate, 404 unknown, delete", async (h) => {
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/secrets")).text), []);
  assert.equal((await h.call("POST", "/system/secrets", { name: "api-key", value: "s3cr3t" })).status, 202);
  assert.equal(
    (await h.call("POST", "/system/secrets", { name: "raw", rawValue: btoa("\u0000\u0001bin") })).status,
    202,
  );
  assert.equal((await h.call("POST", "/system/secrets", { name: "api-key", value: "x" })).status, 409);
  const list = await h.call("GET", "/system/secrets");
  assert.deepEqual(JSON.parse(list.text), [
    { name: "api-key", namespace: "openfaas-fn" },
    { name: "raw", namespace: "openfaas-fn" },
  ]);
  assert.ok(!list.text.includes("s3cr3t"));
  const stored = h.cluster.store.get(Kinds.Secret, "openfaas-fn", "api-key");
  assert.equal(atob(stored.data["api-key"]), "s3cr3t");
  assert.equal(stored.metadata.labels["app.kubernetes.io/managed-by"], "openfaas");
  assert.equal(atob(h.cluster.store.get(Kinds.Secret, "openfaas-fn", "raw").data.raw), "\u0000\u0001bin");
  assert.equal((await h.call("PUT", "/system/secrets", { name: "api-key", value: "new" })).status, 202);
  assert.equal(atob(h.cluster.store.get(Kinds.Secret, "openfaas-fn", "api-key").data["api-key"]), "new");
  assert.equal((await h.call("PUT", "/system/secrets", { name: "nope", value: "x" })).status, 404);
  assert.equal((await h.call("DELETE", "/system/secrets", { name: "nope" })).status, 404);
  assert.equal((await h.call("DELETE", "/system/secrets", { name: "api-key" })).status, 202);
  assert.deepEqual(
    JSON.parse((await h.call("GET", "/system/secrets")).text).map((s: { name: string }) => s.name),
    ["raw"],
  );
});

apiTest("a function mounts its secrets at /var/openfaas/secrets; unknown secrets are 400", async (h) => {
  await h.call("POST", "/system/secrets", { name: "api-key", value: "v" });
  assert.equal((await h.call("POST", "/system/functions", fn("s", { secrets: ["missing"] }))).status, 400);
  assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
  assert.equal((await h.call("POST", "/system/functions", fn("s", { secrets: ["api-key"] }))).status, 202);
  const d = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "s");
  const spec = d.spec.template.spec;
  assert.deepEqual(spec.volumes[0].projected.sources[0].secret, {
    name: "api-key",
    items: [{ key: "api-key", path: "api-key" }],
  });
  assert.deepEqual(spec.containers[0].volumeMounts[0], {
    name: "s-projected-secrets",
    mountPath: "/var/openfaas/secrets",
    readOnly: true,
  });
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/function/s")).text).secrets, ["api-key"]);
});

apiTest("info, healthz, 405 for a wrong method, 404 for an unknown path", async (h) => {
  const info = JSON.parse((await h.call("GET", "/system/info")).text);
  assert.equal(info.provider, "faas-deno");
  assert.equal(info.orchestration, "kubernetes");
  assert.ok(info.version.release && info.version.sha);
  const health = await h.call("GET", "/healthz");
  assert.equal(health.status, 200);
  assert.equal(health.text, "");
  assert.equal((await h.call("HEAD", "/healthz")).status, 200);
  const wrong = await h.call("PATCH", "/system/functions");
  assert.equal(wrong.status, 405);
  assert.equal(wrong.text, "");
  assert.equal((await h.call("GET", "/system/scale-function/x")).status, 405);
  const unknown = await h.call("GET", "/system/nope");
  assert.equal(unknown.status, 404);
  assert.equal(unknown.text, "404 page not found\n");
  assert.equal((await h.call("GET", "/system/functions/")).status, 404);
});

apiTest("basic auth protects system and namespace routes, not healthz", async (h) => {
  const good = { authorization: `Basic ${btoa("admin:pw")}` };
  const bad = { authorization: `Basic ${btoa("admin:nope")}` };
  for (
    const path of [
      "/system/functions",
      "/system/info",
      "/system/namespaces",
      "/system/secrets",
      "/system/function/x",
    ]
  ) {
    const r = await h.call("GET", path);
    assert.equal(r.status, 401, path);
    assert.equal(r.text, "invalid credentials");
    assert.equal(r.headers.get("www-authenticate"), 'Basic realm="Restricted"');
    assert.equal((await h.call("GET", path, undefined, bad)).status, 401);
  }
  assert.equal((await h.call("GET", "/system/functions", undefined, good)).status, 200);
  assert.equal((await h.call("POST", "/system/functions", fn("a"))).status, 401);
  assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
  assert.equal((await h.call("GET", "/healthz")).status, 200);
}, { credentials: { user: "admin", password: "pw" } });

apiTest("bad input gets a 4xx naming the field and changes nothing", async (h) => {
  const cases: [unknown, number, RegExp][] = [
    ["{not json", 400, /malformed JSON/],
    [[1, 2], 400, /JSON object/],
    [{ image: "functions/alpine" }, 400, /service/],
    [{ service: 5, image: "functions/alpine" }, 400, /service: expected string/],
    [fn("Bad_Name"), 400, /service/],
    [fn("a".repeat(64)), 400, /service/],
    [fn("ok", { image: "Not An Image" }), 400, /image/],
    [fn("ok", { image: "" }), 400, /image/],
    [fn("ok", { limits: { memory: "12Q" } }), 400, /limits\.memory/],
    [fn("ok", { requests: { memory: "256Mi" }, limits: { memory: "128Mi" } }), 400, /requests\.memory/],
    [fn("ok", { labels: { "bad key!": "x" } }), 400, /labels/],
    [fn("ok", { labels: { ok: "bad value!" } }), 400, /labels/],
    [fn("ok", { annotations: { "-bad": "x" } }), 400, /annotations/],
    [fn("ok", { envVars: { "1BAD": "x" } }), 400, /envVars/],
    [fn("ok", { envVars: { A: 1 } }), 400, /envVars\.A/],
    [fn("ok", { constraints: ["nonsense"] }), 400, /constraints\[0\]/],
    [fn("ok", { secrets: "api-key" }), 400, /secrets/],
    [fn("ok", { readOnlyRootFilesystem: "yes" }), 400, /readOnlyRootFilesystem/],
    [fn("ok", { namespace: "Bad_NS" }), 400, /namespace/],
  ];
  for (const [body, status, message] of cases) {
    // A string is sent as is (malformed JSON); anything else is sent as JSON by the harness.
    const r = await h.call("POST", "/system/functions", body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(r.text, message, JSON.stringify(body));
    assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
  }
  const scaleBad = await h.call("POST", "/system/scale-function/x", { serviceName: "x", replicas: -1 });
  assert.equal(scaleBad.status, 400);
  assert.equal(
    (await h.call("POST", "/system/scale-function/x", { serviceName: "x", replicas: 1.5 })).status,
    400,
  );
  assert.equal((await h.call("POST", "/system/secrets", { name: "Bad Name", value: "x" })).status, 400);
  assert.equal((await h.call("POST", "/system/secrets", { name: "ok", rawValue: "***" })).status, 400);
  assert.equal(h.cluster.store.list(Kinds.Deployment).items.length, 0);
  assert.equal(h.cluster.store.list(Kinds.Secret).items.length, 0);
});

apiTest("bodies over the limit get 413", async (h) => {
  const big = fn("big", { annotations: { a: "x".repeat(2048) } });
  const r = await h.call("POST", "/system/functions", big);
  assert.equal(r.status, 413);
  assert.equal(h.cluster.store.list(Kinds.Deployment).items.length, 0);
  assert.equal((await h.call("POST", "/system/functions", fn("small"))).status, 202);
}, { config: { maxBodyBytes: 1024 } });

apiTest(
  "JSON keys match case-insensitively and unknown keys are ignored, as Go clients expect",
  async (h) => {
    const r = await h.call("POST", "/system/functions", {
      Service: "ci",
      Image: "functions/alpine:latest",
      EnvProcess: "cat",
      extra: true,
    });
    assert.equal(r.status, 202);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/ci")).text).envProcess, "cat");
  },
);
