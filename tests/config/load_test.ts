import assert from "node:assert/strict";
import fc from "../support/fc.ts";
import {
  ConfigError,
  helpText,
  loadConfig,
  parseArgs,
  parseBool,
  parseDuration,
  parseNonNegativeInt,
  type ProviderConfig,
} from "../../src/config.ts";

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
  scaleFromZeroTimeoutMs: 30_000,
  scaleDefaults: { min: 1, max: 20, target: 5, type: "rps", targetProportion: 0.9, zeroDurationMs: 900_000 },
};

/** Asserts that `fn` throws a ConfigError whose message contains every fragment. */
function assertConfigError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    for (const fragment of fragments) {
      assert.ok(err.message.includes(fragment), `message ${JSON.stringify(err.message)} lacks ${fragment}`);
    }
    return true;
  });
}

// ---------------------------------------------------------------------------
// parseDuration
// ---------------------------------------------------------------------------

Deno.test("parseDuration: table of Go durations and bare seconds", () => {
  const cases: [string | undefined, number][] = [
    ["0", 0],
    ["7", 7_000],
    ["+7", 7_000],
    ["65", 65_000],
    ["65s", 65_000],
    ["1m05s", 65_000],
    ["1m5s", 65_000],
    ["1h2m3.5s", 3_723_500],
    ["500ms", 500],
    ["1.5h", 5_400_000],
    ["2m", 120_000],
    ["+1s", 1_000],
    [".5s", 500],
    ["5.s", 5_000],
    ["1.1s", 1_100],
    ["1500us", 1.5],
    ["1500\u00b5s", 1.5],
    ["1500\u03bcs", 1.5],
    ["2000000ns", 2],
    ["1h1ms", 3_600_001],
    ["0s", 0],
    ["0.000000001s", 0.000001],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseDuration(input, -1), expected, `parseDuration(${JSON.stringify(input)})`);
  }
});

Deno.test("parseDuration: empty, unparsable and negative values give the default", () => {
  const bad = [
    undefined,
    "",
    "abc",
    "10x",
    "s",
    ".s",
    ".",
    "1.5", // fractional seconds need a unit
    "-1",
    "-5s",
    " 10",
    "10 ",
    "1h 2m",
    "1d",
    "1S",
    "ms",
    "1..5s",
    "9999999999999999999999",
    "3000000h", // beyond Go's int64 nanosecond range
  ];
  for (const input of bad) {
    assert.equal(parseDuration(input, 4242), 4242, `parseDuration(${JSON.stringify(input)})`);
  }
});

Deno.test("parseDuration: property: any non-negative integer n is n seconds", () => {
  fc.assert(
    fc.property(fc.nat(), fc.integer(), (n, def) => {
      assert.equal(parseDuration(String(n), def), n * 1000);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Math.floor(Number.MAX_SAFE_INTEGER / 1000) }), (n) => {
      assert.equal(parseDuration(String(n), -1), n * 1000);
    }),
  );
});

Deno.test("parseDuration: property: h/m/s/ms compositions add up", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 10_000 }),
      (h, m, s, ms) => {
        const expected = ((h * 60 + m) * 60 + s) * 1000 + ms;
        assert.equal(parseDuration(`${h}h${m}m${s}s${ms}ms`, -1), expected);
        assert.equal(parseDuration(`${ms}ms${s}s${m}m${h}h`, -1), expected);
      },
    ),
  );
});

Deno.test("parseDuration: property: strings without digits fall back to the default", () => {
  fc.assert(
    fc.property(fc.string().filter((s) => !/[0-9]/.test(s)), fc.integer(), (s, def) => {
      assert.equal(parseDuration(s, def), def);
    }),
  );
});

Deno.test("parseDuration: property: results are the default or finite and non-negative", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."0123456789.hmsun-+x ") }), (s) => {
      const r = parseDuration(s, -7);
      assert.ok(r === -7 || (Number.isFinite(r) && r >= 0), `parseDuration(${JSON.stringify(s)}) = ${r}`);
    }),
  );
});

