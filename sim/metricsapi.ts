/**
 * The resource metrics API (`metrics.k8s.io/v1beta1`), as metrics-server
 * serves it: PodMetrics and NodeMetrics, read-only (get, list; no watch),
 * computed on each request from the store's running pods and the UsageMeter.
 * These kinds are never stored, so they are not in `allKinds`; SimApiServer
 * routes their paths before the store's, and `sim/serve/discovery.ts` lists them in
 * discovery.
 */
import type { KindInfo, KObj } from "./kinds.ts";
import { rfc3339 } from "./clock.ts";
import type { PodUsageSample } from "./usagemeter.ts";
import { goDurationString } from "./images/context.ts";
import { canonicalQuantity } from "../src/domain/quantity.ts";

const metricsGroup = "metrics.k8s.io";
const metricsVersion = "v1beta1";
export const metricsApiVersion = `${metricsGroup}/${metricsVersion}`;

/** Pseudo-kinds for routing, fault injection and discovery only (verbs get, list). */
export const MetricsKinds = {
  PodMetrics: {
    group: metricsGroup,
    version: metricsVersion,
    kind: "PodMetrics",
    plural: "pods",
    namespaced: true,
    hasStatus: false,
    verbs: ["get", "list"],
  },
  NodeMetrics: {
    group: metricsGroup,
    version: metricsVersion,
    kind: "NodeMetrics",
    plural: "nodes",
    namespaced: false,
    hasStatus: false,
    verbs: ["get", "list"],
  },
} satisfies Record<string, KindInfo>;

export interface MetricsPath {
  readonly kind: KindInfo;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

/**
 * `/apis/metrics.k8s.io/v1beta1/{pods|nodes}[/{name}]` and
 * `/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods[/{name}]`; undefined for
 * any other path (a cheap prefix test first: this runs before every request).
 */
export const parseMetricsPath = (path: string): MetricsPath | undefined => {
  if (!path.startsWith("/apis/metrics.k8s.io/")) return undefined;
  const seg = path.split("?")[0].split("/").filter((s) => s !== "").map(decodeURIComponent);
  if (seg[2] !== metricsVersion) return undefined;
  let rest = seg.slice(3);
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const kind = rest[0] === "pods"
    ? MetricsKinds.PodMetrics
    : rest[0] === "nodes" && namespace === undefined
    ? MetricsKinds.NodeMetrics
    : undefined;
  if (!kind) return undefined;
  return { kind, namespace, name: rest[1], subresource: rest[2] };
};

/** CPU as metrics-server writes it: nanocores (`"1234567n"`). */
export const cpuQuantity = (nanoCores: number) => `${Math.max(0, Math.round(nanoCores))}n`;
/** Memory as metrics-server writes it: kibibytes (`"8192Ki"`). */
export const memoryQuantity = (bytes: number) => `${Math.max(0, Math.round(bytes / 1024))}Ki`;

/** A PodMetrics object: the pod's (first, simulated) container and its usage. */
export const podMetricsObject = (pod: KObj, usage: PodUsageSample, now: number) => ({
  kind: "PodMetrics",
  apiVersion: metricsApiVersion,
  metadata: {
    name: pod.metadata.name,
    namespace: pod.metadata.namespace,
    ...(pod.metadata.labels ? { labels: { ...pod.metadata.labels } } : {}),
    // metrics-server builds these objects per request: created "now".
    creationTimestamp: rfc3339(now),
  },
  timestamp: rfc3339(usage.timestamp),
  window: goDurationString(usage.windowMs),
  containers: [{
    name: pod.spec.containers[0].name,
    usage: { cpu: cpuQuantity(usage.cpuNanoCores), memory: memoryQuantity(usage.memoryBytes) },
  }],
});

/** A NodeMetrics object: the sum of the node's pods. */
export const nodeMetricsObject = (
  node: KObj,
  usage: { cpuNanoCores: number; memoryBytes: number; windowMs: number },
  now: number,
) => ({
  kind: "NodeMetrics",
  apiVersion: metricsApiVersion,
  metadata: {
    name: node.metadata.name,
    ...(node.metadata.labels ? { labels: { ...node.metadata.labels } } : {}),
    creationTimestamp: rfc3339(now),
  },
  timestamp: rfc3339(now),
  window: goDurationString(usage.windowMs),
  usage: { cpu: cpuQuantity(usage.cpuNanoCores), memory: memoryQuantity(usage.memoryBytes) },
});

/** `/apis/metrics.k8s.io/v1beta1` discovery, as metrics-server answers it. */
export const metricsResourceList = () => ({
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: metricsApiVersion,
  resources: [MetricsKinds.NodeMetrics, MetricsKinds.PodMetrics].map((k) => ({
    name: k.plural,
    singularName: "",
    namespaced: k.namespaced,
    kind: k.kind,
    verbs: [...k.verbs],
  })),
});

/** The `metrics.k8s.io` entry of `/apis`. */
export const metricsApiGroup = () => {
  const v = { groupVersion: metricsApiVersion, version: metricsVersion };
  return { name: metricsGroup, versions: [v], preferredVersion: v };
};

interface MetricsItem {
  readonly kind: string;
  readonly metadata: Record<string, unknown>;
  readonly window: string;
  readonly usage?: { cpu: string; memory: string };
  readonly containers?: readonly { usage: { cpu: string; memory: string } }[];
}

/**
 * A `meta.k8s.io` Table of metrics objects (`kubectl get podmetrics`), with
 * metrics-server's columns: Name, CPU, Memory, Window.
 */
export const metricsTable = (
  body: MetricsItem | { items: readonly MetricsItem[] },
  version: string,
  includeObject: string | undefined,
) => {
  const items = "items" in body ? body.items : [body];
  const column = (name: string, description: string, format = "") => ({
    name,
    type: "string",
    format,
    description,
    priority: 0,
  });
  const sum = (i: MetricsItem, key: "cpu" | "memory") => {
    if (i.usage) return canonicalQuantity(i.usage[key]) ?? i.usage[key];
    const total = (i.containers ?? []).reduce((t, c) => t + Number(/^\d+/.exec(c.usage[key])?.[0] ?? 0), 0);
    const q = `${total}${key === "cpu" ? "n" : "Ki"}`;
    return canonicalQuantity(q) ?? q;
  };
  return {
    kind: "Table",
    apiVersion: `meta.k8s.io/${version}`,
    metadata: {},
    columnDefinitions: [
      column("Name", "Name of the resource", "name"),
      column("CPU", "CPU consumption"),
      column("Memory", "Memory consumption"),
      column("Window", "Declarative window"),
    ],
    rows: items.map((i) => ({
      cells: [i.metadata.name, sum(i, "cpu"), sum(i, "memory"), i.window],
      ...(includeObject === "None" ? {} : {
        object: includeObject === "Object"
          ? i
          : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: i.metadata },
      }),
    })),
  };
};
