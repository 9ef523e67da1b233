/**
 * The provider's configuration: one name, `ProviderConfig`, for the value (read by loadConfig from the
 * environment and flags) and for the Effect service that hands it to the layers.
 */
import { Context, Data, Layer } from "effect";

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
  /**
   * How often at most the leader writes a function's invocation history (env `history_write_interval`,
   * default 2m; 0: no persisted history).
   */
  historyWriteIntervalMs: number;
  /** How long a request at zero replicas is held for the function to come up (env `scale_from_zero_timeout`). */
  scaleFromZeroTimeoutMs: number;
  /** Leader election among the provider's replicas (env `leader_elect`, default true). */
  leaderElect: boolean;
  /** The leader election Lease: its name and namespace. */
  leaseName: string;
  leaseNamespace: string;
  /** This replica's identity: POD_NAME, or host:port off-cluster. */
  identity: string;
  /** This pod's IP (POD_IP from the downward API): where the leader reads this replica's load. */
  podIp?: string;
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

/** The configuration as an Effect service. */
export const ProviderConfig = Context.Service<ProviderConfig>("faas/config/ProviderConfig");

export const providerConfigLayer = (config: ProviderConfig) => Layer.succeed(ProviderConfig, config);

/** Invalid configuration. The message names the variable or flag and the offending value. */
export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly message: string }> {}

export const configError = (message: string) => new ConfigError({ message });
