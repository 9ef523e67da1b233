/**
 * What the caches keep of each object: the fields the provider reads from its caches, not the whole
 * object the API server sends. Every cached object is held for as long as it exists, so what is dropped
 * here is saved once per function (bench:memory measures it): the API server's bookkeeping
 * (metadata.managedFields, kubectl's last-applied-configuration copy, owner references), a pod's whole
 * spec, and status details nobody reads.
 *
 * Who reads what (keep this in step when a reader starts using another field):
 * - Deployments: list and status (src/provider/translate.ts toFunctionStatus: labels, annotations and
 *   the pod template's first container: image, env, resources, securityContext; nodeSelector, volumes,
 *   imagePullSecrets; replicas, status.availableReplicas, creationTimestamp), the scaler (template
 *   labels, replicas, status.readyReplicas), the invoke proxy and logs (metadata.labels), profiles on
 *   update (template annotations). Writes never start from a cached Deployment: they read it afresh.
 * - Pods: readiness reasons (src/provider/health.ts: status.phase, conditions' type, status, reason and
 *   message; the first container's state and lastState) and the scaler (PodScheduled); by function label.
 * - EndpointSlices: the invoke proxy's endpoint index (src/invoke/proxy.ts: the service-name label,
 *   endpoints' addresses, ready condition and targetRef name, ports' name and port).
 * - Secrets: names and metadata only; their values stay in the API server.
 */
import type { Deployment, DeploymentStatus } from "kubernetes-types/apps/v1.d.ts";
import type { Container, ContainerStatus, Pod, PodCondition, Secret } from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import type { ObjectMeta } from "kubernetes-types/meta/v1.d.ts";

/** kubectl apply's copy of the whole object it applied, in metadata.annotations. */
export const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

/** Metadata without the API server's bookkeeping (managedFields, owner references) or kubectl's copy. */
const lean = (m: ObjectMeta | undefined): ObjectMeta | undefined => {
  if (!m) return m;
  const { managedFields: _managedFields, ownerReferences: _ownerReferences, ...rest } = m;
  if (!rest.annotations || !(lastAppliedAnnotation in rest.annotations)) return rest;
  const { [lastAppliedAnnotation]: _lastApplied, ...annotations } = rest.annotations;
  return { ...rest, annotations };
};

/** A Deployment's container without its probes and termination-message settings (read only on writes). */
const leanContainer = (c: Container): Container => {
  const {
    livenessProbe: _livenessProbe,
    readinessProbe: _readinessProbe,
    startupProbe: _startupProbe,
    terminationMessagePath: _terminationMessagePath,
    terminationMessagePolicy: _terminationMessagePolicy,
    ...rest
  } = c;
  return rest;
};

export const keepDeployment = (d: Deployment): Deployment => {
  const template = d.spec?.template;
  const spec = d.spec && template
    ? {
      ...d.spec,
      template: {
        ...template,
        spec: template.spec && { ...template.spec, containers: template.spec.containers.map(leanContainer) },
      },
    }
    : d.spec;
  let status: DeploymentStatus | undefined = d.status;
  if (status) {
    const { conditions: _conditions, ...rest } = status;
    status = rest;
  }
  return {
    ...d,
    metadata: lean(d.metadata),
    ...(spec ? { spec } : {}),
    ...(status ? { status } : {}),
  };
};

/** The keys of `o` that are set (not undefined), as a new object. */
const pick = <T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> => {
  const out = {} as Pick<T, K>;
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
};

/** What the caches compare and key by: name, namespace, labels, resourceVersion, deletionTimestamp. */
const identity = (m: ObjectMeta | undefined): ObjectMeta =>
  pick(m ?? {}, ["name", "namespace", "labels", "resourceVersion", "deletionTimestamp"]);

const keepCondition = (c: PodCondition): PodCondition => pick(c, ["type", "status", "reason", "message"]);

const keepContainerStatus = (s: ContainerStatus): ContainerStatus =>
  pick(s, ["name", "ready", "restartCount", "state", "lastState"]) as ContainerStatus;

/** A pod's name, labels and the status that says why it is not ready; no spec. */
export const keepPod = (p: Pod): Pod => {
  const s = p.status;
  if (!s) return { metadata: identity(p.metadata) };
  return {
    metadata: identity(p.metadata),
    status: {
      ...pick(s, ["phase"]),
      ...(s.conditions ? { conditions: s.conditions.map(keepCondition) } : {}),
      ...(s.containerStatuses ? { containerStatuses: s.containerStatuses.map(keepContainerStatus) } : {}),
    },
  };
};

/** The slice's service label, ports, and each endpoint's addresses, conditions and pod name. */
export const keepEndpointSlice = (s: EndpointSlice): EndpointSlice => ({
  addressType: s.addressType,
  metadata: identity(s.metadata),
  endpoints: (s.endpoints ?? []).map((e) => ({
    addresses: e.addresses,
    ...(e.conditions ? { conditions: e.conditions } : {}),
    ...(e.targetRef?.name !== undefined ? { targetRef: { name: e.targetRef.name } } : {}),
  })),
  ...(s.ports ? { ports: s.ports } : {}),
});

/** A Secret's names and metadata, without its values. */
export const keepSecret = (s: Secret): Secret => {
  const { data: _data, stringData: _stringData, ...rest } = s;
  return { ...rest, metadata: lean(rest.metadata) };
};
