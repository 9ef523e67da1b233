/** Command-line flags as Go's flag package reads them, and the help text that documents every one. */
import { assertConfigError } from "../support/config.ts";
import assert from "node:assert/strict";
import fc from "../support/fc.ts";
import { helpText } from "../../src/config/help.ts";
import { parseArgs } from "../../src/config/flags.ts";

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