// ---------------------------------------------------------------------------
// parseBool / parseNonNegativeInt
// ---------------------------------------------------------------------------

Deno.test("parseBool: only exact 'true' is true; empty or undefined is the default", () => {
  assert.equal(parseBool("true", false), true);
  assert.equal(parseBool(undefined, true), true);
  assert.equal(parseBool(undefined, false), false);
  assert.equal(parseBool("", true), true);
  assert.equal(parseBool("", false), false);
  for (const v of ["TRUE", "True", "1", "yes", "on", "t", " true", "true ", "false"]) {
    assert.equal(parseBool(v, true), false, `parseBool(${JSON.stringify(v)})`);
  }
});

Deno.test("parseBool: property: any non-empty string other than 'true' is false", () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }).filter((s) => s !== "true"), fc.boolean(), (s, def) => {
      assert.equal(parseBool(s, def), false);
    }),
  );
});

Deno.test("parseNonNegativeInt: table", () => {
  const cases: [string | undefined, number][] = [
    [undefined, 99],
    ["", 99],
    ["0", 0],
    ["12", 12],
    ["+12", 12],
    ["007", 7],
    ["-1", 99],
    ["1.5", 99],
    ["1e3", 99],
    ["0x10", 99],
    [" 1", 99],
    ["abc", 99],
    ["99999999999999999999", 99],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseNonNegativeInt(input, 99), expected, `parseNonNegativeInt(${JSON.stringify(input)})`);
  }
});

Deno.test("parseNonNegativeInt: properties", () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.integer(), (n, def) => {
      assert.equal(parseNonNegativeInt(String(n), def), n);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ max: -1 }), fc.integer(), (n, def) => {
      assert.equal(parseNonNegativeInt(String(n), def), def);
    }),
  );
  fc.assert(
    fc.property(fc.string().filter((s) => /[^0-9+]/.test(s)), fc.integer(), (s, def) => {
      assert.equal(parseNonNegativeInt(s, def), def);
    }),
  );
});

// ---------------------------------------------------------------------------
// parseArgs
// ---------------------------------------------------------------------------

Deno.test("parseArgs: Go flag syntaxes", () => {
  const cases: [string[], Record<string, string | boolean>][] = [
    [[], {}],
    [["--port=9000"], { port: "9000" }],
    [["--port", "9000"], { port: "9000" }],
    [["-port", "9000"], { port: "9000" }],
    [["-port=9000"], { port: "9000" }],
    [["--verbose"], { verbose: true }],
    [["-verbose"], { verbose: true }],
    [["--verbose=false"], { verbose: false }],
    [["--verbose=1"], { verbose: true }],
    [["--kubeconfig"], { kubeconfig: true }],
    [["--kubeconfig", "--verbose"], { kubeconfig: true, verbose: true }],
    [["--master=https://k8s:6443?a=b"], { master: "https://k8s:6443?a=b" }],
    [["--port=1", "--port=2"], { port: "2" }],
    [["--host="], { host: "" }],
    [["--sim-node-memory", "8Gi", "--seed=3", "--"], { "sim-node-memory": "8Gi", seed: "3" }],
  ];
  for (const [args, flags] of cases) {
    assert.deepEqual(parseArgs(args), { flags, help: false }, JSON.stringify(args));
  }
});

Deno.test("parseArgs: help flags", () => {
  for (const args of [["--help"], ["-h"], ["-help"], ["--h"], ["--port", "1", "-h"], ["--help=true"]]) {
    assert.equal(parseArgs(args).help, true, JSON.stringify(args));
  }
  assert.equal(parseArgs(["--help=false"]).help, false);
  assert.equal(parseArgs(["--verbose"]).help, false);
  assert.deepEqual(parseArgs(["--help", "--port=1"]).flags, { port: "1" });
});

