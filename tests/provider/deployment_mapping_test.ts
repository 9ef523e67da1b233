/**
 * More of the foundation issue's contract (issue 2 §2, §3) and health (issue 4 §2): the Kubernetes
 * mapping of configuration and of `readOnlyRootFilesystem`, the namespace taken from the query,
 * basic auth on the namespace routes, the function namespace's label, and /healthz before sync.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { apiTest, type Harness, startProvider, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import { Faults } from "../../sim/faults.ts";
import { loadConfig } from "../../src/config.ts";
import { Caches } from "../../src/kube/caches.ts";

const fn = (service: string, extra: Record<string, unknown> = {}) => ({
  service,
  image: "functions/alpine:latest",
  envProcess: "env",
  ...extra,
});

const deploy = async (h: Harness, body: Record<string, unknown>, query = "") => {
  const r = await h.call("POST", `/system/functions${query}`, body);
  assert.equal(r.status, 202, r.text);
};

/** The function's Deployment as stored in the simulator. */
const deploymentOf = (h: Harness, name: string, ns = "openfaas-fn") => {
  const d = h.cluster.store.peek(Kinds.Deployment, ns, name);
  assert.ok(d, `Deployment ${ns}/${name} exists`);
  return d;
};
const containerOf = (h: Harness, name: string) => deploymentOf(h, name).spec.template.spec.containers[0];

// ---------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------

Deno.test("mapping: readOnlyRootFilesystem gives a read-only root and a writable /tmp emptyDir", () =>
  withProvider(async (h) => {
    await deploy(h, fn("ro", { readOnlyRootFilesystem: true }));
    await deploy(h, fn("rw"));
    const ro = deploymentOf(h, "ro").spec.template.spec;
    const c = ro.containers[0];
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    const tmp = (c.volumeMounts ?? []).find((m: { mountPath: string }) => m.mountPath === "/tmp");
    assert.ok(tmp, `a /tmp mount: ${JSON.stringify(c.volumeMounts)}`);
    assert.notEqual(tmp.readOnly, true, "/tmp is writable");
    const volume = (ro.volumes ?? []).find((v: { name: string }) => v.name === tmp.name);
    assert.deepEqual(volume?.emptyDir, {}, `the /tmp volume is an emptyDir: ${JSON.stringify(volume)}`);
    // Without it: a writable root and no /tmp volume.
    const rw = containerOf(h, "rw");
    assert.equal(rw.securityContext.readOnlyRootFilesystem, false);
    assert.equal((rw.volumeMounts ?? []).some((m: { mountPath: string }) => m.mountPath === "/tmp"), false);
    // An update turning it off removes the /tmp volume; status follows.
    const r = await h.call("PUT", "/system/functions", fn("ro"));
    assert.equal(r.status, 202, r.text);
    const after = deploymentOf(h, "ro").spec.template.spec;
    assert.equal(after.containers[0].securityContext.readOnlyRootFilesystem, false);
    assert.equal((after.volumes ?? []).some((v: { emptyDir?: unknown }) => v.emptyDir !== undefined), false);
    assert.equal(
      JSON.parse((await h.call("GET", "/system/function/ro")).text).readOnlyRootFilesystem,
      undefined,
    );
  }));

Deno.test("mapping: readiness_probe_* and liveness_probe_* settings reach the Deployment's probes", async () => {
  const env = {
    readiness_probe_initial_delay_seconds: "7",
    readiness_probe_timeout_seconds: "4",
    readiness_probe_period_seconds: "9",
    readiness_probe_success_threshold: "2",
    readiness_probe_failure_threshold: "6",
    liveness_probe_initial_delay_seconds: "11",
    liveness_probe_timeout_seconds: "3",
    liveness_probe_period_seconds: "13",
    liveness_probe_failure_threshold: "5",
  };
  const { readinessProbe, livenessProbe } = loadConfig(env, []);
  await withProvider(async (h) => {
    await deploy(h, fn("probed"));
    const c = containerOf(h, "probed");
    const timings = (p: Record<string, unknown>) => ({
      initialDelaySeconds: p.initialDelaySeconds,
      timeoutSeconds: p.timeoutSeconds,
      periodSeconds: p.periodSeconds,
      successThreshold: p.successThreshold,
      failureThreshold: p.failureThreshold,
    });
    assert.deepEqual(timings(c.readinessProbe), {
      initialDelaySeconds: 7,
      timeoutSeconds: 4,
      periodSeconds: 9,
      successThreshold: 2,
      failureThreshold: 6,
    });
    assert.deepEqual(timings(c.livenessProbe), {
      initialDelaySeconds: 11,
      timeoutSeconds: 3,
      periodSeconds: 13,
      successThreshold: 1, // Kubernetes requires 1 for liveness
      failureThreshold: 5,
    });
    // The kubelet honours the readiness delay: not ready before 7 s after the container started.
    await h.advance(5_000);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/probed")).text).availableReplicas, 0);
  }, { config: { readinessProbe, livenessProbe } });
});

