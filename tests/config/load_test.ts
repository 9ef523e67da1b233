/**
 * The provider's configuration from environment variables and flags (faas-netes' names): defaults, every
 * setting, errors.
 */
import { assertConfigError } from "../support/config.ts";
import assert from "node:assert/strict";
import fc from "../support/fc.ts";
import type { ProviderConfig } from "../../src/config/config.ts";
import { loadConfig } from "../../src/config/load.ts";
import { hostName } from "../../src/config/settings.ts";

const DEFAULT_CONFIG: ProviderConfig = {
  port: 8081,
  host: "0.0.0.0",
  readTimeoutMs: 10_000,
  writeTimeoutMs: 10_000,
  basicAuth: false,
  secretMountPath: "/run/secrets/",
  maxIdleConns: 1024,
  maxIdleConnsPerHost: 1024,
  functionNamespace: "openfaas-fn",
  httpProbe: false,
  setNonRootUser: false,
  imagePullPolicy: "Always",
  profilesNamespace: "openfaas-fn",
  clusterRole: false,
  readinessProbe: {
    initialDelaySeconds: 2,
    timeoutSeconds: 1,
    periodSeconds: 2,
    successThreshold: 1,
    failureThreshold: 3,
  },
  livenessProbe: {
    initialDelaySeconds: 2,
    timeoutSeconds: 1,
    periodSeconds: 2,
    successThreshold: 1,
    failureThreshold: 3,
  },
  maxBodyBytes: 1_048_576,
  cluster: "sim",
  verbose: false,
  simNodes: 3,
  simNodeCpu: "4",
  simNodeMemory: "16Gi",
  simSeed: 1,
  imageCheck: false,
  scaling: true,
  predictiveScaling: false,
  historyWriteIntervalMs: 120_000,
  scaleFromZeroTimeoutMs: 30_000,
  leaderElect: true,
  leaseName: "faas-deno",
  leaseNamespace: "openfaas",
  identity: `${hostName({})}:8081`,
  scaleDefaults: { min: 1, max: 20, target: 5, type: "rps", targetProportion: 0.9, zeroDurationMs: 900_000 },
};

// ---------------------------------------------------------------------------
// loadConfig
// ---------------------------------------------------------------------------

Deno.test("loadConfig: defaults", () => {
  assert.deepEqual(loadConfig({}, []), DEFAULT_CONFIG);
  // Empty values count as unset.
  assert.deepEqual(
    loadConfig({
      port: "",
      host: "",
      read_timeout: "",
      image_pull_policy: "",
      max_idle_conns: "",
      max_idle_conns_per_host: "",
      profiles_namespace: "",
      KUBERNETES_SERVICE_HOST: "",
    }, []),
    DEFAULT_CONFIG,
  );
});

