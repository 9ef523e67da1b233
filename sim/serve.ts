/**
 * The simulator as a Kubernetes API server over plain HTTP, for kubectl and any
 * client-go style client: discovery (`/version`, `/api`, `/apis`, group
 * versions), every stored kind's REST paths (delegated to SimApiServer.handle, which
 * also applies strategic merge / JSON / server-side-apply patches, `sim/patch.ts`),
 * watches as chunked newline-delimited JSON, `pods/{name}/log` as text, server-side
 * tables for `kubectl get`, `Status` bodies for errors, and the resource metrics API (`metrics.k8s.io`, for
 * `kubectl top`; `sim/metrics.ts`). Optional seeded fault injection (`sim/faults.ts`).
 *
 *   deno task sim --port 6443 --write-kubeconfig /tmp/sim.kubeconfig
 *   kubectl --kubeconfig /tmp/sim.kubeconfig get pods -A
 *   kubectl --kubeconfig /tmp/sim.kubeconfig top pods -n openfaas-fn
 */
import { shutdownOnSignals } from "../src/shutdown.ts";
import { Clock, Duration, Effect, Layer, ManagedRuntime } from "effect";
import YAML from "yaml";
import { type ApiRequest, type ApiResponse, type ParsedPath, parsePath, truthy } from "./apiserver.ts";
import { SimCluster, type SimClusterShape, type SimOptions } from "./cluster.ts";
import { allKinds, apiVersionOf, type KindInfo, type KObj } from "./kinds.ts";
import { ApiError } from "./store.ts";
import { Faults, installFaults, parseFaultFlags } from "./faults.ts";
import { type IncludeObject, toPartial, toPartialList, toTable } from "./table.ts";
import {
  metricsApiGroup,
  metricsApiVersion,
  metricsResourceList,
  metricsTable,
  parseMetricsPath,
} from "./metrics.ts";

// The patch helpers live in sim/patch.ts (SimApiServer applies every patch type); re-exported here.
export { jsonPatch, mergeDiff, strategicMerge } from "./patch.ts";

// ---------------------------------------------------------------------------
// Discovery

export const simServerVersion = {
  major: "1",
  minor: "33",
  gitVersion: "v1.33.0-sim+faas-deno",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2025-01-01T00:00:00Z",
  goVersion: "go1.24.0",
  compiler: "gc",
  platform: "linux/amd64",
};

const defaultVerbs = ["create", "delete", "get", "list", "patch", "update", "watch"];

/** Subresources served for a kind, as discovery lists them. */
const subresourcesOf = (k: KindInfo) => {
  const out: Record<string, unknown>[] = [];
  if (k.hasStatus) {
    out.push({
      name: `${k.plural}/status`,
      singularName: "",
      namespaced: k.namespaced,
      kind: k.kind,
      verbs: ["get", "patch", "update"],
    });
  }
  if (k.kind === "Deployment") {
    out.push({
      name: "deployments/scale",
      singularName: "",
      namespaced: true,
      group: "autoscaling",
      version: "v1",
      kind: "Scale",
      verbs: ["get", "patch", "update"],
    });
  }
  if (k.kind === "Pod") {
    out.push({ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] });
  }
  return out;
};

const inAll = new Set(["Pod", "Service", "Deployment"]);

/** The `APIResourceList` of one group version. */
export const apiResourceList = (groupVersion: string) => {
  if (groupVersion === metricsApiVersion) return metricsResourceList();
  const kinds = allKinds.filter((k) => apiVersionOf(k) === groupVersion);
  if (kinds.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion,
    resources: kinds.flatMap((k) => [
      {
        name: k.plural,
        singularName: k.kind.toLowerCase(),
        namespaced: k.namespaced,
        kind: k.kind,
        verbs: [...(k.verbs ?? defaultVerbs)],
        ...(k.shortNames?.length ? { shortNames: [...k.shortNames] } : {}),
        ...(inAll.has(k.kind) ? { categories: ["all"] } : {}),
      },
      ...subresourcesOf(k),
    ]),
  };
};

