/**
 * Discovery documents of the simulated API server, as kubectl and client-go read
 * them: `/version`, `/api`, `/apis`, each group version's `APIResourceList`, and a
 * schema-less OpenAPI v3 index and per-group-version documents.
 */
import { allKinds, apiVersionOf, type KindInfo } from "../kinds.ts";
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
      // Served from the UsageMeter, not the store (sim/metricsapi.ts), as metrics-server's APIService.
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
