/**
 * The kinds the simulated API server stores, with their REST names, defaulting
 * and validation (a small subset of what the real API server does, chosen to
 * catch the mistakes a provider could make).
 */
import { fromSpec, matches } from "../src/domain/selectors.ts";
import { encodeBase64Text } from "../src/lib/base64.ts";
import { defaultCrd, validateCrd } from "./crd/definition.ts";

export interface KObj {
  apiVersion?: string;
  kind?: string;
  // deno-lint-ignore no-explicit-any
  metadata: Record<string, any> & { name?: string; namespace?: string };
  // deno-lint-ignore no-explicit-any
  [key: string]: any;
}

export interface KindInfo {
  readonly group: string; // "" for core
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Kinds whose status is written only through the `/status` subresource. */
  readonly hasStatus: boolean;
  readonly shortNames?: readonly string[];
  readonly verbs?: readonly string[];
  /** Discovery's singularName (default: the kind, lowercased). */
  readonly singular?: string;
  readonly categories?: readonly string[];
  /** Whether and when `metadata.generation` is kept (none: the kind has no generation). */
  readonly generation?: GenerationRule;
  /** Set on kinds a CustomResourceDefinition defines: the CRD's name and its printer columns. */
  readonly custom?: {
    readonly crd: string;
    readonly printerColumns: readonly PrinterColumn[];
    /** A version that is defined but not served keeps its objects (one table per group and plural). */
    readonly served: boolean;
  };
}

/**
 * What bumps `metadata.generation` on an update, by the registry strategies of Kubernetes 1.33:
 * "spec" (Pods, ReplicaSets, CRDs), "specOrAnnotations" (Deployments), "content" (custom resources:
 * anything but metadata), "contentOrLabels" (EndpointSlices).
 */
export type GenerationRule = "spec" | "specOrAnnotations" | "content" | "contentOrLabels";

/** A CRD's `additionalPrinterColumns` entry. */
export interface PrinterColumn {
  readonly name: string;
  readonly type: string;
  readonly jsonPath: string;
  readonly format?: string;
  readonly description?: string;
  readonly priority?: number;
}

export const kindKey = (k: KindInfo) => (k.group ? `${k.plural}.${k.group}` : k.plural);
export const apiVersionOf = (k: KindInfo) => (k.group ? `${k.group}/${k.version}` : k.version);
/** The `"deployments.apps"` style resource name used in Status messages. */
export const qualifiedName = kindKey;

const core = (
  kind: string,
  plural: string,
  namespaced: boolean,
  hasStatus: boolean,
  shortNames?: string[],
  generation?: GenerationRule,
): KindInfo => ({
  group: "",
  version: "v1",
  kind,
  plural,
  namespaced,
  hasStatus,
  shortNames,
  ...(generation ? { generation } : {}),
});

export const Kinds = {
  Namespace: core("Namespace", "namespaces", false, true, ["ns"]),
  Node: core("Node", "nodes", false, true, ["no"]),
  Pod: core("Pod", "pods", true, true, ["po"], "spec"),
  Service: core("Service", "services", true, true, ["svc"]),
  Secret: core("Secret", "secrets", true, false),
  ConfigMap: core("ConfigMap", "configmaps", true, false, ["cm"]),
  ServiceAccount: core("ServiceAccount", "serviceaccounts", true, false, ["sa"]),
  Event: core("Event", "events", true, false, ["ev"]),
  Endpoints: core("Endpoints", "endpoints", true, false, ["ep"]),
  Deployment: {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    namespaced: true,
    hasStatus: true,
    shortNames: ["deploy"],
    generation: "specOrAnnotations",
  },
  ReplicaSet: {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    namespaced: true,
    hasStatus: true,
    shortNames: ["rs"],
    generation: "spec",
  },
  EndpointSlice: {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    namespaced: true,
    hasStatus: false,
    generation: "contentOrLabels",
  },
  Role: {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    namespaced: true,
    hasStatus: false,
  },
  RoleBinding: {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    namespaced: true,
    hasStatus: false,
  },
  ClusterRole: {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    namespaced: false,
    hasStatus: false,
  },
  ClusterRoleBinding: {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
    hasStatus: false,
  },
  /** Leader election and membership (`coordination.k8s.io/v1`). */
  Lease: {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    namespaced: true,
    hasStatus: false,
  },
  /** Stored so the provider's manifests apply; nothing enforces it here (no evictions). */
  PodDisruptionBudget: {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    namespaced: true,
    hasStatus: true,
    shortNames: ["pdb"],
    generation: "spec",
  },
  /** Each one defines the kinds it names while it exists (sim/crds.ts); none is built in. */
  CustomResourceDefinition: {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
    hasStatus: true,
    shortNames: ["crd", "crds"],
    generation: "spec",
  },
} satisfies Record<string, KindInfo>;