/** The named API groups (`/apis`). */
export const apiGroupList = () => {
  const groups = new Map<string, Set<string>>();
  for (const k of allKinds) {
    if (!k.group) continue;
    if (!groups.has(k.group)) groups.set(k.group, new Set());
    groups.get(k.group)!.add(k.version);
  }
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [
      ...[...groups].map(([name, versions]) => {
        const vs = [...versions].map((version) => ({ groupVersion: `${name}/${version}`, version }));
        return { name, versions: vs, preferredVersion: vs[0] };
      }),
      // Served from the UsageMeter, not the store (sim/metrics.ts), as metrics-server's APIService.
      metricsApiGroup(),
    ],
  };
};

export const apiVersions = (serverAddress: string) => ({
  kind: "APIVersions",
  versions: ["v1"],
  serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
});

/**
 * A minimal OpenAPI v3 index (`/openapi/v3`): enough for kubectl to see that the
 * server validates fields itself (`fieldValidation` on each kind's PATCH), so it
 * skips client-side schema validation and `kubectl apply` needs no `--validate=false`.
 * There are no schemas: kubectl builds apply patches from its compiled-in types.
 */
export const openApiV3Index = () => {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const k of allKinds) {
    const gv = apiVersionOf(k);
    const key = k.group ? `apis/${gv}` : `api/${gv}`;
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${openApiHash}` };
  }
  return { paths };
};

const openApiHash = "FAASDENOSIM0001";

/** The OpenAPI v3 document of one group version (`/openapi/v3/apis/apps/v1`), without schemas. */
export const openApiV3GroupVersion = (groupVersion: string) => {
  const kinds = allKinds.filter((k) => apiVersionOf(k) === groupVersion);
  if (kinds.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const param = (name: string) => ({ name, in: "query", schema: { type: "string", uniqueItems: true } });
  for (const k of kinds) {
    const prefix = `/${k.group ? "apis" : "api"}/${groupVersion}${
      k.namespaced ? "/namespaces/{namespace}" : ""
    }`;
    const gvk = { "x-kubernetes-group-version-kind": { group: k.group, version: k.version, kind: k.kind } };
    const op = (verb: string) => ({
      operationId: `${verb}${k.kind}`,
      parameters: [param("dryRun"), param("fieldManager"), param("fieldValidation")],
      responses: { "200": { description: "OK" } },
      "x-kubernetes-action": verb,
      ...gvk,
    });
    paths[`${prefix}/${k.plural}`] = { post: op("post"), get: { ...op("list"), parameters: [] } };
    paths[`${prefix}/${k.plural}/{name}`] = {
      get: { ...op("get"), parameters: [] },
      put: op("put"),
      patch: op("patch"),
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes (faas-deno simulator)", version: simServerVersion.gitVersion },
    paths,
  };
};

// ---------------------------------------------------------------------------
// Protobuf request bodies

/*
 * kubectl's typed clients (`kubectl create secret|configmap|namespace|...`) send
 * `application/vnd.kubernetes.protobuf` bodies and do not fall back to JSON. The
 * decoder below reads the `k8s\0` envelope and the fields of the kinds those
 * commands create (from k8s.io/api's generated.proto); responses are always JSON.
 */

type PType =
  | "string"
  | "bytes"
  | "int"
  | "int0"
  | "bool"
  | "quantity"
  | "intorstr"
  | PSchema
  | { readonly repeated: PType }
  | { readonly map: PType };
interface PSchema {
  readonly [field: number]: readonly [string, PType];
}

const rep = (t: PType) => ({ repeated: t });
const map = (t: PType) => ({ map: t });
const objectMeta: PSchema = {
  1: ["name", "string"],
  2: ["generateName", "string"],
  3: ["namespace", "string"],
  11: ["labels", map("string")],
  12: ["annotations", map("string")],
  14: ["finalizers", rep("string")],
};
const policyRule: PSchema = {
  1: ["verbs", rep("string")],
  2: ["apiGroups", rep("string")],
  3: ["resources", rep("string")],
  4: ["resourceNames", rep("string")],
  5: ["nonResourceURLs", rep("string")],
};
const binding: PSchema = {
  1: ["metadata", objectMeta],
  2: [
    "subjects",
    rep({
      1: ["kind", "string"],
      2: ["apiGroup", "string"],
      3: ["name", "string"],
      4: ["namespace", "string"],
    }),
  ],
  3: ["roleRef", { 1: ["apiGroup", "string"], 2: ["kind", "string"], 3: ["name", "string"] }],
};
const container: PSchema = {
  1: ["name", "string"],
  2: ["image", "string"],
  3: ["command", rep("string")],
  4: ["args", rep("string")],
  5: ["workingDir", "string"],
  6: [
    "ports",
    rep({
      1: ["name", "string"],
      2: ["hostPort", "int"],
      3: ["containerPort", "int"],
      4: ["protocol", "string"],
    }),
  ],
  7: ["env", rep({ 1: ["name", "string"], 2: ["value", "string"] })],
  8: ["resources", { 1: ["limits", map("quantity")], 2: ["requests", map("quantity")] }],
  13: ["terminationMessagePath", "string"],
  14: ["imagePullPolicy", "string"],
  20: ["terminationMessagePolicy", "string"],
};
const labelSelector: PSchema = { 1: ["matchLabels", map("string")] };
const podTemplate: PSchema = {
  1: ["metadata", objectMeta],
  2: ["spec", {
    2: ["containers", rep(container)],
    3: ["restartPolicy", "string"],
    7: ["nodeSelector", map("string")],
  }],
};
const protoKinds: Record<string, PSchema> = {
  Secret: {
    1: ["metadata", objectMeta],
    2: ["data", map("bytes")],
    3: ["type", "string"],
    4: ["stringData", map("string")],
    5: ["immutable", "bool"],
  },
  ConfigMap: {
    1: ["metadata", objectMeta],
    2: ["data", map("string")],
    3: ["binaryData", map("bytes")],
    4: ["immutable", "bool"],
  },
  Namespace: { 1: ["metadata", objectMeta], 2: ["spec", { 1: ["finalizers", rep("string")] }] },
  ServiceAccount: {
    1: ["metadata", objectMeta],
    2: ["secrets", rep({ 1: ["kind", "string"], 2: ["namespace", "string"], 3: ["name", "string"] })],
    3: ["imagePullSecrets", rep({ 1: ["name", "string"] })],
    4: ["automountServiceAccountToken", "bool"],
  },
  Role: { 1: ["metadata", objectMeta], 2: ["rules", rep(policyRule)] },
  ClusterRole: { 1: ["metadata", objectMeta], 2: ["rules", rep(policyRule)] },
  RoleBinding: binding,
  ClusterRoleBinding: binding,
  Deployment: {
    1: ["metadata", objectMeta],
    2: ["spec", {
      1: ["replicas", "int0"],
      2: ["selector", labelSelector],
      3: ["template", podTemplate],
      4: ["strategy", { 1: ["type", "string"] }],
      5: ["minReadySeconds", "int"],
      6: ["revisionHistoryLimit", "int0"],
      9: ["progressDeadlineSeconds", "int0"],
    }],
  },
  Service: {
    1: ["metadata", objectMeta],
    2: ["spec", {
      1: [
        "ports",
        rep({
          1: ["name", "string"],
          2: ["protocol", "string"],
          3: ["port", "int"],
          4: ["targetPort", "intorstr"],
          5: ["nodePort", "int"],
        }),
      ],
      2: ["selector", map("string")],
      3: ["clusterIP", "string"],
      4: ["type", "string"],
    }],
  },
};

const readVarint = (buf: Uint8Array, pos: number): [number, number] => {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new ApiError(400, "BadRequest", "truncated protobuf body");
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
};

/** Fields of one protobuf message: field number to raw values (varints as numbers, bytes as slices). */
const readFields = (buf: Uint8Array): Map<number, (number | Uint8Array)[]> => {
  const fields = new Map<number, (number | Uint8Array)[]>();
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    let value: number | Uint8Array;
    switch (key & 7) {
      case 0:
        [value, pos] = readVarint(buf, pos);
        break;
      case 1:
        value = 0;
        pos += 8;
        break;
      case 2: {
        let len: number;
        [len, pos] = readVarint(buf, pos);
        value = buf.subarray(pos, pos + len);
        pos += len;
        break;
      }
      case 5:
        value = 0;
        pos += 4;
        break;
      default:
        throw new ApiError(400, "BadRequest", "unsupported protobuf wire type");
    }
    if (!fields.has(field)) fields.set(field, []);
    fields.get(field)!.push(value);
  }
  return fields;
};

const utf8 = new TextDecoder();
const base64 = (b: Uint8Array) => btoa(Array.from(b, (c) => String.fromCharCode(c)).join(""));

const decodeValue = (raw: number | Uint8Array, type: PType): unknown => {
  const bytes = raw instanceof Uint8Array ? raw : new Uint8Array();
  if (typeof type === "string") {
    switch (type) {
      case "string":
        return utf8.decode(bytes);
      case "bytes":
        return base64(bytes);
      case "int":
      case "int0":
        return typeof raw === "number" ? (raw >= 2 ** 63 ? raw - 2 ** 64 : raw) : 0;
      case "bool":
        return raw === 1;
      case "quantity":
        return decodeMessage(bytes, { 1: ["string", "string"] }).string ?? "0";
      case "intorstr": {
        const v = decodeMessage(bytes, {
          1: ["type", "int0"],
          2: ["intVal", "int0"],
          3: ["strVal", "string"],
        });
        return v.type === 1 ? v.strVal : v.intVal ?? 0;
      }
    }
  }
  return decodeMessage(bytes, type as PSchema);
};

/** Decodes a message by schema, dropping empty strings and zero values as Go's JSON `omitempty` would. */
export const decodeMessage = (buf: Uint8Array, schema: PSchema): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [field, values] of readFields(buf)) {
    const entry = schema[field];
    if (!entry) continue;
    const [name, type] = entry;
    if (typeof type === "object" && "repeated" in type) {
      out[name] = values.map((v) => decodeValue(v, type.repeated as PType));
    } else if (typeof type === "object" && "map" in type) {
      const m: Record<string, unknown> = {};
      for (const v of values) {
        const kv = decodeMessage(v as Uint8Array, { 1: ["k", "string"], 2: ["v", type.map as PType] });
        m[String(kv.k ?? "")] = kv.v ?? (type.map === "string" ? "" : type.map === "bytes" ? "" : undefined);
      }
      out[name] = m;
    } else {
      const v = decodeValue(values[values.length - 1], type);
      if (v === "" || v === false || (v === 0 && type !== "int0")) continue;
      out[name] = v;
    }
  }
  return out;
};

/** Decodes a `k8s\0`-enveloped protobuf object into its JSON form. */
export const decodeProtobuf = (body: Uint8Array): KObj => {
  if (body.length < 4 || utf8.decode(body.subarray(0, 4)) !== "k8s\0") {
    throw new ApiError(400, "BadRequest", "protobuf body without the k8s envelope");
  }
  const unknown = decodeMessage(body.subarray(4), {
    1: ["typeMeta", { 1: ["apiVersion", "string"], 2: ["kind", "string"] }],
  });
  const fields = readFields(body.subarray(4));
  const raw = fields.get(2)?.[0];
  const { apiVersion, kind } = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const schema = kind ? protoKinds[kind] : undefined;
  if (!schema || !(raw instanceof Uint8Array)) {
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `the simulator decodes protobuf only for ${Object.keys(protoKinds).join(", ")}; send ${
        kind ?? "this object"
      } as application/json`,
    );
  }
  const obj = decodeMessage(raw, schema) as KObj;
  obj.metadata ??= {};
  return { apiVersion, kind, ...obj };
};

// ---------------------------------------------------------------------------
// HTTP

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-cache, private", ...headers },
  });

const statusResponse = (e: ApiError) =>
  json(
    e.code,
    e.toStatus(),
    e.retryAfterSeconds !== undefined ? { "retry-after": String(e.retryAfterSeconds) } : {},
  );

const notFound = () =>
  statusResponse(new ApiError(404, "NotFound", "the server could not find the requested resource"));

/** What the client asked for in `Accept`. */
export type Rendering =
  | { readonly as: "json" }
  | { readonly as: "table"; readonly version: string }
  | { readonly as: "partial" };

export const renderingFor = (accept: string | null): Rendering => {
  for (const part of (accept ?? "").split(",")) {
    const [media, ...params] = part.split(";").map((s) => s.trim());
    const p = Object.fromEntries(params.map((x) => x.split("=").map((s) => s.trim()) as [string, string]));
    if (media !== "application/json" && media !== "*/*") continue;
    if (p.as === "Table" && p.g === "meta.k8s.io" && (p.v === "v1" || p.v === "v1beta1")) {
      return { as: "table", version: p.v };
    }
    if ((p.as === "PartialObjectMetadataList" || p.as === "PartialObjectMetadata") && p.g === "meta.k8s.io") {
      return { as: "partial" };
    }
    if (!p.as) return { as: "json" };
  }
  return { as: "json" };
};

export interface ServeOptions {
  readonly port?: number;
  readonly hostname?: string;
  /** Fault injection, installed on the cluster's API server while serving. */
  readonly faults?: Faults;
  /** Called once listening (default: silent). */
  readonly onListen?: (url: string) => void;
}

export interface SimServer {
  readonly url: string;
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** Ends open watch and log streams, then stops the server (and uninstalls faults). */
  close(): Promise<void>;
}

/**
 * The HTTP handler of the facade, without a socket: `(Request) => Promise<Response>`.
 * `streams` collects closers of open watch and log streams.
 */
export const makeHandler = (
  cluster: SimClusterShape,
  opts: { faults?: Faults; streams?: Set<() => void> } = {},
) => {
  const { api, env } = cluster;
  const streams = opts.streams ?? new Set<() => void>();
  const encoder = new TextEncoder();

  const render = (rendering: Rendering, kind: KindInfo, res: ApiResponse, query: Record<string, string>) => {
    if (res.status >= 400 || rendering.as === "json") return res.body;
    const body = res.body as KObj & { items?: KObj[] };
    const isList = Array.isArray(body.items);
    const rv = isList ? body.metadata?.resourceVersion : undefined;
    if (rendering.as === "partial") {
      return isList ? toPartialList(kind, body.items!, rv) : toPartial(kind, body);
    }
    if (body.kind === "Scale") return body;
    const table = toTable(kind, isList ? body.items! : [body], {
      now: env.now(),
      includeObject: (query.includeObject as IncludeObject | undefined) ?? "Metadata",
      resourceVersion: rv,
    });
    return { ...table, apiVersion: `meta.k8s.io/${rendering.version}` };
  };

  const readBody = async (req: Request): Promise<unknown> => {
    const type = req.headers.get("content-type") ?? "";
    if (type.includes("protobuf")) {
      const bytes = new Uint8Array(await req.arrayBuffer());
      return bytes.length === 0 ? undefined : decodeProtobuf(bytes);
    }
    const text = await req.text();
    if (text.trim() === "") return undefined;
    try {
      return type.includes("yaml") ? YAML.parse(text) : JSON.parse(text);
    } catch (e) {
      throw new ApiError(
        400,
        "BadRequest",
        `the request body is not valid ${type.includes("yaml") ? "YAML" : "JSON"}: ${(e as Error).message}`,
      );
    }
  };

  const watch = (path: string, parsed: ParsedPath, query: Record<string, string>, rendering: Rendering) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    let cancel: (() => void) | undefined = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      if (closed) return;
      closed = true;
      cancel?.();
      if (timer !== undefined) clearTimeout(timer);
      streams.delete(finish);
      try {
        controller.close();
      } catch { /* already closed or cancelled */ }
    };
    const send = (type: string, object: unknown) => {
      if (closed) return;
      let out = object;
      if (type !== "ERROR" && type !== "BOOKMARK" && rendering.as !== "json") {
        out = render(rendering, parsed.kind, { status: 200, body: object }, {
          ...query,
          includeObject: query.includeObject ?? "Object",
        });
      }
      try {
        controller.enqueue(encoder.encode(JSON.stringify({ type, object: out }) + "\n"));
      } catch {
        finish();
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => finish(),
    });
    const initial = truthy(query.sendInitialEvents);
    const watchQuery: Record<string, string> = { ...query };
    if (initial) watchQuery.resourceVersion = "";
    try {
      cancel = api.watch(path, watchQuery, { event: send, close: finish });
    } catch (e) {
      if (e instanceof ApiError && e.code === 410) {
        // Like the real API server: 200 and an ERROR event carrying the 410 Status.
        send("ERROR", e.toStatus());
        queueMicrotask(finish);
        return new Response(stream, {
          headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        });
      }
      closed = true;
      throw e;
    }
    if (closed) cancel?.();
    if (initial && !closed) {
      send("BOOKMARK", {
        kind: parsed.kind.kind,
        apiVersion: apiVersionOf(parsed.kind),
        metadata: {
          resourceVersion: String(cluster.store.resourceVersion),
          annotations: { "k8s.io/initial-events-end": "true" },
        },
      });
    }
    const timeout = Number(query.timeoutSeconds);
    if (Number.isFinite(timeout) && timeout > 0 && !closed) timer = setTimeout(finish, timeout * 1000);
    if (!closed) streams.add(finish);
    return new Response(stream, {
      headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
    });
  };

  const logs = (path: string, query: Record<string, string>) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let closed = false;
    let cancel: (() => void) | undefined = undefined;
    const finish = () => {
      if (closed) return;
      closed = true;
      cancel?.();
      streams.delete(finish);
      try {
        controller.close();
      } catch { /* already closed */ }
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => finish(),
    });
    cancel = api.readLog(path, query, (line) => {
      if (!closed) controller.enqueue(encoder.encode(line + "\n"));
    }, finish);
    if (closed) cancel();
    else streams.add(finish);
    return new Response(stream, {
      headers: { "content-type": "text/plain", "cache-control": "no-cache, private" },
    });
  };

  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const query: Record<string, string> = Object.fromEntries(url.searchParams);
    try {
      const latency = opts.faults?.latency(path) ?? 0;
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      if (req.method === "GET") {
        switch (path) {
          case "/version":
            return json(200, simServerVersion);
          case "/healthz":
          case "/livez":
          case "/readyz":
            return new Response("ok", { headers: { "content-type": "text/plain" } });
          case "/api":
            return json(200, apiVersions(url.host));
          case "/apis":
            return json(200, apiGroupList());
        }
        const gv = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
        if (gv) {
          const list = apiResourceList(gv[1] ?? `${gv[2]}/${gv[3]}`);
          return list ? json(200, list) : notFound();
        }
        if (path === "/openapi/v3") return json(200, openApiV3Index());
        const oapi = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(path);
        if (oapi) {
          const doc = openApiV3GroupVersion(oapi[1] ?? oapi[2]);
          return doc ? json(200, doc) : notFound();
        }
        if (path.startsWith("/openapi/")) return notFound();
        const group = /^\/apis\/([^/]+)$/.exec(path);
        if (group) {
          const g = apiGroupList().groups.find((x) => x.name === group[1]);
          return g ? json(200, { kind: "APIGroup", apiVersion: "v1", ...g }) : notFound();
        }
      }
      if (parseMetricsPath(path)) {
        // Read-only and computed (SimApiServer answers 405 to writes and watches): JSON or a Table.
        const res = api.handle({ method: req.method, path, query });
        const rendering = renderingFor(req.headers.get("accept"));
        const body = res.status === 200 && rendering.as === "table"
          ? metricsTable(
            res.body as Parameters<typeof metricsTable>[0],
            rendering.version,
            query.includeObject,
          )
          : res.body;
        return json(res.status, body, res.headers);
      }
      const parsed = parsePath(path);
      if (!parsed) return notFound();
      const rendering = renderingFor(req.headers.get("accept"));
      if (req.method === "GET" && parsed.subresource === "log" && parsed.kind.kind === "Pod") {
        return logs(path, query);
      }
      if (req.method === "GET" && truthy(query.watch)) return watch(path, parsed, query, rendering);
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readBody(req);
      const contentType = req.headers.get("content-type") ?? "application/json";
      const apiReq: ApiRequest = { method: req.method, path, query, body, contentType };
      const res = api.handle(apiReq);
      return json(res.status, render(rendering, parsed.kind, res, query), res.headers);
    } catch (e) {
      if (e instanceof ApiError) return statusResponse(e);
      return statusResponse(new ApiError(500, "InternalError", String(e)));
    }
  };
};

/** Serves the cluster over HTTP (port 0 picks a free port). */
export const serveSim = (cluster: SimClusterShape, options: ServeOptions = {}): SimServer => {
  const streams = new Set<() => void>();
  const uninstall = options.faults ? installFaults(cluster.api, options.faults) : undefined;
  const handler = makeHandler(cluster, { faults: options.faults, streams });
  const hostname = options.hostname ?? "127.0.0.1";
  const server = Deno.serve({ port: options.port ?? 0, hostname, onListen: () => {} }, handler);
  const host = server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname;
  const url = `http://${host}:${server.addr.port}`;
  options.onListen?.(url);
  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    close: () =>
      closing ??= (async () => {
        for (const end of [...streams]) end();
        uninstall?.();
        await server.shutdown();
      })(),
  };
};

