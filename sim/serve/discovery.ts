/**
 * Discovery documents of the simulated API server, as kubectl and client-go read
 * them: `/version`, `/api`, `/apis` (legacy, or aggregated `apidiscovery.k8s.io`
 * when asked for), each group version's `APIResourceList`, and a schema-less
 * OpenAPI v3 index and per-group-version documents. Every document lists the kinds
 * the cluster serves now: the built-ins and those of its established CRDs.
 */
import { apiVersionOf, type KindInfo, type KindRegistry } from "../kinds.ts";
import { metricsApiGroup, metricsApiVersion, metricsResourceList } from "../metricsapi.ts";

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

/**
 * Kubernetes' version priority (GA before beta before alpha, higher numbers first, other names
 * last and alphabetical): the first of a group's versions is its preferred one.
 */
const versionOrder = (a: string, b: string) => {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    return [m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2, -Number(m[1]), -Number(m[3] ?? 0), ""];
  };
  const x = rank(a), y = rank(b);
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || x[3].localeCompare(y[3]);
};

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

const inAll = new Set(["Pod", "Service", "Deployment", "ReplicaSet"]);

const categoriesOf = (k: KindInfo) => k.categories ?? (!k.custom && inAll.has(k.kind) ? ["all"] : undefined);

/** The `APIResourceList` of one group version. */
export const apiResourceList = (kinds: KindRegistry, groupVersion: string) => {
  if (groupVersion === metricsApiVersion) return metricsResourceList();
  const served = kinds.all().filter((k) => apiVersionOf(k) === groupVersion);
  if (served.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion,
    resources: served.flatMap((k) => {
      const categories = categoriesOf(k);
      return [
        {
          name: k.plural,
          singularName: k.singular ?? k.kind.toLowerCase(),
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: [...(k.verbs ?? defaultVerbs)],
          ...(k.shortNames?.length ? { shortNames: [...k.shortNames] } : {}),
          ...(categories?.length ? { categories: [...categories] } : {}),
        },
        ...subresourcesOf(k),
      ];
    }),
  };
};

/** Each named group with its versions, preferred first. */
const namedGroups = (kinds: KindRegistry): [string, string[]][] => {
  const groups = new Map<string, Set<string>>();
  for (const k of kinds.all()) {
    if (!k.group) continue;
    if (!groups.has(k.group)) groups.set(k.group, new Set());
    groups.get(k.group)!.add(k.version);
  }
  return [...groups].map(([name, versions]) => [name, [...versions].sort(versionOrder)]);
};

/** The named API groups (`/apis`). */
export const apiGroupList = (kinds: KindRegistry) => ({
  kind: "APIGroupList",
  apiVersion: "v1",
  groups: [
    ...namedGroups(kinds).map(([name, versions]) => {
      const vs = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return { name, versions: vs, preferredVersion: vs[0] };
    }),
    // Served from the UsageMeter, not the store (sim/metricsapi.ts), as metrics-server's APIService.
    metricsApiGroup(),
  ],
});

/** The aggregated discovery versions a client may ask for (`Accept: ...;g=apidiscovery.k8s.io;v=v2`). */
export type AggregatedVersion = "v2" | "v2beta1";

/** The content type of an aggregated discovery document, which client-go checks before decoding it. */
export const aggregatedContentType = (v: AggregatedVersion) =>
  `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;

/** The aggregated discovery version `Accept` asks for first, if any. */
export const aggregatedVersionFor = (accept: string | null): AggregatedVersion | undefined => {
  for (const part of (accept ?? "").split(",")) {
    const [media, ...params] = part.split(";").map((s) => s.trim());
    const p = Object.fromEntries(params.map((x) => x.split("=").map((s) => s.trim()) as [string, string]));
    if (media !== "application/json" || p.g !== "apidiscovery.k8s.io") continue;
    if (p.as !== undefined && p.as !== "APIGroupDiscoveryList") continue;
    if (p.v === "v2" || p.v === "v2beta1") return p.v;
  }
  return undefined;
};

type LegacyResource = {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  group?: string;
  version?: string;
  shortNames?: string[];
  categories?: string[];
};

/** One group version's resources in aggregated form, from its APIResourceList (one source for both). */
const discoveryResources = (group: string, version: string, list: { resources: LegacyResource[] }) => {
  const kindOf = (r: LegacyResource) => ({
    group: r.group ?? group,
    version: r.version ?? version,
    kind: r.kind,
  });
  return list.resources.filter((r) => !r.name.includes("/")).map((r) => {
    const subresources = list.resources
      .filter((s) => s.name.startsWith(`${r.name}/`))
      .map((s) => ({
        subresource: s.name.slice(r.name.length + 1),
        responseKind: kindOf(s),
        verbs: s.verbs,
      }));
    return {
      resource: r.name,
      responseKind: kindOf(r),
      scope: r.namespaced ? "Namespaced" : "Cluster",
      singularResource: r.singularName,
      verbs: r.verbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
      ...(subresources.length > 0 ? { subresources } : {}),
    };
  });
};

/**
 * Aggregated discovery (`APIGroupDiscoveryList`): of the core group for `/api`, of the named groups
 * (and metrics.k8s.io) for `/apis`, with every version's resources, so a client needs no other document.
 */
export const aggregatedDiscovery = (kinds: KindRegistry, root: "api" | "apis", v: AggregatedVersion) => {
  const groups: [string, string[]][] = root === "api"
    ? [["", ["v1"]]]
    : [...namedGroups(kinds), [metricsApiGroup().name, [metricsApiVersion.split("/")[1]]]];
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: `apidiscovery.k8s.io/${v}`,
    metadata: {},
    items: groups.map(([name, versions]) => ({
      metadata: { ...(name ? { name } : {}), creationTimestamp: null },
      versions: versions.map((version) => ({
        version,
        resources: discoveryResources(
          name,
          version,
          apiResourceList(kinds, name ? `${name}/${version}` : version) as { resources: LegacyResource[] },
        ),
        freshness: "Current",
      })),
    })),
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
export const openApiV3Index = (kinds: KindRegistry) => {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const k of kinds.all()) {
    const gv = apiVersionOf(k);
    const key = k.group ? `apis/${gv}` : `api/${gv}`;
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${openApiHash}` };
  }
  return { paths };
};

const openApiHash = "FAASDENOSIM0001";

/** The OpenAPI v3 document of one group version (`/openapi/v3/apis/apps/v1`), without schemas. */
export const openApiV3GroupVersion = (kinds: KindRegistry, groupVersion: string) => {
  const served = kinds.all().filter((k) => apiVersionOf(k) === groupVersion);
  if (served.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const param = (name: string) => ({ name, in: "query", schema: { type: "string", uniqueItems: true } });
  for (const k of served) {
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
