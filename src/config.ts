/**
 * Provider configuration: environment variables and command-line flags.
 *
 * Environment handling follows the conventions of faas-provider's
 * `read_config.go` (lenient parsing that falls back to defaults) plus the
 * stricter checks faas-netes performs at start-up. Flags use Go `flag`
 * package syntax (`-name value`, `--name=value`, ...) and override the
 * corresponding environment variables.
 *
 * The module is pure: callers pass the environment and argument list in.
 */
import { parseQuantity } from "./domain/validation.ts";
import { isInCluster } from "./kube/incluster.ts";

export interface ProbeTimings {
  initialDelaySeconds: number;
  timeoutSeconds: number;
  periodSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface ProviderConfig {
  port: number;
  host: string;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  basicAuth: boolean;
  secretMountPath: string;
  maxIdleConns: number;
  maxIdleConnsPerHost: number;
  functionNamespace: string;
  httpProbe: boolean;
  setNonRootUser: boolean;
  imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  profilesNamespace: string;
  clusterRole: boolean;
  readinessProbe: ProbeTimings;
  livenessProbe: ProbeTimings;
  maxBodyBytes: number;
  cluster: "sim" | "kube";
  kubeconfig?: string;
  master?: string;
  verbose: boolean;
  simNodes: number;
  simNodeCpu: string;
  simNodeMemory: string;
  simSeed: number;
  /** Check at deploy that the image's registry has its manifest (env `image_check`, default false). */
  imageCheck: boolean;
  /** Scaling: the autoscaler and idler loop (env `scaling`, default true). */
  scaling: boolean;
  /** Global switch for predictive scaling (env `predictive_scaling`, default false). */
  predictiveScaling: boolean;
  /** How long a request at zero replicas is held for the function to come up (env `scale_from_zero_timeout`). */
  scaleFromZeroTimeoutMs: number;
  /** Defaults for functions without scaling labels. */
  scaleDefaults: {
    min: number;
    max: number;
    target: number;
    type: "rps" | "capacity" | "cpu";
    targetProportion: number;
    zeroDurationMs: number;
  };
}

/** Invalid configuration. The message names the variable or flag and the offending value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const PROGRAM = "faas-deno";

const DEFAULTS = {
  port: 8081,
  host: "0.0.0.0",
  readTimeoutMs: 10_000,
  writeTimeoutMs: 10_000,
  secretMountPath: "/run/secrets/",
  maxIdleConns: 1024,
  maxIdleConnsPerHost: 1024,
  functionNamespace: "openfaas-fn",
  imagePullPolicy: "Always",
  maxBodyBytes: 1024 * 1024,
  simNodes: 3,
  simNodeCpu: "4",
  simNodeMemory: "16Gi",
  simSeed: 1,
  probeInitialDelaySeconds: 2,
  probeTimeoutSeconds: 1,
  probePeriodSeconds: 2,
  probeSuccessThreshold: 1,
  probeFailureThreshold: 3,
} as const;

const IMAGE_PULL_POLICIES = ["Always", "IfNotPresent", "Never"] as const;
type ImagePullPolicy = typeof IMAGE_PULL_POLICIES[number];

// ---------------------------------------------------------------------------
// Scalar parsers
// ---------------------------------------------------------------------------

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n, // MICRO SIGN
  "\u03bcs": 1_000n, // GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Largest duration Go can represent (int64 nanoseconds). */
const MAX_DURATION_NS = (1n << 63n) - 1n;

const DECIMAL = /^\+?[0-9]+$/;

/** Parses a Go-style integer (optional `+`, decimal digits) that fits in a safe JS integer. */
function parseUnsigned(value: string): number | undefined {
  if (!DECIMAL.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses a Go `time.Duration` string into nanoseconds, or undefined when invalid or negative. */
export function parseGoDurationNs(input: string): bigint | undefined {
  let s = input;
  if (s.startsWith("-")) return undefined; // negative timeouts are meaningless here
  if (s.startsWith("+")) s = s.slice(1);
  if (s === "0") return 0n;
  if (s === "") return undefined;

  const segment = /([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/y;
  let total = 0n;
  let pos = 0;
  while (pos < s.length) {
    segment.lastIndex = pos;
    const m = segment.exec(s);
    if (m === null) return undefined;
    const [whole, intDigits, fracDigits = "", unit] = m;
    if (intDigits === "" && fracDigits === "") return undefined;
    const perUnit = NS_PER_UNIT[unit];
    if (perUnit === undefined) return undefined;
    // Bounded before BigInt: more than 19 significant digits overflow int64 nanoseconds (Go errors),
    // and fraction digits past the 19th are below a nanosecond (Go stops reading them too).
    const intPart = intDigits.replace(/^0+/, "");
    if (intPart.length > 19) return undefined;
    const fracPart = fracDigits.slice(0, 19);
    total += BigInt(intPart === "" ? "0" : intPart) * perUnit;
    if (fracPart !== "") {
      total += (BigInt(fracPart) * perUnit) / 10n ** BigInt(fracPart.length);
    }
    if (total > MAX_DURATION_NS) return undefined;
    pos += whole.length;
  }
  return total;
}

/**
 * Parses a timeout: a bare non-negative integer is a number of seconds,
 * anything else is read as a Go duration (`65s`, `1m05s`, `1h2m3.5s`, `500ms`).
 * Empty, unparsable or negative values yield `defaultMs`. Returns milliseconds
 * (fractional for sub-millisecond precision).
 */
export function parseDuration(value: string | undefined, defaultMs: number): number {
  if (value === undefined || value === "") return defaultMs;
  const seconds = parseUnsigned(value);
  if (seconds !== undefined) {
    const ms = seconds * 1000;
    return Number.isSafeInteger(ms) ? ms : defaultMs;
  }
  const ns = parseGoDurationNs(value);
  return ns === undefined ? defaultMs : Number(ns) / 1e6;
}

/** Only the exact string `true` is true; empty/undefined gives the default; anything else is false. */
export function parseBool(value: string | undefined, defaultValue: boolean): boolean {
  if (value === undefined || value === "") return defaultValue;
  return value === "true";
}

/** A non-negative decimal integer, or `defaultValue` when empty, negative or malformed. */
export function parseNonNegativeInt(value: string | undefined, defaultValue: number): number {
  if (value === undefined || value === "") return defaultValue;
  return parseUnsigned(value) ?? defaultValue;
}

// ---------------------------------------------------------------------------
// Command-line flags
// ---------------------------------------------------------------------------

type FlagKind = "bool" | "value";

interface FlagSpec {
  name: string;
  kind: FlagKind;
  /** Placeholder shown in help, for value flags. */
  arg?: string;
  env?: string;
  def: string;
  help: string;
}

const FLAGS: readonly FlagSpec[] = [
  {
    name: "port",
    kind: "value",
    arg: "N",
    env: "port",
    def: String(DEFAULTS.port),
    help: "TCP port to listen on (0-65535).",
  },
  {
    name: "host",
    kind: "value",
    arg: "ADDR",
    env: "host",
    def: DEFAULTS.host,
    help: "Address to bind to.",
  },
  {
    name: "max-body-bytes",
    kind: "value",
    arg: "N",
    env: "max_body_bytes",
    def: `${DEFAULTS.maxBodyBytes} (1 MiB)`,
    help: "Largest accepted HTTP request body, in bytes.",
  },
  {
    name: "cluster",
    kind: "value",
    arg: "sim|kube",
    def: "sim; kube when in-cluster or when --kubeconfig is given",
    help: "Backend: the built-in cluster simulator or a real Kubernetes API server.",
  },
  {
    name: "kubeconfig",
    kind: "value",
    arg: "PATH",
    def: "none",
    help: "Path to a kubeconfig file; implies --cluster=kube. Only needed off-cluster.",
  },
  {
    name: "master",
    kind: "value",
    arg: "URL",
    def: "none",
    help: "Kubernetes API server URL; overrides the server in the kubeconfig.",
  },
  {
    name: "verbose",
    kind: "bool",
    def: "false",
    help: "Verbose logging.",
  },
  {
    name: "sim-nodes",
    kind: "value",
    arg: "N",
    env: "sim_nodes",
    def: String(DEFAULTS.simNodes),
    help: "Simulator: number of worker nodes.",
  },
  {
    name: "sim-node-cpu",
    kind: "value",
    arg: "QTY",
    def: DEFAULTS.simNodeCpu,
    help: "Simulator: allocatable CPU per node (Kubernetes quantity, e.g. 4 or 3500m).",
  },
  {
    name: "sim-node-memory",
    kind: "value",
    arg: "QTY",
    def: DEFAULTS.simNodeMemory,
    help: "Simulator: allocatable memory per node (Kubernetes quantity, e.g. 16Gi).",
  },
  {
    name: "seed",
    kind: "value",
    arg: "N",
    env: "sim_seed",
    def: String(DEFAULTS.simSeed),
    help: "Simulator: random seed, for reproducible runs.",
  },
  {
    name: "help",
    kind: "bool",
    def: "",
    help: "Show this help and exit (also -h).",
  },
];

const FLAG_BY_NAME: ReadonlyMap<string, FlagSpec> = new Map([
  ...FLAGS.map((f) => [f.name, f] as const),
  ["h", FLAGS.find((f) => f.name === "help")!] as const,
]);

/** Go's strconv.ParseBool vocabulary, used for `--bool=value`. */
function parseFlagBool(raw: string, value: string): boolean {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw new ConfigError(`invalid value ${JSON.stringify(value)} for flag ${raw}: expected true or false`);
}

/**
 * Parses command-line arguments in Go `flag` style: `--k=v`, `--k v`, `-k v`,
 * `-k=v`. A boolean flag given bare is true and never consumes the next
 * argument; a value flag given bare (at the end, or followed by another flag)
 * is recorded as `true`, which `loadConfig` rejects. `--help`, `-help` and
 * `-h` set `help`. `--` ends the flags. Unknown flags, malformed flags and
 * positional arguments throw {@link ConfigError}.
 */
export function parseArgs(args: string[]): { flags: Record<string, string | boolean>; help: boolean } {
  const flags: Record<string, string | boolean> = {};
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (i + 1 < args.length) {
        throw new ConfigError(
          `unexpected argument ${JSON.stringify(args[i + 1])}: ${PROGRAM} takes no arguments`,
        );
      }
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      const hint = i > 0 && FLAG_BY_NAME.get(args[i - 1].replace(/^--?/, ""))?.kind === "bool"
        ? ` (boolean flags take their value as ${args[i - 1]}=${arg})`
        : "";
      throw new ConfigError(
        `unexpected argument ${JSON.stringify(arg)}: ${PROGRAM} takes no positional arguments${hint}`,
      );
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const raw = arg.slice(0, arg.length - body.length) + name;
    if (name === "" || name.startsWith("-")) {
      throw new ConfigError(`bad flag syntax: ${arg}`);
    }
    const spec = FLAG_BY_NAME.get(name);
    if (spec === undefined) {
      throw new ConfigError(`unknown flag ${raw} (run ${PROGRAM} --help for the list of flags)`);
    }
    let value: string | boolean;
    if (eq !== -1) {
      const text = body.slice(eq + 1);
      value = spec.kind === "bool" ? parseFlagBool(raw, text) : text;
    } else if (spec.kind === "value" && i + 1 < args.length && !args[i + 1].startsWith("-")) {
      value = args[++i];
    } else {
      value = true;
    }
    if (spec.name === "help") help = value === true;
    else flags[spec.name] = value;
  }
  return { flags, help };
}

// ---------------------------------------------------------------------------
// loadConfig
// ---------------------------------------------------------------------------

type Env = Record<string, string | undefined>;

/**
 * A string value from a flag (which wins) or from the environment. An empty
 * environment value counts as unset; so does an empty flag value when
 * `emptyFlagIsUnset` (plain string settings), otherwise it is returned for
 * validation to reject.
 */
function pick(
  flags: Record<string, string | boolean>,
  flag: string,
  env: Env,
  envName?: string,
  emptyFlagIsUnset = false,
) {
  const f = flags[flag];
  if (f === true) throw new ConfigError(`flag --${flag} requires a value`);
  if (typeof f === "string" && (f !== "" || !emptyFlagIsUnset)) return { value: f, source: `flag --${flag}` };
  if (envName !== undefined) {
    const e = env[envName];
    if (e !== undefined && e !== "") return { value: e, source: `environment variable ${envName}` };
  }
  return undefined;
}

function strictInt(value: string, source: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = parseUnsigned(value);
  if (n === undefined || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? "a non-negative integer" : `an integer from 0 to ${max}`;
    throw new ConfigError(`invalid value ${JSON.stringify(value)} for ${source}: expected ${range}`);
  }
  return n;
}

/** Integer setting: strict for a flag, lenient (falls back to the default) for the environment. */
function intSetting(
  flags: Record<string, string | boolean>,
  flag: string,
  env: Env,
  envName: string,
  def: number,
) {
  const p = pick(flags, flag, env);
  if (p !== undefined) return strictInt(p.value, p.source);
  return parseNonNegativeInt(env[envName], def);
}

/** Environment integer where a non-empty invalid value is a start-up error. */
function strictEnvInt(env: Env, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === "") return def;
  return strictInt(v, `environment variable ${name}`);
}

function quantitySetting(flags: Record<string, string | boolean>, flag: string, def: string): string {
  const p = pick(flags, flag, {});
  if (p === undefined) return def;
  const q = parseQuantity(p.value);
  if (q === undefined || q.nanos <= 0n) {
    throw new ConfigError(
      `invalid value ${
        JSON.stringify(p.value)
      } for ${p.source}: expected a positive Kubernetes quantity such as ${def}`,
    );
  }
  return p.value;
}

function probeTimings(env: Env, prefix: "readiness" | "liveness"): ProbeTimings {
  const get = (suffix: string, def: number) => parseNonNegativeInt(env[`${prefix}_probe_${suffix}`], def);
  return {
    initialDelaySeconds: get("initial_delay_seconds", DEFAULTS.probeInitialDelaySeconds),
    timeoutSeconds: get("timeout_seconds", DEFAULTS.probeTimeoutSeconds),
    periodSeconds: get("period_seconds", DEFAULTS.probePeriodSeconds),
    // Kubernetes requires a liveness probe's successThreshold to be 1.
    successThreshold: prefix === "readiness"
      ? get("success_threshold", DEFAULTS.probeSuccessThreshold)
      : DEFAULTS.probeSuccessThreshold,
    failureThreshold: get("failure_threshold", DEFAULTS.probeFailureThreshold),
  };
}

/**
 * Builds the provider configuration from environment variables and
 * command-line arguments (flags override the environment). `--help` is
 * ignored here; check `parseArgs(args).help` first. Throws {@link ConfigError}.
 */
export function loadConfig(env: Env, args: string[]): ProviderConfig {
  const { flags } = parseArgs(args);

  const portSetting = pick(flags, "port", env, "port");
  const port = portSetting === undefined
    ? DEFAULTS.port
    : strictInt(portSetting.value, portSetting.source, 65535);

  const functionNamespace = env.function_namespace ?? DEFAULTS.functionNamespace;
  if (functionNamespace.trim() === "") {
    throw new ConfigError(
      `invalid value ${JSON.stringify(functionNamespace)} for environment variable function_namespace: ` +
        "a namespace is required",
    );
  }

  const pullPolicyRaw = env.image_pull_policy;
  let imagePullPolicy: ImagePullPolicy = DEFAULTS.imagePullPolicy;
  if (pullPolicyRaw !== undefined && pullPolicyRaw !== "") {
    if (!(IMAGE_PULL_POLICIES as readonly string[]).includes(pullPolicyRaw)) {
      throw new ConfigError(
        `invalid value ${JSON.stringify(pullPolicyRaw)} for environment variable image_pull_policy: ` +
          `expected one of ${IMAGE_PULL_POLICIES.join(", ")}`,
      );
    }
    imagePullPolicy = pullPolicyRaw as ImagePullPolicy;
  }

  const kubeconfig = pick(flags, "kubeconfig", env, undefined, true)?.value;
  const master = pick(flags, "master", env, undefined, true)?.value;
  const inCluster = isInCluster(env);
  const clusterSetting = pick(flags, "cluster", env);
  let cluster: "sim" | "kube";
  if (clusterSetting === undefined) {
    cluster = kubeconfig !== undefined || inCluster ? "kube" : "sim";
  } else if (clusterSetting.value === "sim" || clusterSetting.value === "kube") {
    cluster = clusterSetting.value;
  } else {
    throw new ConfigError(
      `invalid value ${JSON.stringify(clusterSetting.value)} for flag --cluster: expected sim or kube`,
    );
  }

  const verboseFlag = flags.verbose;

  const config: ProviderConfig = {
    port,
    host: pick(flags, "host", env, "host", true)?.value ?? DEFAULTS.host,
    readTimeoutMs: parseDuration(env.read_timeout, DEFAULTS.readTimeoutMs),
    writeTimeoutMs: parseDuration(env.write_timeout, DEFAULTS.writeTimeoutMs),
    basicAuth: parseBool(env.basic_auth, false),
    secretMountPath: env.secret_mount_path || DEFAULTS.secretMountPath,
    maxIdleConns: strictEnvInt(env, "max_idle_conns", DEFAULTS.maxIdleConns),
    maxIdleConnsPerHost: strictEnvInt(env, "max_idle_conns_per_host", DEFAULTS.maxIdleConnsPerHost),
    functionNamespace,
    httpProbe: parseBool(env.http_probe, false),
    setNonRootUser: parseBool(env.set_nonroot_user, false),
    imagePullPolicy,
    profilesNamespace: env.profiles_namespace || functionNamespace,
    clusterRole: parseBool(env.cluster_role, false),
    readinessProbe: probeTimings(env, "readiness"),
    livenessProbe: probeTimings(env, "liveness"),
    maxBodyBytes: intSetting(flags, "max-body-bytes", env, "max_body_bytes", DEFAULTS.maxBodyBytes),
    cluster,
    verbose: verboseFlag === true,
    simNodes: intSetting(flags, "sim-nodes", env, "sim_nodes", DEFAULTS.simNodes),
    simNodeCpu: quantitySetting(flags, "sim-node-cpu", DEFAULTS.simNodeCpu),
    simNodeMemory: quantitySetting(flags, "sim-node-memory", DEFAULTS.simNodeMemory),
    simSeed: intSetting(flags, "seed", env, "sim_seed", DEFAULTS.simSeed),
    imageCheck: parseBool(env.image_check, false),
    scaling: parseBool(env.scaling, true),
    predictiveScaling: parseBool(env.predictive_scaling, false),
    scaleFromZeroTimeoutMs: parseDuration(env.scale_from_zero_timeout, 30_000),
    scaleDefaults: scaleDefaults(env),
  };
  if (kubeconfig !== undefined) config.kubeconfig = kubeconfig;
  if (master !== undefined) config.master = master;
  return config;
}

const positiveNumber = (v: string | undefined, d: number, max = Infinity) => {
  const n = Number(v);
  return v !== undefined && v !== "" && Number.isFinite(n) && n > 0 && n <= max ? n : d;
};

function scaleDefaults(env: Env): ProviderConfig["scaleDefaults"] {
  const type = env.scale_default_type;
  const min = parseNonNegativeInt(env.scale_default_min, 1);
  return {
    min,
    max: Math.max(min, parseNonNegativeInt(env.scale_default_max, 20)),
    target: positiveNumber(env.scale_default_target, 5),
    type: type === "capacity" || type === "cpu" || type === "rps" ? type : "rps",
    targetProportion: positiveNumber(env.scale_default_target_proportion, 0.9, 1),
    zeroDurationMs: parseDuration(env.scale_default_zero_duration, 15 * 60_000),
  };
}

// ---------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------

interface EnvSpec {
  name: string;
  def: string;
  help: string;
}

const ENV_VARS: readonly EnvSpec[] = [
  {
    name: "port",
    def: String(DEFAULTS.port),
    help: "TCP port to listen on, 0-65535 (same as --port; invalid value is an error).",
  },
  { name: "host", def: DEFAULTS.host, help: "Address to bind to (same as --host)." },
  {
    name: "read_timeout",
    def: "10s",
    help:
      "How long a request body may take to arrive (then 408) and an invocation may take: seconds, or a Go duration such as 65s or 1m5s. Request headers are not bounded.",
  },
  { name: "write_timeout", def: "10s", help: "HTTP write timeout: seconds, or a Go duration." },
  { name: "basic_auth", def: "false", help: "Require HTTP basic auth on the provider API (true/false)." },
  {
    name: "secret_mount_path",
    def: DEFAULTS.secretMountPath,
    help: "Directory holding basic-auth-user and basic-auth-password.",
  },
  {
    name: "max_idle_conns",
    def: String(DEFAULTS.maxIdleConns),
    help:
      "Max idle upstream connections in all (faas-netes' setting; checked, but Deno's HTTP client limits only per host).",
  },
  {
    name: "max_idle_conns_per_host",
    def: String(DEFAULTS.maxIdleConnsPerHost),
    help: "Max idle upstream connections per host (invalid value is an error).",
  },
  {
    name: "function_namespace",
    def: DEFAULTS.functionNamespace,
    help: "Default namespace for functions (must not be empty).",
  },
  { name: "http_probe", def: "false", help: "Use HTTP probes instead of exec probes for functions." },
  { name: "set_nonroot_user", def: "false", help: "Run function containers as a non-root user (12000)." },
  {
    name: "image_pull_policy",
    def: DEFAULTS.imagePullPolicy,
    help: "Function image pull policy: Always, IfNotPresent or Never.",
  },
  {
    name: "profiles_namespace",
    def: "function_namespace",
    help: "Namespace holding OpenFaaS Profiles.",
  },
  { name: "cluster_role", def: "false", help: "Manage functions in multiple namespaces (ClusterRole)." },
  ...(["readiness", "liveness"] as const).flatMap((kind) => [
    {
      name: `${kind}_probe_initial_delay_seconds`,
      def: String(DEFAULTS.probeInitialDelaySeconds),
      help: `Function ${kind} probe: initial delay, seconds.`,
    },
    {
      name: `${kind}_probe_timeout_seconds`,
      def: String(DEFAULTS.probeTimeoutSeconds),
      help: `Function ${kind} probe: timeout, seconds.`,
    },
    {
      name: `${kind}_probe_period_seconds`,
      def: String(DEFAULTS.probePeriodSeconds),
      help: `Function ${kind} probe: period, seconds.`,
    },
    ...(kind === "readiness"
      ? [{
        name: "readiness_probe_success_threshold",
        def: String(DEFAULTS.probeSuccessThreshold),
        help: "Function readiness probe: success threshold.",
      }]
      : []),
    {
      name: `${kind}_probe_failure_threshold`,
      def: String(DEFAULTS.probeFailureThreshold),
      help: `Function ${kind} probe: failure threshold.`,
    },
  ]),
  {
    name: "max_body_bytes",
    def: String(DEFAULTS.maxBodyBytes),
    help: "Largest accepted HTTP request body, in bytes (same as --max-body-bytes).",
  },
  { name: "sim_nodes", def: String(DEFAULTS.simNodes), help: "Simulator node count (same as --sim-nodes)." },
  { name: "sim_seed", def: String(DEFAULTS.simSeed), help: "Simulator random seed (same as --seed)." },
  {
    name: "image_check",
    def: "false",
    help:
      "Before deploy and update, ask the image's registry for its manifest (400 when it is missing or private " +
      "without a pull secret). The simulator answers from its image catalog.",
  },
  { name: "scaling", def: "true", help: "Run the autoscaler and the idler (scale to zero)." },
  {
    name: "predictive_scaling",
    def: "false",
    help:
      "Global switch for predictive scaling; functions opt in with the label com.openfaas.scale.predictive=true.",
  },
  {
    name: "scale_from_zero_timeout",
    def: "30s",
    help: "How long a request to a function at zero replicas is held while it scales up.",
  },
  { name: "scale_default_min", def: "1", help: "com.openfaas.scale.min for functions without the label." },
  { name: "scale_default_max", def: "20", help: "com.openfaas.scale.max for functions without the label." },
  {
    name: "scale_default_target",
    def: "5",
    help: "Load per replica (com.openfaas.scale.target) for functions without the label.",
  },
  { name: "scale_default_type", def: "rps", help: "rps, capacity or cpu (com.openfaas.scale.type)." },
  {
    name: "scale_default_target_proportion",
    def: "0.9",
    help: "com.openfaas.scale.target-proportion default.",
  },
  { name: "scale_default_zero_duration", def: "15m", help: "com.openfaas.scale.zero-duration default." },
  {
    name: "KUBERNETES_SERVICE_HOST",
    def: "unset",
    help: "Set by Kubernetes inside a pod; selects the kube backend (in-cluster).",
  },
];

/** Greedy word wrap of `text` to `width` columns, each line prefixed by `indent`. */
function wrap(text: string, indent: string, width = 79): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(indent + line);
  return lines.join("\n");
}

/** Go `flag`-style entries: the name on one line, the wrapped description below it. */
function entries(rows: readonly (readonly [string, string])[]): string {
  return rows.map(([left, right]) => `  ${left}\n${wrap(right, "        ")}`).join("\n");
}

/** The `--help` text. */
export function helpText(): string {
  const flagRows = FLAGS.map((f) => {
    const left = f.kind === "value" ? `--${f.name} ${f.arg}` : `--${f.name}`;
    const def = f.def !== "" ? ` Default: ${f.def}.` : "";
    const env = f.env !== undefined ? ` Environment: ${f.env}.` : "";
    return [left, f.help + def + env] as const;
  });
  const envRows = ENV_VARS.map((e) => [e.name, `${e.help} Default: ${e.def}.`] as const);

  return `${PROGRAM} - the OpenFaaS provider for Kubernetes, a drop-in replacement
for faas-netes. It serves the faas-provider HTTP API to the OpenFaaS Gateway.

Usage:
  ${PROGRAM} [flags]

Backends:
  sim   The built-in cluster simulator. This is the default when running
        off-cluster: no Kubernetes is needed; the simulator is shaped by
        --sim-nodes, --sim-node-cpu, --sim-node-memory and --seed.
  kube  A real Kubernetes cluster. Selected automatically when running
        in-cluster (KUBERNETES_SERVICE_HOST is set; the pod's service account
        is used) or when --kubeconfig is given; force it with --cluster=kube.
        The KUBECONFIG environment variable alone does not select it.

Flags (also accepted with a single dash, and as --flag=value or --flag value;
flags override the matching environment variable):
${entries(flagRows)}

Environment variables:
${entries(envRows)}

Durations are a bare number of seconds or a Go duration (500ms, 65s, 1m5s,
1h2m3.5s); invalid durations and integers fall back to the default, except
where noted. Booleans are true only for the exact value "true".

Examples:
  # Run against the simulator with 5 nodes and a fixed seed
  ${PROGRAM} --sim-nodes 5 --seed 42

  # Run against a real cluster from your workstation
  ${PROGRAM} --kubeconfig ~/.kube/config --port 8081

  # Inside a pod (in-cluster), with custom timeouts and namespace
  read_timeout=65s write_timeout=65s function_namespace=openfaas-fn ${PROGRAM}
`;
}