/** A kubeconfig (YAML) whose current context points at `url`, without credentials. */
export const kubeconfigFor = (url: string, opts: { name?: string; namespace?: string } = {}): string => {
  const name = opts.name ?? "faas-deno-sim";
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: url } }],
    users: [{ name, user: {} }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: opts.namespace ?? "default" } }],
    "current-context": name,
    preferences: {},
  });
};

// ---------------------------------------------------------------------------
// Time faster than real time

/** A Clock whose time runs `speed` times faster than the wall clock (sleeps are shortened to match). */
export const scaledClock = (speed: number, start = Date.now()): Clock.Clock => {
  const now = () => start + (Date.now() - start) * speed;
  const sleep = (millis: number): Effect.Effect<void> =>
    millis <= 0 ? Effect.yieldNow : Effect.callback<void>((resume) => {
      const handle = setTimeout(() => resume(Effect.void), Math.min(millis / speed, 2 ** 31 - 1));
      return Effect.sync(() => clearTimeout(handle));
    });
  return {
    currentTimeMillisUnsafe: () => Math.floor(now()),
    currentTimeMillis: Effect.sync(() => Math.floor(now())),
    currentTimeNanosUnsafe: () => BigInt(Math.floor(now() * 1e6)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.floor(now() * 1e6))),
    monotonicTimeNanosUnsafe: () => BigInt(Math.floor(performance.now() * speed * 1e6)),
    monotonicTimeNanos: Effect.sync(() => BigInt(Math.floor(performance.now() * speed * 1e6))),
    sleep: (d) => sleep(Duration.toMillis(d)),
  };
};

