/**
 * Server-side table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`),
 * with the columns of the real API server's printers for the kinds kubectl users
 * look at most (pods, deployments, services, namespaces, nodes, secrets, events,
 * ...), and NAME/AGE for the rest.
 */
import type { KindInfo, KObj } from "./kinds.ts";
import { formatSelector } from "../src/domain/selectors.ts";
import { firstValue } from "./crd/jsonpath.ts";

export interface TableColumn {
  readonly name: string;
  readonly type: string;
  readonly format?: string;
  readonly description?: string;
  readonly priority?: number;
}

export type IncludeObject = "None" | "Metadata" | "Object";

/** `k8s.io/apimachinery/pkg/util/duration.HumanDuration`. */
export const humanDuration = (ms: number): string => {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) {
    return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  }
  return `${Math.floor(days / 365)}y`;
};

const age = (o: KObj, now: number): string => {
  const t = Date.parse(o.metadata.creationTimestamp ?? "");
  return Number.isFinite(t) ? humanDuration(now - t) : "<unknown>";
};

const col = (name: string, description: string, priority = 0, type = "string"): TableColumn => ({
  name,
  type,
  ...(name === "Name" ? { format: "name" } : {}),
  description,
  priority,
});

const nameCol = col("Name", "Name must be unique within a namespace.");
const ageCol = col(
  "Age",
  "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

type Printer = { columns: TableColumn[]; cells: (o: KObj, now: number) => unknown[] };

// deno-lint-ignore no-explicit-any
const podStatus = (pod: any): { ready: string; status: string; restarts: number } => {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? statuses.length;
  let readyCount = 0;
  let restarts = 0;
  let reason: string = pod.status?.reason || pod.status?.phase || "Unknown";
  for (const cs of [...statuses].reverse()) {
    restarts += cs.restartCount ?? 0;
    if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
    else if (cs.state?.terminated) {
      const t = cs.state.terminated;
      reason = t.reason || (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`);
    } else if (cs.ready && cs.state?.running) readyCount++;
  }
  if (pod.metadata?.deletionTimestamp) reason = pod.status?.reason === "NodeLost" ? "Unknown" : "Terminating";
  return { ready: `${readyCount}/${total}`, status: reason, restarts };
};

// deno-lint-ignore no-explicit-any
const images = (spec: any) => ({
  containers: (spec?.containers ?? []).map((c: { name: string }) => c.name).join(","),
  images: (spec?.containers ?? []).map((c: { image: string }) => c.image).join(","),
});

const selectorText = (sel: Record<string, string> | undefined) =>
  sel && Object.keys(sel).length > 0 ? formatSelector(sel) : "<none>";

/** RoleBinding and ClusterRoleBinding share their columns. */
const bindingTable = {
  columns: [
    nameCol,
    col("Role", "Role of the binding"),
    ageCol,
    col("Users", "Users in the binding", 1),
    col("Groups", "Groups in the binding", 1),
    col("ServiceAccounts", "ServiceAccounts in the binding", 1),
  ],
  cells: (o: KObj, now: number) => bindingCells(o, now),
};

/** Role and ClusterRole share their columns. */
const roleTable: Printer = {
  columns: [nameCol, col("Created At", "Time at which the role was created", 0, "date")],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp],
};

/** A workload (Deployment, ReplicaSet): its own columns between name and age, then the template's (wide). */
const workload = (columns: TableColumn[], cells: (o: KObj) => unknown[]): Printer => ({
  columns: [
    nameCol,
    ...columns,
    ageCol,
    col("Containers", "Names of each container in the template.", 1),
    col("Images", "Images referenced by each container in the template.", 1),
    col("Selector", "Label selector for pods.", 1),
  ],
  cells: (o, now) => {
    const c = images(o.spec?.template?.spec);
    return [
      o.metadata.name,
      ...cells(o),
      age(o, now),
      c.containers,
      c.images,
      selectorText(o.spec?.selector?.matchLabels),
    ];
  },
});

const printers: Record<string, Printer> = {
  Pod: {
    columns: [
      nameCol,
      col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
      col("Status", "The aggregate status of the containers in this pod."),
      col("Restarts", "The number of times the containers in this pod have been restarted.", 0, "string"),
      ageCol,
      col("IP", "IP address allocated to the pod. Routable at least within the cluster.", 1),
      col("Node", "NodeName is a request to schedule this pod onto a specific node.", 1),
      col(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node.",
        1,
      ),
      col("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness.", 1),
    ],
    cells: (o, now) => {
      const s = podStatus(o);
      return [
        o.metadata.name,
        s.ready,
        s.status,
        s.restarts,
        age(o, now),
        o.status?.podIP || "<none>",
        o.spec?.nodeName || "<none>",
        o.status?.nominatedNodeName || "<none>",
        "<none>",
      ];
    },
  },
  Deployment: workload(
    [
      col("Ready", "Number of the pod with ready state"),
      col(
        "Up-to-date",
        "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
      ),
      col(
        "Available",
        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
      ),
    ],
    (o) => [
      `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
      o.status?.updatedReplicas ?? 0,
      o.status?.availableReplicas ?? 0,
    ],
  ),
  ReplicaSet: workload(
    [
      col("Desired", "Number of desired pods in a ReplicaSet.", 0, "integer"),
      col("Current", "Number of actually running pods in a ReplicaSet.", 0, "integer"),
      col("Ready", "Number of ready pods in a ReplicaSet.", 0, "integer"),
    ],
    (o) => [o.spec?.replicas ?? 0, o.status?.replicas ?? 0, o.status?.readyReplicas ?? 0],
  ),
  Service: {
    columns: [
      nameCol,
      col("Type", "The type of the service."),
      col("Cluster-IP", "The IP address of the service."),
      col("External-IP", "The external IP address of the service."),
      col("Port(s)", "The ports of the service."),
      ageCol,
      col("Selector", "Route service traffic to pods with label keys and values matching this selector.", 1),
    ],
    cells: (o, now) => {
      const ports = (o.spec?.ports ?? []).map((p: { port: number; protocol?: string; nodePort?: number }) =>
        `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`
      ).join(",");
      const external = o.spec?.externalIPs?.join(",") ||
        (o.spec?.type === "LoadBalancer" ? "<pending>" : "<none>");
      return [
        o.metadata.name,
        o.spec?.type ?? "ClusterIP",
        o.spec?.clusterIP || "<none>",
        external,
        ports || "<none>",
        age(o, now),
        selectorText(o.spec?.selector),
      ];
    },
  },
  Namespace: {
    columns: [nameCol, col("Status", "The status of the namespace"), ageCol],
    cells: (o, now) => [o.metadata.name, o.status?.phase ?? "Active", age(o, now)],
  },
  Node: {
    columns: [
      nameCol,
      col("Status", "The status of the node"),
      col("Roles", "The roles of the node"),
      ageCol,
      col("Version", "Kubelet Version reported by the node."),
      col(
        "Internal-IP",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
        1,
      ),
      col(
        "External-IP",
        "List of addresses reachable to the node. Queried from cloud provider, if available.",
        1,
      ),
      col(
        "OS-Image",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        1,
      ),
      col(
        "Kernel-Version",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        1,
      ),
      col(
        "Container-Runtime",
        "Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
        1,
      ),
    ],
    cells: (o, now) => {
      const ready = (o.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready");
      let status = ready?.status === "True" ? "Ready" : "NotReady";
      if (o.spec?.unschedulable) status += ",SchedulingDisabled";
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((k) => k.startsWith("node-role.kubernetes.io/"))
        .map((k) => k.slice("node-role.kubernetes.io/".length)).join(",") || "<none>";
      const addr = (t: string) =>
        (o.status?.addresses ?? []).find((a: { type: string }) => a.type === t)?.address ?? "<none>";
      const info = o.status?.nodeInfo ?? {};
      return [
        o.metadata.name,
        status,
        roles,
        age(o, now),
        info.kubeletVersion ?? "",
        addr("InternalIP"),
        addr("ExternalIP"),
        info.osImage ?? "<unknown>",
        info.kernelVersion ?? "<unknown>",
        info.containerRuntimeVersion ?? "<unknown>",
      ];
    },
  },
  Secret: {
    columns: [
      nameCol,
      col("Type", "The type of the secret"),
      col("Data", "The number of data entries in the secret", 0, "string"),
      ageCol,
    ],
    cells: (o, now) => [o.metadata.name, o.type ?? "Opaque", Object.keys(o.data ?? {}).length, age(o, now)],
  },
  ConfigMap: {
    columns: [nameCol, col("Data", "The number of data entries in the config map"), ageCol],
    cells: (o, now) => [
      o.metadata.name,
      Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length,
      age(o, now),
    ],
  },
  ServiceAccount: {
    columns: [nameCol, col("Secrets", "The number of secrets", 0, "integer"), ageCol],
    cells: (o, now) => [o.metadata.name, (o.secrets ?? []).length, age(o, now)],
  },
  Event: {
    columns: [
      col("Last Seen", "Time when last this event was observed."),
      col("Type", "Type of this event (Normal, Warning)."),
      col("Reason", "This should be a short, machine understandable string."),
      col("Object", "The object this event is about."),
      col("Message", "A human-readable description of the status of this operation."),
    ],
    cells: (o, now) => {
      const last = Date.parse(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp ?? "");
      const io = o.involvedObject ?? {};
      return [
        Number.isFinite(last) ? humanDuration(now - last) : "<unknown>",
        o.type ?? "",
        o.reason ?? "",
        `${String(io.kind ?? "").toLowerCase()}/${io.name ?? ""}`,
        String(o.message ?? "").trim(),
      ];
    },
  },
  Endpoints: {
    columns: [
      nameCol,
      col("Endpoints", "The set of all endpoints is the union of all subsets."),
      ageCol,
    ],
    cells: (o, now) => [o.metadata.name, formatEndpoints(o), age(o, now)],
  },
  EndpointSlice: {
    columns: [
      nameCol,
      col("AddressType", "The IP protocol for this slice"),
      col("Ports", "The ports of this slice"),
      col("Endpoints", "The endpoints of this slice"),
      ageCol,
    ],
    cells: (o, now) => {
      const ports = (o.ports ?? []).map((p: { port: number }) => p.port).join(",") || "<unset>";
      const addrs = (o.endpoints ?? []).flatMap((e: { addresses?: string[] }) => e.addresses ?? []);
      const shown = addrs.length > 3
        ? `${addrs.slice(0, 3).join(",")} + ${addrs.length - 3} more...`
        : addrs.join(",");
      return [o.metadata.name, o.addressType ?? "IPv4", ports, shown || "<unset>", age(o, now)];
    },
  },
  Lease: {
    columns: [
      nameCol,
      col("Holder", "holderIdentity contains the identity of the holder of a current lease."),
      ageCol,
    ],
    cells: (o, now) => [o.metadata.name, o.spec?.holderIdentity ?? "", age(o, now)],
  },
  RoleBinding: bindingTable,
  ClusterRoleBinding: bindingTable,
  Role: roleTable,
  ClusterRole: roleTable,
};

/** kubectl's formatEndpoints: the first three ready `ip:port`, then "+ N more...", or <none>. */
const formatEndpoints = (o: KObj): string => {
  const subsets = (o.subsets ?? []) as { addresses?: { ip: string }[]; ports?: { port: number }[] }[];
  if (subsets.length === 0) return "<none>";
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addresses = ss.addresses ?? [];
    const hostPorts = ss.ports?.length
      ? ss.ports.flatMap((p) =>
        addresses.map((a) => (a.ip.includes(":") ? `[${a.ip}]` : a.ip) + `:${p.port}`)
      )
      : addresses.map((a) => a.ip);
    count += hostPorts.length;
    for (const h of hostPorts) if (list.length < 3) list.push(h);
  }
  return count > 3 ? `${list.join(",")} + ${count - 3} more...` : list.join(",");
};

const bindingCells = (o: KObj, now: number): unknown[] => {
  const subjects = (o.subjects ?? []) as { kind: string; name: string; namespace?: string }[];
  const of = (k: string) =>
    subjects.filter((s) => s.kind === k).map((
      s,
    ) => (k === "ServiceAccount" ? `${s.namespace ?? ""}/${s.name}` : s.name))
      .join(", ");
  return [
    o.metadata.name,
    `${o.roleRef?.kind ?? ""}/${o.roleRef?.name ?? ""}`,
    age(o, now),
    of("User"),
    of("Group"),
    of(
      "ServiceAccount",
    ),
  ];
};

/** The API server's default table convertor, for kinds without a printer (CustomResourceDefinitions). */
const defaultPrinter: Printer = {
  columns: [
    nameCol,
    col(
      "Created At",
      "CreationTimestamp is a timestamp representing the server time when this object was created.",
      0,
      "date",
    ),
  ],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp],
};

/**
 * A custom resource's columns: Name, then its CRD's additionalPrinterColumns (Age when it declares
 * none), each cell typed as its column says (a date as an age, as the API server's convertor does).
 */
const customPrinter = (kind: KindInfo): Printer => {
  const declared = kind.custom?.printerColumns ?? [];
  const columns = declared.length > 0 ? declared : [{
    name: "Age",
    type: "date",
    jsonPath: ".metadata.creationTimestamp",
    description: ageCol.description,
  }];
  return {
    columns: [
      nameCol,
      ...columns.map((c) => ({
        name: c.name,
        type: c.type,
        format: c.format ?? "",
        description: c.description || `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
        priority: c.priority ?? 0,
      })),
    ],
    cells: (
      o,
      now,
    ) => [o.metadata.name, ...columns.map((c) => customCell(c.type, firstValue(o, c.jsonPath), now))],
  };
};

const customCell = (type: string, value: unknown, now: number): unknown => {
  if (value === undefined || value === null) return null;
  switch (type) {
    case "integer":
    case "number":
      return typeof value === "number" ? (type === "integer" ? Math.trunc(value) : value) : null;
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "date": {
      if (typeof value !== "string") return null;
      const t = Date.parse(value);
      return Number.isFinite(t) ? humanDuration(now - t) : "<invalid>";
    }
    default:
      return typeof value === "string" ? value : JSON.stringify(value);
  }
};

/** The object part of a row: nothing, PartialObjectMetadata, or the whole object. */
const rowObject = (_kind: KindInfo, o: KObj, include: IncludeObject): unknown => {
  if (include === "None") return undefined;
  if (include === "Object") return o;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
};

/** A `meta.k8s.io/v1` Table of objects of one kind. */
export const toTable = (
  kind: KindInfo,
  objects: readonly KObj[],
  opts: { now: number; includeObject?: IncludeObject; resourceVersion?: string },
) => {
  const printer = kind.custom ? customPrinter(kind) : printers[kind.kind] ?? defaultPrinter;
  const include = opts.includeObject ?? "Metadata";
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {},
    columnDefinitions: printer.columns,
    rows: objects.map((o) => {
      const object = rowObject(kind, o, include);
      return object === undefined
        ? { cells: printer.cells(o, opts.now) }
        : { cells: printer.cells(o, opts.now), object };
    }),
  };
};

/** `PartialObjectMetadataList` (`as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`). */
export const toPartialList = (kind: KindInfo, objects: readonly KObj[], resourceVersion?: string) => ({
  kind: "PartialObjectMetadataList",
  apiVersion: "meta.k8s.io/v1",
  metadata: resourceVersion ? { resourceVersion } : {},
  items: objects.map((o) => toPartial(kind, o)),
});

export const toPartial = (_kind: KindInfo, o: KObj) => ({
  kind: "PartialObjectMetadata",
  apiVersion: "meta.k8s.io/v1",
  metadata: o.metadata,
});
