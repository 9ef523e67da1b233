/**
 * How a function maps onto its Deployment and Service (faas-netes' mapping): labels, selector,
 * probes, service account, secrets, `readOnlyRootFilesystem`, and the provider settings that reach
 * the pod (probe timings, image pull policy, non-root user).
 */
import assert from "node:assert/strict";
import { apiTest, type Harness, withProvider } from "../support/harness.ts";
import { deployFunction, deploymentOf, envFunction as fn } from "../support/functions.ts";
import { Kinds } from "../../sim/kinds.ts";
import { loadConfig } from "../../src/config/load.ts";

const deploy = (h: Harness, body: Record<string, unknown>, query = "") => deployFunction(h, body, query);
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

// ---------------------------------------------------------------------------
// Health
// ---------------------------------------------------------------------------

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