// ---------------------------------------------------------------------------
// CLI

export const simHelp = `deno task sim [flags]: the cluster simulator as a Kubernetes API server (plain HTTP)

  --port N                  port on 127.0.0.1 (default 6443; 0 picks a free one)
  --host H                  address to listen on (default 127.0.0.1)
  --write-kubeconfig PATH   write a kubeconfig for kubectl pointing at the server
  --seed N                  simulator seed (default 1)
  --nodes N                 simulated nodes (default 3)
  --node-cpu Q, --node-memory Q   node capacity (default 4, 16Gi)
  --function-namespace NS   namespace labelled openfaas=1 at start (default openfaas-fn)
  --speed X                 simulated time runs X times faster than real time (default 1)
  --fault-rate R | VERB=R,...   injected error probability (verbs: get list watch create update patch delete, *)
  --fault-status LIST       statuses to inject (default 500,503,429,409; 409 only on update/patch)
  --fault-latency MS|MIN-MAX   added latency per request
  --fault-watch-drop R[:MIN-MAX]   probability a watch ends early (after MIN..MAX events)
  --fault-compact R         probability per request that watch history is compacted (resumes get 410)
  --fault-retry-after S     Retry-After seconds on 429/503 (default 1)
  --fault-seed N            seed of the fault generator (default: --seed)
`;

