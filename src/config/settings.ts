/**
 * Every setting the provider reads, in one table: its environment variable (faas-netes' names) and/or
 * command-line flag, its default and help, and how its value is read. loadConfig reads the table and
 * `--help` is printed from it, so what is documented is what is read.
 *
 * Environment values are read leniently, as faas-provider's read_config does (a malformed value falls back
 * to the default), except where faas-netes fails at start-up; flags are strict and override the
 * environment.
 */
import { configError, type ProbeTimings, type ProviderConfig } from "./config.ts";
import { parseBool, parseDuration, parseNonNegativeInt, parseUnsigned } from "../domain/envvalues.ts";
import { parseQuantity } from "../domain/quantity.ts";

export type Env = Record<string, string | undefined>;
export type Flags = Record<string, string | boolean>;

export interface FlagSpec {
  readonly name: string;
  readonly kind: "bool" | "value";
  /** Placeholder shown in help, for value flags. */
  readonly arg?: string;
}

export interface Setting<A> {
  /** The environment variable, if the setting has one. */
  readonly env?: string;
  /** The command-line flag, if the setting has one; it wins over the environment. */
  readonly flag?: FlagSpec;
  /** The default, as help shows it. */
  readonly def: string;
  readonly help: string;
  readonly read: (flags: Flags, env: Env) => A;
}

const setting = <A>(s: Setting<A>): Setting<A> => s;

/**
 * A string value from a flag (which wins) or from the environment. An empty environment value counts as
 * unset; so does an empty flag value when `emptyFlagIsUnset` (plain string settings), otherwise it is
 * returned for validation to reject.
 */
const pick = (
  flags: Flags,
  flag: string | undefined,
  env: Env,
  envName?: string,
  emptyFlagIsUnset = false,
) => {
  const f = flag === undefined ? undefined : flags[flag];
  if (f === true) throw configError(`flag --${flag} requires a value`);
  if (typeof f === "string" && (f !== "" || !emptyFlagIsUnset)) return { value: f, source: `flag --${flag}` };
  if (envName !== undefined) {
    const e = env[envName];
    if (e !== undefined && e !== "") return { value: e, source: `environment variable ${envName}` };
  }
  return undefined;
};

const strictInt = (value: string, source: string, max = Number.MAX_SAFE_INTEGER): number => {
  const n = parseUnsigned(value);
  if (n === undefined || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? "a non-negative integer" : `an integer from 0 to ${max}`;
    throw configError(`invalid value ${JSON.stringify(value)} for ${source}: expected ${range}`);
  }
  return n;
};

/** An integer: strict from a flag, lenient (the default) from the environment. */
const intSetting = (flag: FlagSpec, env: string, def: number, help: string) =>
  setting({
    flag,
    env,
    def: String(def),
    help,
    read: (flags, e) => {
      const p = pick(flags, flag.name, {});
      return p !== undefined ? strictInt(p.value, p.source) : parseNonNegativeInt(e[env], def);
    },
  });

/** An environment integer where a non-empty invalid value is a start-up error (as in faas-netes). */
const strictEnvInt = (env: string, def: number, help: string) =>
  setting({
    env,
    def: String(def),
    help,
    read: (
      _,
      e,
    ) => (e[env] === undefined || e[env] === "" ? def : strictInt(e[env]!, `environment variable ${env}`)),
  });

const quantityFlag = (name: string, def: string, help: string) =>
  setting({
    flag: { name, kind: "value", arg: "QTY" },
    def,
    help,
    read: (flags) => {
      const p = pick(flags, name, {});
      if (p === undefined) return def;
      const q = parseQuantity(p.value);
      if (q === undefined || q.nanos <= 0n) {
        throw configError(
          `invalid value ${
            JSON.stringify(p.value)
          } for ${p.source}: expected a positive Kubernetes quantity such as ${def}`,
        );
      }
      return p.value;
    },
  });

const boolEnv = (env: string, def: boolean, help: string) =>
  setting({ env, def: String(def), help, read: (_, e) => parseBool(e[env], def) });

const durationEnv = (env: string, defMs: number, def: string, help: string) =>
  setting({ env, def, help, read: (_, e) => parseDuration(e[env], defMs) });

const intEnv = (env: string, def: number, help: string) =>
  setting({ env, def: String(def), help, read: (_, e) => parseNonNegativeInt(e[env], def) });