Deno.test("mapping: image_pull_policy reaches the container (and is kept on update)", async () => {
  const { imagePullPolicy } = loadConfig({ image_pull_policy: "IfNotPresent" }, []);
  assert.equal(imagePullPolicy, "IfNotPresent");
  await withProvider(async (h) => {
    await deploy(h, fn("pull"));
    assert.equal(containerOf(h, "pull").imagePullPolicy, "IfNotPresent");
    const r = await h.call("PUT", "/system/functions", fn("pull", { image: "functions/alpine:3.20" }));
    assert.equal(r.status, 202, r.text);
    assert.equal(containerOf(h, "pull").imagePullPolicy, "IfNotPresent");
  }, { config: { imagePullPolicy } });
  await withProvider(async (h) => {
    await deploy(h, fn("never"));
    assert.equal(containerOf(h, "never").imagePullPolicy, "Never");
  }, { config: { imagePullPolicy: loadConfig({ image_pull_policy: "Never" }, []).imagePullPolicy } });
});

Deno.test("mapping: set_nonroot_user runs the function container as user 12000", async () => {
  const { setNonRootUser } = loadConfig({ set_nonroot_user: "true" }, []);
  assert.equal(setNonRootUser, true);
  await withProvider(async (h) => {
    await deploy(h, fn("nonroot"));
    assert.equal(containerOf(h, "nonroot").securityContext.runAsUser, 12000);
    const r = await h.call("PUT", "/system/functions", fn("nonroot", { image: "functions/alpine:3.20" }));
    assert.equal(r.status, 202, r.text);
    assert.equal(containerOf(h, "nonroot").securityContext.runAsUser, 12000, "also after an update");
  }, { config: { setNonRootUser } });
  // Off by default: the image's user.
  await withProvider(async (h) => {
    await deploy(h, fn("root"));
    assert.equal(containerOf(h, "root").securityContext.runAsUser, undefined);
  });
});

// ---------------------------------------------------------------------------
// Contract
// ---------------------------------------------------------------------------

Deno.test("contract: the function namespace carries openfaas=1 from the start", () =>
  withProvider(async (h) => {
    const ns = h.cluster.store.peek(Kinds.Namespace, undefined, "openfaas-fn");
    assert.ok(ns, "openfaas-fn exists");
    assert.equal(ns.metadata.labels?.openfaas, "1");
    const r = await h.call("GET", "/system/namespace/openfaas-fn");
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).labels?.openfaas, "1");
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/namespaces")).text), ["openfaas-fn"]);
  }, { config: { clusterRole: true } }));

Deno.test({
  name: "contract: deploy and update take the namespace from the query when the body has none",
  fn: () =>
    withProvider(async (h) => {
      h.cluster.store.create(Kinds.Namespace, undefined, {
        metadata: { name: "staging-fn", labels: { openfaas: "1" } },
      });
      await h.advance(1_000);
      await deploy(h, fn("q"), "?namespace=staging-fn");
      assert.ok(h.cluster.store.peek(Kinds.Deployment, "staging-fn", "q"), "created in staging-fn");
      assert.equal(
        h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "q"),
        undefined,
        "not in openfaas-fn",
      );
      const s = JSON.parse((await h.call("GET", "/system/function/q?namespace=staging-fn")).text);
      assert.equal(s.namespace, "staging-fn");
      const u = await h.call("PUT", "/system/functions?namespace=staging-fn", fn("q", { envProcess: "cat" }));
      assert.equal(u.status, 202, u.text);
      assert.equal(
        deploymentOf(h, "q", "staging-fn").spec.template.spec.containers[0].env.find((e: { name: string }) =>
          e.name === "fprocess"
        )?.value,
        "cat",
      );
      // The body's namespace wins over the query's.
      await deploy(h, fn("b", { namespace: "openfaas-fn" }), "?namespace=staging-fn");
      assert.ok(h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "b"));
      assert.equal(h.cluster.store.peek(Kinds.Deployment, "staging-fn", "b"), undefined);
    }, { config: { clusterRole: true } }),
});