/** The built-in kinds (custom resources are served by a cluster's KindRegistry while their CRD exists). */
export const builtinKinds: readonly KindInfo[] = Object.values(Kinds);

const gvrKey = (group: string, version: string, plural: string) => `${group}/${version}/${plural}`;
const builtinByPath = new Map(builtinKinds.map((k) => [gvrKey(k.group, k.version, k.plural), k]));

/**
 * The kinds one cluster serves: the built-in ones, and those of its established
 * CustomResourceDefinitions (kept by sim/crds.ts as CRDs come and go).
 */
export class KindRegistry {
  private readonly custom = new Map<string, KindInfo>();
  private readonly byCrd = new Map<string, KindInfo[]>();

  find(group: string, version: string, plural: string): KindInfo | undefined {
    const key = gvrKey(group, version, plural);
    return builtinByPath.get(key) ?? this.custom.get(key);
  }

  /** Every served kind: built-ins first, then custom ones by CRD name. */
  all(): KindInfo[] {
    const custom = [...this.byCrd.keys()].sort().flatMap((crd) => this.byCrd.get(crd)!);
    return [...builtinKinds, ...custom.filter((k) => k.custom!.served)];
  }

  /** The kind of a stored object (by its apiVersion and kind), served or not. */
  ofObject(o: KObj): KindInfo | undefined {
    const group = o.apiVersion?.includes("/") ? o.apiVersion.split("/")[0] : "";
    const same = (k: KindInfo) => k.kind === o.kind && k.group === group;
    return builtinKinds.find(same) ?? [...this.byCrd.values()].flat().find(same);
  }

  /** The kinds (one per version, served or not) a CRD defines now; empty when it defines none. */
  definedBy(crd: string): readonly KindInfo[] {
    return this.byCrd.get(crd) ?? [];
  }

  /** Defines `kinds` for the CRD `crd`, replacing what it defined before (none: it defines nothing). */
  define(crd: string, kinds: readonly KindInfo[]): void {
    for (const k of this.byCrd.get(crd) ?? []) this.custom.delete(gvrKey(k.group, k.version, k.plural));
    if (kinds.length === 0) this.byCrd.delete(crd);
    else this.byCrd.set(crd, [...kinds]);
    for (const k of kinds) if (k.custom!.served) this.custom.set(gvrKey(k.group, k.version, k.plural), k);
  }
}

/**
 * A kind by group, version and plural: the built-ins, and with `registry` a cluster's custom
 * resources too.
 */
export const findKind = (
  group: string,
  version: string,
  plural: string,
  registry?: KindRegistry,
): KindInfo | undefined =>
  registry ? registry.find(group, version, plural) : builtinByPath.get(gvrKey(group, version, plural));

/** What defaulting may need from the server. */
export interface DefaultingContext {
  readonly allocateClusterIP: () => string;
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const validKey = (key: string): boolean => {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !dns1123Subdomain.test(prefix))) return false;
  return name.length <= 63 && labelName.test(name);
};

const imagePullPolicyFor = (image: string): string => {
  const lastSegment = image.split("/").pop() ?? image;
  if (image.includes("@")) return "IfNotPresent";
  const tag = lastSegment.includes(":") ? lastSegment.split(":").pop() : undefined;
  return !tag || tag === "latest" ? "Always" : "IfNotPresent";
};

