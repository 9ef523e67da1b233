/**
 * The pure mapping between the faas-provider wire types and Kubernetes objects
 * (faas-netes "classic" behaviour): FunctionDeployment -> Deployment + Service,
 * an update applied to an existing Deployment, and Deployment -> FunctionStatus.
 */
import {
  functionLabel,
  probeDelayAnnotation,
  probePathAnnotation,
  scaleMinOf,
  serviceAccountAnnotation,
} from "../domain/keys.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { Container, EnvVar, Service, Volume, VolumeMount } from "kubernetes-types/core/v1.d.ts";
import type { FunctionDeployment, FunctionResources, FunctionStatus } from "../domain/types.ts";
import { canonicalQuantity, kubernetesQuantityString } from "../domain/quantity.ts";
import { parseConstraint } from "../domain/validation.ts";
import { parseDuration, parseGoDurationNs } from "../domain/envvalues.ts";
import type { ProbeTimings } from "../config/config.ts";
import { applyProfiles, removeProfiles } from "./profiles.ts";
import type { Profile } from "../kube/resources.ts";

const secretsMountPath = "/var/openfaas/secrets";
const functionPort = 8080;

/** What translation needs from configuration. */
export interface TranslateConfig {
  readonly httpProbe: boolean;
  readonly setNonRootUser: boolean;
  readonly imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  readonly readinessProbe: ProbeTimings;
  readonly livenessProbe: ProbeTimings;
}

/** A secret referenced by a function, as found in the function's namespace. */
export interface SecretRef {
  readonly name: string;
  readonly type?: string;
  readonly keys: readonly string[];
  /** Registry credentials of a pull secret (`host -> base64(user:password)`), for the image check. */
  readonly auths?: Readonly<Record<string, string>>;
}

export const isPullSecret = (s: SecretRef) =>
  s.type === "kubernetes.io/dockercfg" || s.type === "kubernetes.io/dockerconfigjson";

const annotationsFor = (req: FunctionDeployment): Record<string, string> => ({
  "prometheus.io.scrape": "false",
  ...(req.annotations ?? {}),
});

/** User labels plus `faas_function` (applied last, so it cannot be overridden). */
const podLabels = (req: FunctionDeployment, extra: Record<string, string> = {}): Record<string, string> => ({
  ...(req.labels ?? {}),
  ...extra,
  [functionLabel]: req.service,
});

const envFor = (req: FunctionDeployment): EnvVar[] => {
  const env: EnvVar[] = Object.entries(req.envVars ?? {}).filter(([k]) => k !== "fprocess" || !req.envProcess)
    .map(([name, value]) => ({ name, value }));
  if (req.envProcess) env.push({ name: "fprocess", value: req.envProcess });
  return env.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
};

const resourceKeys = ["memory", "cpu", "nvidia.com/gpu", "amd.com/gpu", "intel.com/gpu"] as const;

const toResourceList = (r: FunctionResources | null | undefined): Record<string, string> | undefined => {
  const out: Record<string, string> = {};
  for (const k of resourceKeys) {
    const v = r?.[k];
    if (v) out[k] = kubernetesQuantityString(v) ?? v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
};

/** Canonical forms already computed (quantity strings repeat across functions). */
const canonical = new Map<string, string>();
const canonicalOf = (q: string): string => {
  let c = canonical.get(q);
  if (c === undefined) {
    c = canonicalQuantity(q) ?? q;
    if (canonical.size < 10_000) canonical.set(q, c);
  }
  return c;
};

const fromResourceList = (r: Record<string, string> | undefined): FunctionResources | undefined => {
  if (!r) return undefined;
  const out: Record<string, string> = {};
  for (const k of resourceKeys) if (r[k]) out[k] = canonicalOf(r[k]);
  return Object.keys(out).length > 0 ? out : undefined;
};

/** `com.openfaas.health.http.initialDelay` in whole seconds (a Go duration, e.g. `30s`), if valid. */
const probeInitialDelaySeconds = (
  annotations: Readonly<Record<string, string>> | null | undefined,
) => {
  const raw = annotations?.[probeDelayAnnotation];
  if (raw === undefined) return undefined;
  const ns = parseGoDurationNs(raw.trim());
  return ns === undefined ? undefined : Math.floor(Number(ns) / 1e9);
};

const probeFor = (cfg: TranslateConfig, t: ProbeTimings, req: FunctionDeployment) => {
  const path = req.annotations?.[probePathAnnotation];
  return {
    ...(cfg.httpProbe || path
      ? { httpGet: { path: path || "/_/health", port: functionPort, scheme: "HTTP" } }
      : { exec: { command: ["cat", "/tmp/.lock"] } }),
    initialDelaySeconds: probeInitialDelaySeconds(req.annotations) ?? t.initialDelaySeconds,
    timeoutSeconds: t.timeoutSeconds,
    periodSeconds: t.periodSeconds,
    successThreshold: t.successThreshold,
    failureThreshold: t.failureThreshold,
  };
};

const nodeSelectorFor = (
  constraints: readonly string[] | null | undefined,
): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const c of constraints ?? []) {
    const kv = parseConstraint(c);
    if (kv) out[kv[0]] = kv[1];
  }
  return out;
};