export const parseSimArgs = (args: readonly string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (a === "--help" || a === "-h") out.help = "true";
    else {
      const v = args[i + 1];
      if (v === undefined) throw new Error(`${a} needs a value`);
      out[a.slice(2)] = v;
      i++;
    }
  }
  return out;
};

const known = new Set([
  "help",
  "port",
  "host",
  "write-kubeconfig",
  "seed",
  "nodes",
  "node-cpu",
  "node-memory",
  "function-namespace",
  "speed",
  "fault-rate",
  "fault-status",
  "fault-latency",
  "fault-watch-drop",
  "fault-compact",
  "fault-retry-after",
  "fault-seed",
]);

/** What simulated containers write to their log when they start (classic and of-watchdog style). */
const watchdogLog = (image: { repository?: string }, _pod: KObj, c: KObj): string[] => {
  const fprocess = (c.env ?? []).find((e: { name: string }) => e.name === "fprocess")?.value;
  return [
    `Version: 0.9.x-sim\tSHA: faas-deno-sim`,
    ...(fprocess ? [`Forking - ${fprocess} []`] : []),
    `Listening on port: 8080`,
    `Writing lock-file to: /tmp/.lock`,
    `Metrics listening on port: 8081`,
    ...(image.repository ? [`Image: ${image.repository}`] : []),
  ];
};