const positiveNumberEnv = (env: string, def: number, help: string, max = Infinity) =>
  setting({
    env,
    def: String(def),
    help,
    read: (_, e) => {
      const v = e[env], n = Number(v);
      return v !== undefined && v !== "" && Number.isFinite(n) && n > 0 && n <= max ? n : def;
    },
  });

/** The namespace of the pod's service account (its own namespace), when the file is there and readable. */
const serviceAccountNamespace = (): string | undefined => {
  try {
    return Deno.readTextFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace").trim() ||
      undefined;
  } catch {
    return undefined;
  }
};

/** This host's name, for an identity off-cluster (without permission to read it: localhost). */
export const hostName = (env: Env): string => {
  try {
    return Deno.hostname();
  } catch {
    return env.HOSTNAME || "localhost";
  }
};

/** Kubernetes sets this inside a pod: the kube backend, in-cluster. */
export const isInCluster = (env: Env): boolean => (env.KUBERNETES_SERVICE_HOST ?? "") !== "";

const probeDefaults = {
  initialDelaySeconds: 2,
  timeoutSeconds: 1,
  periodSeconds: 2,
  successThreshold: 1,
  failureThreshold: 3,
};

const probeSettings = <K extends "readiness" | "liveness">(kind: K) => ({
  [`${kind}_probe_initial_delay_seconds`]: intEnv(
    `${kind}_probe_initial_delay_seconds`,
    probeDefaults.initialDelaySeconds,
    `Function ${kind} probe: initial delay, seconds.`,
  ),
  [`${kind}_probe_timeout_seconds`]: intEnv(
    `${kind}_probe_timeout_seconds`,
    probeDefaults.timeoutSeconds,
    `Function ${kind} probe: timeout, seconds.`,
  ),
  [`${kind}_probe_period_seconds`]: intEnv(
    `${kind}_probe_period_seconds`,
    probeDefaults.periodSeconds,
    `Function ${kind} probe: period, seconds.`,
  ),
  // Kubernetes requires a liveness probe's successThreshold to be 1: only readiness has the setting.
  ...(kind === "readiness"
    ? {
      readiness_probe_success_threshold: intEnv(
        "readiness_probe_success_threshold",
        probeDefaults.successThreshold,
        "Function readiness probe: success threshold.",
      ),
    }
    : {}),
  [`${kind}_probe_failure_threshold`]: intEnv(
    `${kind}_probe_failure_threshold`,
    probeDefaults.failureThreshold,
    `Function ${kind} probe: failure threshold.`,
  ),
} as Record<string, Setting<number>>);

/** The probe timings of one kind from the settings' values. */
export const probeTimings = (
  kind: "readiness" | "liveness",
  value: (name: string) => number | undefined,
): ProbeTimings => ({
  initialDelaySeconds: value(`${kind}_probe_initial_delay_seconds`)!,
  timeoutSeconds: value(`${kind}_probe_timeout_seconds`)!,
  periodSeconds: value(`${kind}_probe_period_seconds`)!,
  successThreshold: value(`${kind}_probe_success_threshold`) ?? probeDefaults.successThreshold,
  failureThreshold: value(`${kind}_probe_failure_threshold`)!,
});

const imagePullPolicies = ["Always", "IfNotPresent", "Never"] as const;

const defaultPort = 8081;
const defaultFunctionNamespace = "openfaas-fn";