Deno.test("loadConfig: every environment variable", () => {
  const env = {
    port: "8080",
    host: "127.0.0.1",
    read_timeout: "65s",
    write_timeout: "1m30s",
    basic_auth: "true",
    secret_mount_path: "/var/secrets/",
    max_idle_conns: "10",
    max_idle_conns_per_host: "5",
    function_namespace: "fns",
    http_probe: "true",
    set_nonroot_user: "true",
    image_pull_policy: "IfNotPresent",
    profiles_namespace: "profiles",
    cluster_role: "true",
    readiness_probe_initial_delay_seconds: "11",
    readiness_probe_timeout_seconds: "12",
    readiness_probe_period_seconds: "13",
    readiness_probe_success_threshold: "14",
    readiness_probe_failure_threshold: "15",
    liveness_probe_initial_delay_seconds: "21",
    liveness_probe_timeout_seconds: "22",
    liveness_probe_period_seconds: "23",
    liveness_probe_failure_threshold: "25",
    max_body_bytes: "2048",
    sim_nodes: "7",
    sim_seed: "42",
    KUBECONFIG: "/home/me/.kube/config",
    scaling: "false",
    predictive_scaling: "true",
    scale_from_zero_timeout: "45s",
    scale_default_min: "2",
    scale_default_max: "8",
    scale_default_target: "50",
    scale_default_type: "capacity",
    scale_default_target_proportion: "0.7",
    scale_default_zero_duration: "5m",
    leader_elect: "false",
    leader_election_lease_name: "provider-lock",
    leader_election_namespace: "ha",
    POD_NAME: "faas-deno-7d9f-abcde",
  };
  const expected: ProviderConfig = {
    port: 8080,
    host: "127.0.0.1",
    readTimeoutMs: 65_000,
    writeTimeoutMs: 90_000,
    basicAuth: true,
    secretMountPath: "/var/secrets/",
    maxIdleConns: 10,
    maxIdleConnsPerHost: 5,
    functionNamespace: "fns",
    httpProbe: true,
    setNonRootUser: true,
    imagePullPolicy: "IfNotPresent",
    profilesNamespace: "profiles",
    clusterRole: true,
    readinessProbe: {
      initialDelaySeconds: 11,
      timeoutSeconds: 12,
      periodSeconds: 13,
      successThreshold: 14,
      failureThreshold: 15,
    },
    livenessProbe: {
      initialDelaySeconds: 21,
      timeoutSeconds: 22,
      periodSeconds: 23,
      successThreshold: 1,
      failureThreshold: 25,
    },
    maxBodyBytes: 2048,
    cluster: "sim", // KUBECONFIG in the environment does not switch backends
    verbose: false,
    simNodes: 7,
    simNodeCpu: "4",
    simNodeMemory: "16Gi",
    simSeed: 42,
    imageCheck: false,
    scaling: false,
    predictiveScaling: true,
    historyWriteIntervalMs: 120_000,
    scaleFromZeroTimeoutMs: 45_000,
    leaderElect: false,
    leaseName: "provider-lock",
    leaseNamespace: "ha",
    identity: "faas-deno-7d9f-abcde",
    scaleDefaults: {
      min: 2,
      max: 8,
      target: 50,
      type: "capacity",
      targetProportion: 0.7,
      zeroDurationMs: 300_000,
    },
  };
  assert.deepEqual(loadConfig(env, []), expected);
});

Deno.test("loadConfig: every flag", () => {
  const config = loadConfig({}, [
    "--port=9090",
    "--host",
    "::",
    "-max-body-bytes=4096",
    "--cluster=kube",
    "--kubeconfig=/tmp/kc",
    "--master",
    "https://10.0.0.1:6443",
    "--verbose",
    "--sim-nodes=9",
    "--sim-node-cpu=3500m",
    "-sim-node-memory",
    "8Gi",
    "--seed=77",
  ]);
  assert.deepEqual(config, {
    ...DEFAULT_CONFIG,
    port: 9090,
    identity: `${hostName({})}:9090`,
    host: "::",
    maxBodyBytes: 4096,
    cluster: "kube",
    kubeconfig: "/tmp/kc",
    master: "https://10.0.0.1:6443",
    verbose: true,
    simNodes: 9,
    simNodeCpu: "3500m",
    simNodeMemory: "8Gi",
    simSeed: 77,
  });
});

Deno.test("loadConfig: flags beat environment variables", () => {
  const env = { port: "1111", host: "10.0.0.1", max_body_bytes: "1", sim_nodes: "1", sim_seed: "1" };
  const config = loadConfig(env, [
    "--port=2222",
    "--host=10.0.0.2",
    "--max-body-bytes=2",
    "--sim-nodes=2",
    "--seed=2",
  ]);
  assert.equal(config.port, 2222);
  assert.equal(config.host, "10.0.0.2");
  assert.equal(config.maxBodyBytes, 2);
  assert.equal(config.simNodes, 2);
  assert.equal(config.simSeed, 2);
  // Without flags the environment is used.
  const fromEnv = loadConfig(env, []);
  assert.equal(fromEnv.port, 1111);
  assert.equal(fromEnv.host, "10.0.0.1");
  // A valid flag shadows an invalid environment value.
  assert.equal(loadConfig({ port: "nope" }, ["--port=80"]).port, 80);
});