const main = async (args: readonly string[]) => {
  let flags: Record<string, string>;
  let faults: Faults | undefined;
  let simOptions: SimOptions;
  let speed: number;
  try {
    flags = parseSimArgs(args);
    for (const k of Object.keys(flags)) if (!known.has(k)) throw new Error(`unknown flag --${k}`);
    if (flags.help) {
      console.log(simHelp);
      return;
    }
    const int = (name: string, fallback: number) => {
      const v = flags[name] === undefined ? fallback : Number(flags[name]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`--${name}: expected a non-negative integer`);
      return v;
    };
    speed = flags.speed === undefined ? 1 : Number(flags.speed);
    if (!Number.isFinite(speed) || speed <= 0) throw new Error("--speed: expected a positive number");
    const seed = int("seed", 1);
    simOptions = {
      seed,
      nodes: int("nodes", 3),
      nodeCpu: flags["node-cpu"],
      nodeMemory: flags["node-memory"],
      functionNamespace: flags["function-namespace"],
      kubelet: { startupLog: watchdogLog },
    };
    const faultFlags = {
      seed: flags["fault-seed"] ?? seed,
      rate: flags["fault-rate"],
      statuses: flags["fault-status"],
      latency: flags["fault-latency"],
      watchDrop: flags["fault-watch-drop"],
      compact: flags["fault-compact"],
      retryAfter: flags["fault-retry-after"],
    };
    if (Object.entries(faultFlags).some(([k, v]) => k !== "seed" && v !== undefined)) {
      faults = new Faults(parseFaultFlags(faultFlags));
    }
    int("port", 6443);
  } catch (e) {
    console.error(`sim: ${(e as Error).message}\n\n${simHelp}`);
    Deno.exit(2);
  }
  const clusterLayer = SimCluster.layer(simOptions);
  const runtime = ManagedRuntime.make(
    speed === 1
      ? clusterLayer
      : clusterLayer.pipe(Layer.provide(Layer.succeed(Clock.Clock, scaledClock(speed)))),
  );
  const cluster = await runtime.runPromise(Effect.service(SimCluster));
  const sim = serveSim(cluster, {
    port: Number(flags.port ?? 6443),
    hostname: flags.host ?? "127.0.0.1",
    faults,
  });
  console.log(
    `faas-deno simulator: Kubernetes API on ${sim.url} (seed ${cluster.options.seed}, ${cluster.options.nodes} nodes${
      speed !== 1 ? `, ${speed}x speed` : ""
    }${faults ? ", faults on" : ""})`,
  );
  if (flags["write-kubeconfig"]) {
    await Deno.writeTextFile(flags["write-kubeconfig"], kubeconfigFor(sim.url));
    console.log(
      `kubeconfig: ${flags["write-kubeconfig"]} (kubectl --kubeconfig ${
        flags["write-kubeconfig"]
      } get pods -A)`,
    );
  }
  shutdownOnSignals(async () => {
    await sim.close();
    await runtime.dispose();
  });
  await sim.server.finished;
};

if (import.meta.main) await main(Deno.args);