/** The table, in the order help lists it. */
export const settings = {
  port: setting({
    flag: { name: "port", kind: "value", arg: "N" },
    env: "port",
    def: String(defaultPort),
    help: "TCP port to listen on, 0-65535 (an invalid value is an error).",
    read: (flags, env) => {
      const p = pick(flags, "port", env, "port");
      return p === undefined ? defaultPort : strictInt(p.value, p.source, 65535);
    },
  }),
  host: setting({
    flag: { name: "host", kind: "value", arg: "ADDR" },
    env: "host",
    def: "0.0.0.0",
    help: "Address to bind to.",
    read: (flags, env) => pick(flags, "host", env, "host", true)?.value ?? "0.0.0.0",
  }),
  read_timeout: durationEnv(
    "read_timeout",
    10_000,
    "10s",
    "How long a request body may take to arrive (then 408) and an invocation may take: seconds, or a Go duration such as 65s or 1m5s; 0 sets no limit. Request headers are not bounded.",
  ),
  write_timeout: durationEnv(
    "write_timeout",
    10_000,
    "10s",
    "HTTP write timeout: seconds, or a Go duration.",
  ),
  basic_auth: boolEnv("basic_auth", false, "Require HTTP basic auth on the provider API (true/false)."),
  secret_mount_path: setting({
    env: "secret_mount_path",
    def: "/run/secrets/",
    help: "Directory holding basic-auth-user and basic-auth-password.",
    read: (_, env) => env.secret_mount_path || "/run/secrets/",
  }),
  max_idle_conns: strictEnvInt(
    "max_idle_conns",
    1024,
    "Max idle upstream connections in all (faas-netes' setting; checked, but Deno's HTTP client limits only per host).",
  ),
  max_idle_conns_per_host: strictEnvInt(
    "max_idle_conns_per_host",
    1024,
    "Max idle upstream connections per host (an invalid value is an error).",
  ),
  function_namespace: setting({
    env: "function_namespace",
    def: defaultFunctionNamespace,
    help: "Default namespace for functions (must not be empty).",
    read: (_, env) => {
      const ns = env.function_namespace ?? defaultFunctionNamespace;
      if (ns.trim() === "") {
        throw configError(
          `invalid value ${JSON.stringify(ns)} for environment variable function_namespace: ` +
            "a namespace is required",
        );
      }
      return ns;
    },
  }),
  http_probe: boolEnv("http_probe", false, "Use HTTP probes instead of exec probes for functions."),
  set_nonroot_user: boolEnv("set_nonroot_user", false, "Run function containers as a non-root user (12000)."),
  image_pull_policy: setting({
    env: "image_pull_policy",
    def: "Always",
    help: "Function image pull policy: Always, IfNotPresent or Never.",
    read: (_, env): ProviderConfig["imagePullPolicy"] => {
      const raw = env.image_pull_policy;
      if (raw === undefined || raw === "") return "Always";
      if (!(imagePullPolicies as readonly string[]).includes(raw)) {
        throw configError(
          `invalid value ${JSON.stringify(raw)} for environment variable image_pull_policy: ` +
            `expected one of ${imagePullPolicies.join(", ")}`,
        );
      }
      return raw as ProviderConfig["imagePullPolicy"];
    },
  }),
  profiles_namespace: setting({
    env: "profiles_namespace",
    def: "function_namespace",
    help: "Namespace holding OpenFaaS Profiles.",
    read: (_, env) => env.profiles_namespace || undefined,
  }),
  cluster_role: boolEnv("cluster_role", false, "Manage functions in multiple namespaces (ClusterRole)."),
  ...probeSettings("readiness"),
  ...probeSettings("liveness"),
  max_body_bytes: intSetting(
    { name: "max-body-bytes", kind: "value", arg: "N" },
    "max_body_bytes",
    1024 * 1024,
    "Largest accepted HTTP request body, in bytes (1 MiB by default).",
  ),
  cluster: setting({
    flag: { name: "cluster", kind: "value", arg: "sim|kube" },
    def: "sim; kube when in-cluster or when --kubeconfig is given",
    help: "Backend: the built-in cluster simulator or a real Kubernetes API server.",
    read: (flags, env): "sim" | "kube" | undefined => {
      const p = pick(flags, "cluster", env);
      if (p === undefined) return undefined;
      if (p.value === "sim" || p.value === "kube") return p.value;
      throw configError(`invalid value ${JSON.stringify(p.value)} for flag --cluster: expected sim or kube`);
    },
  }),
  kubeconfig: setting({
    flag: { name: "kubeconfig", kind: "value", arg: "PATH" },
    def: "none",
    help: "Path to a kubeconfig file; implies --cluster=kube. Only needed off-cluster.",
    read: (flags, env) => pick(flags, "kubeconfig", env, undefined, true)?.value,
  }),
  master: setting({
    flag: { name: "master", kind: "value", arg: "URL" },
    def: "none",
    help: "Kubernetes API server URL; overrides the server in the kubeconfig.",
    read: (flags, env) => pick(flags, "master", env, undefined, true)?.value,
  }),
  verbose: setting({
    flag: { name: "verbose", kind: "bool" },
    def: "false",
    help: "Verbose logging.",
    read: (flags) => flags.verbose === true,
  }),
  sim_nodes: intSetting(
    { name: "sim-nodes", kind: "value", arg: "N" },
    "sim_nodes",
    3,
    "Simulator: number of worker nodes.",
  ),
  sim_node_cpu: quantityFlag(
    "sim-node-cpu",
    "4",
    "Simulator: allocatable CPU per node (Kubernetes quantity, e.g. 4 or 3500m).",
  ),
  sim_node_memory: quantityFlag(
    "sim-node-memory",
    "16Gi",
    "Simulator: allocatable memory per node (Kubernetes quantity, e.g. 16Gi).",
  ),
  sim_seed: intSetting(
    { name: "seed", kind: "value", arg: "N" },
    "sim_seed",
    1,
    "Simulator: random seed, for reproducible runs.",
  ),
  image_check: boolEnv(
    "image_check",
    false,
    "Before deploy and update, ask the image's registry for its manifest (400 when it is missing or private " +
      "without a pull secret). The simulator answers from its image catalog.",
  ),
  scaling: boolEnv("scaling", true, "Run the autoscaler and the idler (scale to zero)."),
  predictive_scaling: boolEnv(
    "predictive_scaling",
    false,
    "Global switch for predictive scaling; functions opt in with the label com.openfaas.scale.predictive=true.",
  ),
  scale_from_zero_timeout: durationEnv(
    "scale_from_zero_timeout",
    30_000,
    "30s",
    "How long a request to a function at zero replicas is held while it scales up.",
  ),
  scale_default_min: intEnv(
    "scale_default_min",
    1,
    "com.openfaas.scale.min for functions without the label.",
  ),
  scale_default_max: intEnv(
    "scale_default_max",
    20,
    "com.openfaas.scale.max for functions without the label (at least the min).",
  ),
  scale_default_target: positiveNumberEnv(
    "scale_default_target",
    5,
    "Load per replica (com.openfaas.scale.target) for functions without the label.",
  ),
  scale_default_type: setting({
    env: "scale_default_type",
    def: "rps",
    help: "rps, capacity or cpu (com.openfaas.scale.type).",
    read: (_, env): ProviderConfig["scaleDefaults"]["type"] => {
      const t = env.scale_default_type;
      return t === "capacity" || t === "cpu" || t === "rps" ? t : "rps";
    },
  }),
  scale_default_target_proportion: positiveNumberEnv(
    "scale_default_target_proportion",
    0.9,
    "com.openfaas.scale.target-proportion default.",
    1,
  ),
  scale_default_zero_duration: durationEnv(
    "scale_default_zero_duration",
    15 * 60_000,
    "15m",
    "com.openfaas.scale.zero-duration default.",
  ),
  history_write_interval: durationEnv(
    "history_write_interval",
    2 * 60_000,
    "2m",
    "How often at most the leader writes a function's invocation history (the predictor's idle times) to " +
      "its ConfigMap faas-deno-history-<function>, and only when it changed: a restart or failover loses at " +
      "most this much. 0 turns persisted history off.",
  ),
  leader_elect: boolEnv(
    "leader_elect",
    true,
    "Elect one leader among the provider's replicas through a coordination.k8s.io Lease: only the leader " +
      "runs the autoscaler, the idler and the predictor; every replica serves the API and scales from zero.",
  ),
  leader_election_lease_name: setting({
    env: "leader_election_lease_name",
    def: "faas-deno",
    help: "Name of the leader election Lease.",
    read: (_, env) => env.leader_election_lease_name || "faas-deno",
  }),
  leader_election_namespace: setting({
    env: "leader_election_namespace",
    def: "the pod's own namespace (POD_NAMESPACE, else the service account's); openfaas off-cluster",
    help: "Namespace of the leader election Lease.",
    read: (_, env) =>
      env.leader_election_namespace || env.POD_NAMESPACE ||
      (isInCluster(env) ? serviceAccountNamespace() : undefined) || "openfaas",
  }),
  pod_name: setting({
    env: "POD_NAME",
    def: "host:port",
    help: "This replica's identity in leader election (set from the downward API in a pod).",
    read: (_, env) => env.POD_NAME || undefined,
  }),
  in_cluster: setting({
    env: "KUBERNETES_SERVICE_HOST",
    def: "unset",
    help: "Set by Kubernetes inside a pod; selects the kube backend (in-cluster).",
    read: (_, env) => isInCluster(env),
  }),
  help: setting({
    flag: { name: "help", kind: "bool" },
    def: "",
    help: "Show this help and exit (also -h).",
    read: () => undefined,
  }),
};