Deno.test("contract: basic auth protects /system/namespace/{name} for every method", () =>
  withProvider(async (h) => {
    const good = { authorization: `Basic ${btoa("admin:pw")}` };
    const bad = { authorization: `Basic ${btoa("admin:wrong")}` };
    h.cluster.store.create(Kinds.Namespace, undefined, {
      metadata: { name: "team-fn", labels: { openfaas: "1" } },
    });
    await h.advance(1_000);
    const requests: [string, string, unknown][] = [
      ["GET", "/system/namespace/team-fn", undefined],
      ["POST", "/system/namespace/", { name: "new-fn", labels: { openfaas: "1" } }],
      ["POST", "/system/namespace/new-fn", { labels: { openfaas: "1" } }],
      ["PUT", "/system/namespace/team-fn", { name: "team-fn", labels: { openfaas: "1", team: "x" } }],
      ["DELETE", "/system/namespace/team-fn", undefined],
    ];
    for (const [method, path, body] of requests) {
      for (const headers of [undefined, bad]) {
        const r = await h.call(method, path, body, headers);
        assert.equal(r.status, 401, `${method} ${path} ${headers ? "bad" : "no"} credentials`);
        assert.equal(r.headers.get("www-authenticate"), 'Basic realm="Restricted"');
      }
    }
    // Nothing changed.
    assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "new-fn"), undefined);
    const team = h.cluster.store.peek(Kinds.Namespace, undefined, "team-fn");
    assert.ok(team && !team.metadata.deletionTimestamp, "team-fn is still there");
    assert.equal(team.metadata.labels?.team, undefined);
    // With credentials every one works.
    assert.equal((await h.call("GET", "/system/namespace/team-fn", undefined, good)).status, 200);
    assert.equal(
      (await h.call("POST", "/system/namespace/", { name: "new-fn", labels: { openfaas: "1" } }, good))
        .status,
      201,
    );
    assert.equal(
      (await h.call("PUT", "/system/namespace/team-fn", {
        name: "team-fn",
        labels: { openfaas: "1", team: "x" },
      }, good)).status,
      202,
    );
    assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "team-fn")?.metadata.labels?.team, "x");
    assert.equal((await h.call("DELETE", "/system/namespace/new-fn", undefined, good)).status, 202);
  }, { config: { clusterRole: true }, credentials: { user: "admin", password: "pw" } }));

// ---------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------

Deno.test("healthz: 503 with the reason until the caches have synced, then 200", async () => {
  // Every list fails: the informers cannot load their first list.
  const faults = new Faults({ seed: 1, verbRates: { list: 1 }, statuses: [503] });
  const h = await startProvider({ sim: { faults }, waitForSync: false });
  try {
    const caches = await h.run(Effect.service(Caches));
    await h.advance(5_000);
    assert.equal(caches.unhealthy() !== undefined, true, "not synced while lists fail");
    for (const method of ["GET", "HEAD"]) {
      const r = await h.call(method, "/healthz");
      assert.equal(r.status, 503, `${method} /healthz before sync`);
    }
    const r = await h.call("GET", "/healthz");
    assert.match(r.text, /cache has not synced with the Kubernetes API/);
    // The API server recovers: the retries list, the caches sync, and health follows.
    faults.enabled = false;
    await h.advanceUntil(h.run(Effect.flatMap(Effect.service(Caches), (c) => c.synced)), 1_000, 120_000);
    await h.advance(1_000);
    const ok = await h.call("GET", "/healthz");
    assert.equal(ok.status, 200, ok.text);
  } finally {
    await h.close();
  }
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