/** `write_timeout` of the function (its watchdog's) plus 2 s, default 30 s + 2 s. */
const terminationGracePeriod = (req: FunctionDeployment): number => {
  const wt = req.envVars?.["write_timeout"];
  return Math.ceil(parseDuration(wt, 30_000) / 1000) + 2;
};

const projectedSuffix = "-projected-secrets";

/** `<service>-projected-secrets`, with the service part shortened so the name stays a 63-character label. */
const secretsVolumeName = (service: string) =>
  `${service.slice(0, 63 - projectedSuffix.length).replace(/-+$/, "")}${projectedSuffix}`;

/** The pod-level parts that depend on the request: volumes, mounts, pull secrets. */
const storageFor = (req: FunctionDeployment, secrets: readonly SecretRef[]) => {
  const volumes: Volume[] = [];
  const mounts: VolumeMount[] = [];
  const projected = secrets.filter((s) => !isPullSecret(s));
  if (projected.length > 0) {
    volumes.push({
      name: secretsVolumeName(req.service),
      projected: {
        sources: projected.map((s) => ({
          secret: { name: s.name, items: [...s.keys].sort().map((k) => ({ key: k, path: k })) },
        })),
      },
    });
    mounts.push({ name: secretsVolumeName(req.service), mountPath: secretsMountPath, readOnly: true });
  }
  if (req.readOnlyRootFilesystem) {
    volumes.push({ name: "temp", emptyDir: {} });
    mounts.push({ name: "temp", mountPath: "/tmp" });
  }
  const pullSecrets = secrets.filter(isPullSecret).map((s) => ({ name: s.name }));
  return { volumes, mounts, pullSecrets };
};

const containerFor = (
  req: FunctionDeployment,
  cfg: TranslateConfig,
  mounts: VolumeMount[],
  pullPolicy: string,
): Container => {
  const limits = toResourceList(req.limits);
  const requests = toResourceList(req.requests);
  return {
    name: req.service,
    image: req.image,
    ports: [{ name: "http", containerPort: functionPort, protocol: "TCP" }],
    env: envFor(req),
    resources: { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) },
    imagePullPolicy: pullPolicy,
    livenessProbe: probeFor(cfg, cfg.livenessProbe, req),
    readinessProbe: probeFor(cfg, cfg.readinessProbe, req),
    securityContext: {
      readOnlyRootFilesystem: req.readOnlyRootFilesystem ?? false,
      allowPrivilegeEscalation: false,
      ...(cfg.setNonRootUser ? { runAsUser: 12000 } : {}),
    },
    ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
  };
};

/** The Deployment and Service for a new function, with its Profiles applied (in order). */
export const toKubernetes = (
  req: FunctionDeployment,
  namespace: string,
  secrets: readonly SecretRef[],
  cfg: TranslateConfig,
  profiles: readonly Profile[] = [],
): { deployment: Deployment; service: Service } => {
  const annotations = annotationsFor(req);
  const { volumes, mounts, pullSecrets } = storageFor(req, secrets);
  const serviceAccount = annotations[serviceAccountAnnotation];
  const deployment: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: req.service,
      namespace,
      labels: podLabels(req),
      annotations,
    },
    spec: {
      replicas: scaleMinOf(req.labels) ?? 1,
      selector: { matchLabels: { [functionLabel]: req.service } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      revisionHistoryLimit: 10,
      template: {
        metadata: { name: req.service, labels: podLabels(req), annotations },
        spec: {
          containers: [containerFor(req, cfg, mounts, cfg.imagePullPolicy)],
          nodeSelector: nodeSelectorFor(req.constraints),
          restartPolicy: "Always",
          dnsPolicy: "ClusterFirst",
          enableServiceLinks: false,
          terminationGracePeriodSeconds: terminationGracePeriod(req),
          ...(serviceAccount ? { serviceAccountName: serviceAccount } : {}),
          ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets } : {}),
          ...(volumes.length > 0 ? { volumes } : {}),
        },
      },
    },
  };
  applyProfiles(deployment.spec!.template.spec!, profiles);
  return { deployment, service: serviceFor(req, namespace) };
};

/** The function's ClusterIP Service: port 8080 to the pods labelled with the function's name. */
export const serviceFor = (req: FunctionDeployment, namespace: string): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: req.service, namespace, annotations: annotationsFor(req) },
  spec: {
    type: "ClusterIP",
    selector: { [functionLabel]: req.service },
    ports: [{ name: "http", protocol: "TCP", port: functionPort, targetPort: functionPort }],
  },
});

