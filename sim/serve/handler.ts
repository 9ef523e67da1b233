/**
 * The HTTP handler of the kubectl facade, without a socket: discovery, every stored
 * kind's REST paths (delegated to SimApiServer.handle, which also applies strategic
 * merge / JSON / server-side-apply patches, `sim/patch.ts`), watches as chunked
 * newline-delimited JSON, `pods/{name}/log` as text, server-side tables for
 * `kubectl get`, `Status` bodies for errors, and the resource metrics API
 * (`metrics.k8s.io`, for `kubectl top`; `sim/metricsapi.ts`).
 */
import YAML from "yaml";
import { type ApiRequest, type ApiResponse, type ParsedPath, parsePath, truthy } from "../apiserver.ts";
import type { SimClusterShape } from "../cluster.ts";
import { apiVersionOf, type KindInfo, type KObj } from "../kinds.ts";
import { ApiError } from "../apierror.ts";
import type { Faults } from "../faults.ts";
import { type IncludeObject, toPartial, toPartialList, toTable } from "../table.ts";
import { metricsTable, parseMetricsPath } from "../metricsapi.ts";
import {
  aggregatedContentType,
  aggregatedDiscovery,
  aggregatedVersionFor,
  apiGroupList,
  apiResourceList,
  apiVersions,
  openApiV3GroupVersion,
  openApiV3Index,
  simServerVersion,
} from "./discovery.ts";
import { decodeProtobuf } from "./protobuf.ts";

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

/**
 * The warnings the API server sends with every request on a deprecated kind (its
 * APILifecycleDeprecated/Replacement, in a `Warning: 299 - "text"` header): core/v1 Endpoints
 * since v1.33, the version the simulator reports.
 */
const deprecationWarning = (kind: KindInfo): string | undefined =>
  kind.kind === "Endpoints" && !kind.group && kind.version === "v1"
    ? `299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"`
    : undefined;

const notFound = () =>
  statusResponse(ApiError.of(404, "NotFound", "the server could not find the requested resource"));

/** What the client asked for in `Accept`. */
type Rendering =
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

/**
 * The HTTP handler of the facade, without a socket: `(Request) => Promise<Response>`.
 * `streams` collects closers of open watch and log streams.
 */
export const makeHandler = (
  cluster: SimClusterShape,
  opts: { faults?: Faults; streams?: Set<() => void> } = {},
) => {
  const { api, clock } = cluster;
  const kinds = cluster.store.kinds;
  const streams = opts.streams ?? new Set<() => void>();
  const encoder = new TextEncoder();

  const render = (rendering: Rendering, kind: KindInfo, res: ApiResponse, query: Record<string, string>) => {
    if (res.status >= 400 || rendering.as === "json") return res.body;
    const body = res.body as KObj & { items?: KObj[] };
    const isList = Array.isArray(body.items);
    const rv = isList ? body.metadata?.resourceVersion : undefined;
    // A page of a list keeps its continue token and remaining count in any rendering.
    const listMeta = isList ? { metadata: { ...body.metadata } } : {};
    if (rendering.as === "partial") {
      return isList ? { ...toPartialList(kind, body.items!, rv), ...listMeta } : toPartial(kind, body);
    }
    if (body.kind === "Scale" || body.kind === "Status") return body;
    const table = toTable(kind, isList ? body.items! : [body], {
      now: clock.now(),
      includeObject: (query.includeObject as IncludeObject | undefined) ?? "Metadata",
      resourceVersion: rv,
    });
    return { ...table, apiVersion: `meta.k8s.io/${rendering.version}`, ...listMeta };
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
      throw ApiError.of(
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
    let warning: string | undefined;
    const warned = (res: Response) => {
      if (warning) res.headers.append("warning", warning);
      return res;
    };
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
          case "/apis": {
            // Aggregated discovery when asked for (kubectl and client-go 1.30+ ask first), else legacy.
            const aggregated = aggregatedVersionFor(req.headers.get("accept"));
            const vary = { vary: "Accept" };
            if (aggregated) {
              return json(200, aggregatedDiscovery(kinds, path === "/api" ? "api" : "apis", aggregated), {
                ...vary,
                "content-type": aggregatedContentType(aggregated),
              });
            }
            return json(200, path === "/api" ? apiVersions(url.host) : apiGroupList(kinds), vary);
          }
        }
        const gv = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
        if (gv) {
          const list = apiResourceList(kinds, gv[1] ?? `${gv[2]}/${gv[3]}`);
          return list ? json(200, list) : notFound();
        }
        if (path === "/openapi/v3") return json(200, openApiV3Index(kinds));
        const oapi = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(path);
        if (oapi) {
          const doc = openApiV3GroupVersion(kinds, oapi[1] ?? oapi[2]);
          return doc ? json(200, doc) : notFound();
        }
        if (path.startsWith("/openapi/")) return notFound();
        const group = /^\/apis\/([^/]+)$/.exec(path);
        if (group) {
          const g = apiGroupList(kinds).groups.find((x) => x.name === group[1]);
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
      const parsed = parsePath(path, cluster.store.kinds);
      if (!parsed) return notFound();
      const rendering = renderingFor(req.headers.get("accept"));
      if (req.method === "GET" && parsed.subresource === "log" && parsed.kind.kind === "Pod") {
        return logs(path, query);
      }
      warning = deprecationWarning(parsed.kind);
      if (req.method === "GET" && truthy(query.watch)) return warned(watch(path, parsed, query, rendering));
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readBody(req);
      const contentType = req.headers.get("content-type") ?? "application/json";
      const apiReq: ApiRequest = { method: req.method, path, query, body, contentType };
      const res = api.handle(apiReq);
      return warned(json(res.status, render(rendering, parsed.kind, res, query), res.headers));
    } catch (e) {
      if (e instanceof ApiError) return warned(statusResponse(e));
      return warned(statusResponse(ApiError.of(500, "InternalError", String(e))));
    }
  };
};