Deno.test("loadConfig: property: --port beats env port", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (flag, env) => {
      assert.equal(loadConfig({ port: String(env) }, ["--port", String(flag)]).port, flag);
      assert.equal(loadConfig({ port: String(env) }, []).port, env);
    }),
  );
});

Deno.test("loadConfig: lenient environment integers and durations fall back to defaults", () => {
  const config = loadConfig({
    read_timeout: "soon",
    write_timeout: "-3s",
    readiness_probe_period_seconds: "-1",
    liveness_probe_timeout_seconds: "x",
    max_body_bytes: "lots",
    sim_nodes: "many",
    sim_seed: "1.5",
    basic_auth: "yes",
  }, []);
  assert.deepEqual(config, DEFAULT_CONFIG);
});

Deno.test("loadConfig: bare-integer timeouts are seconds", () => {
  const config = loadConfig({ read_timeout: "30", write_timeout: "500ms" }, []);
  assert.equal(config.readTimeoutMs, 30_000);
  assert.equal(config.writeTimeoutMs, 500);
});

Deno.test("loadConfig: profiles_namespace defaults to function_namespace", () => {
  assert.equal(loadConfig({ function_namespace: "team-a" }, []).profilesNamespace, "team-a");
  assert.equal(
    loadConfig({ function_namespace: "team-a", profiles_namespace: "profiles" }, []).profilesNamespace,
    "profiles",
  );
});

Deno.test("loadConfig: image_pull_policy accepts exactly the three policies", () => {
  for (const policy of ["Always", "IfNotPresent", "Never"] as const) {
    assert.equal(loadConfig({ image_pull_policy: policy }, []).imagePullPolicy, policy);
  }
  for (const bad of ["always", "ifnotpresent", "Sometimes", " Always"]) {
    assertConfigError(
      () => loadConfig({ image_pull_policy: bad }, []),
      "image_pull_policy",
      JSON.stringify(bad),
    );
  }
});

Deno.test("loadConfig: empty function_namespace is an error", () => {
  assertConfigError(() => loadConfig({ function_namespace: "" }, []), "function_namespace");
  assertConfigError(() => loadConfig({ function_namespace: "  " }, []), "function_namespace");
});

Deno.test("loadConfig: invalid max_idle_conns / max_idle_conns_per_host are errors", () => {
  for (const name of ["max_idle_conns", "max_idle_conns_per_host"]) {
    for (const bad of ["abc", "-1", "1.5", "10k"]) {
      assertConfigError(() => loadConfig({ [name]: bad }, []), name, JSON.stringify(bad));
    }
  }
  assert.equal(loadConfig({ max_idle_conns: "0" }, []).maxIdleConns, 0);
});

Deno.test("loadConfig: invalid port is an error", () => {
  for (const bad of ["http", "-1", "65536", "80.5", "99999999999999999999"]) {
    assertConfigError(() => loadConfig({ port: bad }, []), "port", JSON.stringify(bad));
    assertConfigError(() => loadConfig({}, [`--port=${bad}`]), "--port", JSON.stringify(bad));
  }
  assertConfigError(() => loadConfig({}, ["--port="]), "--port");
  assertConfigError(() => loadConfig({}, ["--port"]), "--port", "requires a value");
  assert.equal(loadConfig({ port: "0" }, []).port, 0);
  assert.equal(loadConfig({ port: "65535" }, []).port, 65535);
});