/**
 * Applies an update to an existing Deployment (faas-netes update semantics):
 * container, labels, annotations, placement and storage are rebuilt; the pull
 * policy is kept; replicas change only when `com.openfaas.scale.min` is given;
 * a `uid` label forces a rollout so a moved `:latest` tag is pulled again.
 * Profiles the function no longer names are removed, then the named ones applied.
 */
export const applyUpdate = (
  existing: Deployment,
  req: FunctionDeployment,
  secrets: readonly SecretRef[],
  cfg: TranslateConfig,
  rolloutId: string,
  profiles: { readonly remove: readonly Profile[]; readonly apply: readonly Profile[] } = {
    remove: [],
    apply: [],
  },
): Deployment => {
  const d = structuredClone(existing);
  const annotations = annotationsFor(req);
  const { volumes, mounts, pullSecrets } = storageFor(req, secrets);
  const spec = d.spec!;
  const podSpec = spec.template.spec!;
  const previous = podSpec.containers[0];
  const container = containerFor(req, cfg, mounts, previous?.imagePullPolicy ?? cfg.imagePullPolicy);
  podSpec.containers = [container, ...podSpec.containers.slice(1)];
  podSpec.nodeSelector = nodeSelectorFor(req.constraints);
  podSpec.terminationGracePeriodSeconds = terminationGracePeriod(req);
  const serviceAccount = annotations[serviceAccountAnnotation];
  if (serviceAccount) podSpec.serviceAccountName = serviceAccount;
  else delete podSpec.serviceAccountName;
  if (pullSecrets.length > 0) podSpec.imagePullSecrets = pullSecrets;
  else delete podSpec.imagePullSecrets;
  const kept = (podSpec.volumes ?? []).filter((v) => v.name !== "temp" && !v.name.endsWith(projectedSuffix));
  podSpec.volumes = [...kept, ...volumes];
  if (podSpec.volumes.length === 0) delete podSpec.volumes;
  removeProfiles(podSpec, profiles.remove);
  applyProfiles(podSpec, profiles.apply);
  spec.template.metadata = {
    ...spec.template.metadata,
    labels: podLabels(req, { uid: rolloutId }),
    annotations,
  };
  d.metadata = { ...d.metadata, labels: podLabels(req), annotations };
  // Like faas-netes: only a positive scale.min resets replicas; otherwise autoscaling's choice stays.
  const min = scaleMinOf(req.labels);
  if (min !== undefined) spec.replicas = min;
  return d;
};

/** Service changes on update: only the annotations. */
export const applyServiceUpdate = (existing: Service, req: FunctionDeployment): Service => ({
  ...structuredClone(existing),
  metadata: { ...existing.metadata, annotations: annotationsFor(req) },
});

/** The FunctionStatus of a function Deployment (what list and status return). */
export const toFunctionStatus = (d: Deployment): FunctionStatus => {
  const template = d.spec?.template;
  const c = template?.spec?.containers?.[0];
  const env = c?.env ?? [];
  const envProcess = env.find((e) => e.name === "fprocess")?.value;
  const envVars: Record<string, string> = {};
  for (const e of env) {
    if (e.name !== "fprocess" && e.value !== undefined && !e.valueFrom) envVars[e.name] = e.value;
  }
  const constraints = Object.entries(template?.spec?.nodeSelector ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  const secrets = [
    ...(template?.spec?.imagePullSecrets ?? []).map((s) => s.name ?? ""),
    ...(template?.spec?.volumes ?? []).filter((v) => v.name.endsWith(projectedSuffix))
      .flatMap((v) => v.projected?.sources ?? []).map((s) => s.secret?.name ?? ""),
  ].filter((s) => s !== "").sort();
  const limits = fromResourceList(c?.resources?.limits as Record<string, string> | undefined);
  const requests = fromResourceList(c?.resources?.requests as Record<string, string> | undefined);
  const status: FunctionStatus = {
    name: d.metadata?.name ?? "",
    image: c?.image ?? "",
    namespace: d.metadata?.namespace ?? "",
    invocationCount: 0,
    replicas: d.spec?.replicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
    createdAt: d.metadata?.creationTimestamp ?? "0001-01-01T00:00:00Z",
  };
  if (envProcess) status.envProcess = envProcess;
  if (Object.keys(envVars).length > 0) status.envVars = envVars;
  if (constraints.length > 0) status.constraints = constraints;
  if (secrets.length > 0) status.secrets = secrets;
  const labels = template?.metadata?.labels;
  if (labels && Object.keys(labels).length > 0) status.labels = { ...labels };
  const annotations = template?.metadata?.annotations;
  if (annotations && Object.keys(annotations).length > 0) status.annotations = { ...annotations };
  if (limits) status.limits = limits;
  if (requests) status.requests = requests;
  if (c?.securityContext?.readOnlyRootFilesystem) status.readOnlyRootFilesystem = true;
  return status;
};