// deno-lint-ignore no-explicit-any
const defaultPodSpec = (spec: any) => {
  spec.restartPolicy ??= "Always";
  spec.dnsPolicy ??= "ClusterFirst";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  for (const c of spec.containers ?? []) {
    c.imagePullPolicy ??= imagePullPolicyFor(String(c.image ?? ""));
    c.terminationMessagePath ??= "/dev/termination-log";
    c.terminationMessagePolicy ??= "File";
    c.resources ??= {};
    for (const p of c.ports ?? []) p.protocol ??= "TCP";
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      if (!probe) continue;
      probe.timeoutSeconds ??= 1;
      probe.periodSeconds ??= 10;
      probe.successThreshold ??= 1;
      probe.failureThreshold ??= 3;
      probe.initialDelaySeconds ??= 0;
      if (probe.httpGet) probe.httpGet.scheme ??= "HTTP";
    }
  }
};

/** Applies the API server's defaults for a kind, in place. */
export const applyDefaults = (kind: KindInfo, obj: KObj, ctx: DefaultingContext): void => {
  if (kind.custom) {
    // With a status subresource, create cannot set status (customResourceStrategy.PrepareForCreate);
    // an object being created has no uid yet.
    if (kind.hasStatus && !obj.metadata.uid) delete obj.status;
    return;
  }
  switch (kind.kind) {
    case "Namespace":
      obj.spec ??= { finalizers: ["kubernetes"] };
      obj.status = { phase: obj.metadata.deletionTimestamp ? "Terminating" : "Active" };
      obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name };
      break;
    case "Secret":
      obj.type ??= "Opaque";
      if (obj.stringData) {
        obj.data ??= {};
        for (const [k, v] of Object.entries(obj.stringData as Record<string, string>)) {
          obj.data[k] = encodeBase64Text(v);
        }
        delete obj.stringData;
      }
      break;
    case "Service": {
      const spec = (obj.spec ??= {});
      spec.type ??= "ClusterIP";
      spec.sessionAffinity ??= "None";
      if (spec.clusterIP === undefined || spec.clusterIP === "") spec.clusterIP = ctx.allocateClusterIP();
      spec.clusterIPs ??= [spec.clusterIP];
      for (const p of spec.ports ?? []) {
        p.protocol ??= "TCP";
        p.targetPort ??= p.port;
      }
      obj.status ??= { loadBalancer: {} };
      break;
    }
    case "Deployment": {
      const spec = (obj.spec ??= {});
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      spec.strategy ??= { type: "RollingUpdate" };
      if (spec.strategy.type === "RollingUpdate") {
        spec.strategy.rollingUpdate ??= {};
        spec.strategy.rollingUpdate.maxSurge ??= "25%";
        spec.strategy.rollingUpdate.maxUnavailable ??= "25%";
      }
      if (spec.template?.spec) defaultPodSpec(spec.template.spec);
      obj.status ??= {};
      break;
    }
    case "Pod":
      if (obj.spec) {
        defaultPodSpec(obj.spec);
        defaultTolerationSeconds(obj.spec);
      }
      obj.status ??= { phase: "Pending" };
      break;
    case "CustomResourceDefinition":
      // An object being created has no uid yet.
      defaultCrd(obj, !obj.metadata.uid);
      break;
  }
};

/**
 * The DefaultTolerationSeconds admission plugin: a pod that does not tolerate the node not-ready and
 * unreachable NoExecute taints gets tolerations for 300 s, so that it is evicted 5 minutes after its
 * node fails (sim/disruptions). Pod templates are left alone, as the plugin only sees pods.
 */
// deno-lint-ignore no-explicit-any
const defaultTolerationSeconds = (spec: any) => {
  const tolerations: { key?: string; effect?: string }[] = spec.tolerations ?? [];
  const tolerates = (key: string) =>
    tolerations.some((t) => (t.key === key || !t.key) && (t.effect === "NoExecute" || !t.effect));
  const added = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    .filter((key) => !tolerates(key))
    .map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }));
  if (added.length > 0) spec.tolerations = [...tolerations, ...added];
};

