/** The provider's configuration from the environment and the command line, read through the settings table. */
import type { ProviderConfig } from "./config.ts";
import { parseArgs } from "./flags.ts";
import { type Env, hostName, probeTimings, settings } from "./settings.ts";

type Settings = typeof settings;

/**
 * Builds the configuration from environment variables and command-line arguments (flags override the
 * environment). `--help` is ignored here; check `parseArgs(args).help` first. Throws a ConfigError.
 */
export function loadConfig(env: Env, args: string[]): ProviderConfig {
  const { flags } = parseArgs(args);
  const values = new Map<string, unknown>();
  for (const [key, s] of Object.entries(settings)) values.set(key, s.read(flags, env));
  const v = <K extends keyof Settings>(key: K) => values.get(key) as ReturnType<Settings[K]["read"]>;
  const number = (key: string) => values.get(key) as number | undefined;

  const functionNamespace = v("function_namespace");
  const kubeconfig = v("kubeconfig"), master = v("master");
  const min = v("scale_default_min");
  const config: ProviderConfig = {
    port: v("port"),
    host: v("host"),
    readTimeoutMs: v("read_timeout"),
    writeTimeoutMs: v("write_timeout"),
    basicAuth: v("basic_auth"),
    secretMountPath: v("secret_mount_path"),
    maxIdleConns: v("max_idle_conns"),
    maxIdleConnsPerHost: v("max_idle_conns_per_host"),
    functionNamespace,
    httpProbe: v("http_probe"),
    setNonRootUser: v("set_nonroot_user"),
    imagePullPolicy: v("image_pull_policy"),
    profilesNamespace: v("profiles_namespace") ?? functionNamespace,
    clusterRole: v("cluster_role"),
    readinessProbe: probeTimings("readiness", number),
    livenessProbe: probeTimings("liveness", number),
    maxBodyBytes: v("max_body_bytes"),
    cluster: v("cluster") ?? (kubeconfig !== undefined || v("in_cluster") ? "kube" : "sim"),
    verbose: v("verbose"),
    simNodes: v("sim_nodes"),
    simNodeCpu: v("sim_node_cpu"),
    simNodeMemory: v("sim_node_memory"),
    simSeed: v("sim_seed"),
    imageCheck: v("image_check"),
    scaling: v("scaling"),
    predictiveScaling: v("predictive_scaling"),
    historyWriteIntervalMs: v("history_write_interval"),
    scaleFromZeroTimeoutMs: v("scale_from_zero_timeout"),
    leaderElect: v("leader_elect"),
    leaseName: v("leader_election_lease_name"),
    leaseNamespace: v("leader_election_namespace"),
    // Off-cluster, host:port; with an ephemeral port (0) the process id tells replicas on one host apart.
    identity: v("pod_name") ?? `${hostName(env)}:${v("port") === 0 ? `pid-${Deno.pid}` : v("port")}`,
    scaleDefaults: {
      min,
      max: Math.max(min, v("scale_default_max")),
      target: v("scale_default_target"),
      type: v("scale_default_type"),
      targetProportion: v("scale_default_target_proportion"),
      zeroDurationMs: v("scale_default_zero_duration"),
    },
  };
  if (kubeconfig !== undefined) config.kubeconfig = kubeconfig;
  if (master !== undefined) config.master = master;
  if (env.POD_IP) config.podIp = env.POD_IP;
  return config;
}