Deno.test("loadConfig: invalid integer and quantity flags are errors", () => {
  assertConfigError(() => loadConfig({}, ["--max-body-bytes=1MB"]), "--max-body-bytes", '"1MB"');
  assertConfigError(() => loadConfig({}, ["--sim-nodes=-2"]), "--sim-nodes", '"-2"');
  assertConfigError(() => loadConfig({}, ["--seed=x"]), "--seed", '"x"');
  assertConfigError(() => loadConfig({}, ["--sim-node-cpu=four"]), "--sim-node-cpu", '"four"');
  // Valid by the quantity grammar alone, but not a usable node size.
  assertConfigError(() => loadConfig({}, ["--sim-node-cpu=1e3000"]), "--sim-node-cpu", '"1e3000"');
  assertConfigError(() => loadConfig({}, ["--sim-node-memory=0"]), "--sim-node-memory", '"0"');
  assertConfigError(() => loadConfig({}, ["--sim-node-memory=16GB"]), "--sim-node-memory", '"16GB"');
  assertConfigError(() => loadConfig({}, ["--sim-node-memory"]), "--sim-node-memory", "requires a value");
  assertConfigError(() => loadConfig({}, ["--cluster=aks"]), "--cluster", '"aks"');
  assertConfigError(() => loadConfig({}, ["--kubeconfig"]), "--kubeconfig", "requires a value");
  assertConfigError(() => loadConfig({}, ["--nope"]), "--nope");
  for (const q of ["500m", "2", "1.5", "16Gi", "1e3", "128974848", "129M"]) {
    assert.equal(loadConfig({}, ["--sim-node-memory", q]).simNodeMemory, q);
  }
});

Deno.test("loadConfig: backend selection", () => {
  const cases: [Record<string, string>, string[], "sim" | "kube"][] = [
    [{}, [], "sim"],
    [{ KUBECONFIG: "/x" }, [], "sim"],
    [{ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, [], "kube"],
    [{}, ["--kubeconfig=/x"], "kube"],
    [{}, ["--kubeconfig="], "sim"],
    [{}, ["--master=https://a:6443"], "sim"],
    [{}, ["--cluster=kube"], "kube"],
    [{ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, ["--cluster=sim"], "sim"],
    [{}, ["--kubeconfig=/x", "--cluster", "sim"], "sim"],
  ];
  for (const [env, args, expected] of cases) {
    assert.equal(loadConfig(env, args).cluster, expected, `${JSON.stringify(env)} ${JSON.stringify(args)}`);
  }
  assert.equal(loadConfig({}, ["--kubeconfig=/x"]).kubeconfig, "/x");
  assert.equal("kubeconfig" in loadConfig({ KUBECONFIG: "/x" }, []), false);
  assert.equal("master" in loadConfig({}, []), false);
});

Deno.test("loadConfig: --verbose and --help", () => {
  assert.equal(loadConfig({}, ["--verbose"]).verbose, true);
  assert.equal(loadConfig({}, ["-verbose=true"]).verbose, true);
  assert.equal(loadConfig({}, ["--verbose=false"]).verbose, false);
  // --help does not change the configuration.
  assert.deepEqual(loadConfig({}, ["--help"]), DEFAULT_CONFIG);
});

Deno.test("loadConfig: the leader election Lease lives in the pod's namespace, else openfaas; identity is host:port off-cluster", () => {
  assert.equal(loadConfig({ POD_NAMESPACE: "team-ha" }, []).leaseNamespace, "team-ha");
  assert.equal(
    loadConfig({ POD_NAMESPACE: "team-ha", leader_election_namespace: "ha" }, []).leaseNamespace,
    "ha",
  );
  assert.equal(loadConfig({}, []).leaseNamespace, "openfaas");
  assert.equal(loadConfig({ HOSTNAME: "laptop" }, ["--port", "9000"]).identity.endsWith(":9000"), true);
  assert.equal(loadConfig({ POD_NAME: "p-1" }, ["--port", "9000"]).identity, "p-1");
  assert.equal(loadConfig({ leader_elect: "false" }, []).leaderElect, false);
  assert.equal(loadConfig({ leader_elect: "" }, []).leaderElect, true);
});