const checkMeta = (kind: KindInfo, obj: KObj, errors: string[]) => {
  const name = obj.metadata?.name ?? "";
  const nameRule = !kind.custom && (kind.kind === "Namespace" || kind.kind === "Service")
    ? dns1123Label
    : dns1123Subdomain;
  if (!nameRule.test(name) || name.length > (nameRule === dns1123Label ? 63 : 253)) {
    errors.push(
      `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 ${
        nameRule === dns1123Label ? "label" : "subdomain"
      } must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  }
  for (const [k, v] of Object.entries((obj.metadata.labels ?? {}) as Record<string, unknown>)) {
    if (!validKey(k)) {
      errors.push(`metadata.labels: Invalid value: "${k}": name part must be a valid label key`);
    }
    if (typeof v !== "string" || v.length > 63 || !labelValue.test(v)) {
      errors.push(
        `metadata.labels: Invalid value: "${
          String(v)
        }": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`,
      );
    }
  }
  for (const [k, v] of Object.entries((obj.metadata.annotations ?? {}) as Record<string, unknown>)) {
    // The API server checks annotation keys lowercased.
    if (!validKey(k.toLowerCase())) {
      errors.push(`metadata.annotations: Invalid value: "${k}": name part must be a valid key`);
    }
    if (typeof v !== "string") errors.push(`metadata.annotations.${k}: Invalid value: must be a string`);
  }
};

// deno-lint-ignore no-explicit-any
const checkPodSpec = (path: string, spec: any, errors: string[]) => {
  if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0) {
    errors.push(`${path}.containers: Required value`);
    return;
  }
  spec.containers.forEach((c: Record<string, unknown>, i: number) => {
    if (typeof c.name !== "string" || !dns1123Label.test(c.name)) {
      errors.push(`${path}.containers[${i}].name: Invalid value: "${String(c.name)}"`);
    }
    if (typeof c.image !== "string" || c.image.trim() === "") {
      errors.push(`${path}.containers[${i}].image: Required value`);
    }
  });
};

/** Returns field errors in the API server's `path: message` style (empty when valid). */
export const validate = (kind: KindInfo, obj: KObj): string[] => {
  const errors: string[] = [];
  checkMeta(kind, obj, errors);
  if (kind.custom) return errors;
  switch (kind.kind) {
    case "Deployment": {
      const spec = obj.spec ?? {};
      if (typeof spec.replicas !== "number" || spec.replicas < 0 || !Number.isInteger(spec.replicas)) {
        errors.push(`spec.replicas: Invalid value: ${spec.replicas}: must be greater than or equal to 0`);
      }
      const selector = fromSpec(spec.selector);
      if (!spec.selector || selector.length === 0) errors.push("spec.selector: Required value");
      else if (!matches(selector, spec.template?.metadata?.labels)) {
        errors.push(
          "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`",
        );
      }
      checkPodSpec("spec.template.spec", spec.template?.spec, errors);
      break;
    }
    case "Pod":
      checkPodSpec("spec", obj.spec, errors);
      break;
    case "CustomResourceDefinition":
      errors.push(...validateCrd(obj));
      break;
    case "Service":
      for (const [i, p] of ((obj.spec?.ports ?? []) as Record<string, unknown>[]).entries()) {
        const port = p.port as number;
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
          errors.push(
            `spec.ports[${i}].port: Invalid value: ${port}: must be between 1 and 65535, inclusive`,
          );
        }
      }
      break;
    case "Secret":
      for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, unknown>)) {
        if (!/^[-._a-zA-Z0-9]+$/.test(k)) {
          errors.push(
            `data[${k}]: Invalid value: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
          );
        }
        if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
          errors.push(`data[${k}]: Invalid value: illegal base64 data`);
        }
      }
      break;
  }
  return errors;
};