Deno.test("parseArgs: unknown flags, bad syntax and positional arguments throw", () => {
  assertConfigError(() => parseArgs(["--bogus"]), "--bogus");
  assertConfigError(() => parseArgs(["-x=1"]), "-x");
  assertConfigError(() => parseArgs(["--port=1", "--namespace", "x"]), "--namespace");
  assertConfigError(() => parseArgs(["--Port=1"]), "--Port");
  assertConfigError(() => parseArgs(["---port=1"]), "---port=1");
  assertConfigError(() => parseArgs(["--=1"]), "--=1");
  assertConfigError(() => parseArgs(["serve"]), "serve");
  assertConfigError(() => parseArgs(["--verbose", "false"]), "false", "--verbose=false");
  assertConfigError(() => parseArgs(["--", "x"]), '"x"');
  assertConfigError(() => parseArgs(["--verbose=maybe"]), "--verbose", "maybe");
});

Deno.test("parseArgs: property: unknown long flags are rejected by name", () => {
  const known = new Set([
    "port",
    "host",
    "max-body-bytes",
    "cluster",
    "kubeconfig",
    "master",
    "verbose",
    "sim-nodes",
    "sim-node-cpu",
    "sim-node-memory",
    "seed",
    "help",
    "h",
  ]);
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/).filter((s) => !known.has(s)),
      (name) => assertConfigError(() => parseArgs([`--${name}=1`]), `--${name}`),
    ),
  );
});

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
    scaleFromZeroTimeoutMs: 45_000,
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

// ---------------------------------------------------------------------------
// helpText
// ---------------------------------------------------------------------------

Deno.test("helpText: documents usage, backends, every flag and environment variable", () => {
  const text = helpText();
  assert.match(text, /Usage:\s+faas-deno \[flags\]/);
  assert.match(text, /simulator/i);
  assert.match(text, /in-cluster/);
  assert.match(text, /service account/);
  assert.match(text, /--cluster=kube/);
  assert.match(text, /Examples:/);
  const flags = [
    "--port",
    "--host",
    "--max-body-bytes",
    "--cluster",
    "--kubeconfig",
    "--master",
    "--verbose",
    "--sim-nodes",
    "--sim-node-cpu",
    "--sim-node-memory",
    "--seed",
    "--help",
  ];
  for (const flag of flags) {
    assert.match(text, new RegExp(`^  ${flag}\\b`, "m"), `help lacks ${flag}`);
  }
  const envVars = [
    "port",
    "host",
    "read_timeout",
    "write_timeout",
    "basic_auth",
    "secret_mount_path",
    "max_idle_conns",
    "max_idle_conns_per_host",
    "function_namespace",
    "http_probe",
    "set_nonroot_user",
    "image_pull_policy",
    "profiles_namespace",
    "cluster_role",
    "readiness_probe_initial_delay_seconds",
    "readiness_probe_timeout_seconds",
    "readiness_probe_period_seconds",
    "readiness_probe_success_threshold",
    "readiness_probe_failure_threshold",
    "liveness_probe_initial_delay_seconds",
    "liveness_probe_timeout_seconds",
    "liveness_probe_period_seconds",
    "liveness_probe_failure_threshold",
    "max_body_bytes",
    "sim_nodes",
    "sim_seed",
    "KUBERNETES_SERVICE_HOST",
  ];
  for (const name of envVars) {
    assert.match(text, new RegExp(`^  ${name}$`, "m"), `help lacks ${name}`);
  }
  for (const def of ["8081", "0.0.0.0", "10s", "/run/secrets/", "1024", "openfaas-fn", "1048576", "16Gi"]) {
    assert.ok(text.includes(def), `help lacks default ${def}`);
  }
  for (const line of text.split("\n")) {
    assert.ok(line.length <= 80, `help line too long: ${line}`);
  }
});

Deno.test("helpText: every flag it documents is accepted by parseArgs", () => {
  const documented = [...helpText().matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
  assert.ok(documented.length >= 12, `found only ${documented.length} flags`);
  for (const name of documented) {
    assert.doesNotThrow(() => parseArgs([`--${name}`]), `--${name}`);
  }
});
