/**
 * The simulator's API server: Kubernetes REST paths over the Store. The same
 * router serves the in-process SimTransport and the HTTP facade, so both speak
 * exactly the same protocol (Status errors, watch semantics, subresources).
 */
import { ApiError, conflict, invalid } from "./apierror.ts";
import type { Store } from "./store.ts";
import type { WatchFilter } from "./watch.ts";
import { startWatch, type WatchSink, type WatchTimers } from "./watchstream.ts";
import { type KindInfo, Kinds, type KObj } from "./kinds.ts";
import { type ParsedPath, parsePath } from "./paths.ts";
import { formatSelector, matches, parseSelector, type Selector } from "../src/domain/selectors.ts";
import {
  MetricsKinds,
  type MetricsPath,
  nodeMetricsObject,
  parseMetricsPath,
  podMetricsObject,
} from "./metricsapi.ts";
import type { PodUsageSample } from "./usagemeter.ts";
import { applyPatch, patchTypeOf } from "./patch.ts";
import { asServedVersion } from "./crds.ts";
import { deleteCollection, deleteResponse } from "./deletion.ts";
import { deleteOptionsOf, dryRunOf } from "./requestoptions.ts";
import { listPage, parseLimit } from "./paging.ts";
import { fieldFilter } from "./fieldselector.ts";

export { type ParsedPath, parsePath };
export type { WatchSink };

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  readonly contentType?: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** Pod logs, served by the kubelet simulation. */
export interface LogReadOptions {
  readonly container?: string;
  readonly follow: boolean;
  readonly tailLines?: number;
  /** Milliseconds since the epoch. */
  readonly sinceTime?: number;
  readonly timestamps: boolean;
}

export interface LogSource {
  /** Lines already written, and a subscription for new ones when following. */
  read(
    namespace: string,
    pod: string,
    opts: LogReadOptions,
    onLine: (line: string) => void,
    onEnd: () => void,
  ): () => void;
}

/** Pod usage for the metrics API (the cluster's UsageMeter). */
export interface MetricsSource {
  readonly windowMs: number;
  now(): number;
  podMetrics(namespace: string, pod: string): PodUsageSample | undefined;
  /** Whether the node's kubelet answers scrapes (default: every node); an unscraped node has no metrics. */
  scraped?(node: string): boolean;
}

/** A hook that may fail a request before it reaches the store (fault injection). */
export type RequestInterceptor = (req: ApiRequest, parsed: ParsedPath | undefined) => ApiError | undefined;

const notFoundPath = () => ApiError.of(404, "NotFound", "the server could not find the requested resource");

const methodNotAllowed = (message = "the server does not allow this method on the requested resource") =>
  ApiError.of(405, "MethodNotAllowed", message);

/** A boolean query parameter (`watch=1`, `follow=true`). */
export const truthy = (v: string | undefined) => v === "1" || v === "true";

/** The options kind of each write verb (DELETE has its own, see sim/requestoptions.ts). */
const writeOptionsKinds: Record<string, string> = { POST: "Create", PUT: "Update", PATCH: "Patch" };

const isRunning = (pod: KObj) =>
  pod.status?.phase === "Running" && pod.status?.containerStatuses?.[0]?.state?.running !== undefined;

export class SimApiServer {
  interceptor: RequestInterceptor | undefined;
  /** While set, every request and new watch fails with it (the API server restarting: sim/disruptions). */
  unavailable: ApiError | undefined;
  /** Ends every open watch (their sinks are closed), as an API server restart does. */
  private readonly openWatches = new Set<() => void>();
  /** Ends every followed log stream (closeLogStreams), as the restart drops their connections too. */
  private readonly openLogs = new Set<() => void>();

  constructor(
    readonly store: Store,
    private readonly logs?: LogSource,
    /** Serves `metrics.k8s.io` when present (else its paths are 404, as without metrics-server). */
    private readonly metrics?: MetricsSource,
    /** The cluster's clock, for periodic watch bookmarks (none: no bookmarks). */
    private readonly timers?: WatchTimers,
  ) {}

  /** Handles one request; never throws. */
  handle(req: ApiRequest): ApiResponse {
    try {
      const res = this.route(req);
      // Custom resources come back in the version asked for (one store for every version of a CRD).
      return res.status < 300 && req.path.startsWith("/apis/")
        ? { ...res, body: asServedVersion(parsePath(req.path, this.store.kinds)?.kind, res.body) }
        : res;
    } catch (e) {
      if (e instanceof ApiError) {
        const headers: Record<string, string> = e.retryAfterSeconds !== undefined
          ? { "retry-after": String(e.retryAfterSeconds) }
          : {};
        return { status: e.code, body: e.toStatus(), headers };
      }
      return { status: 500, body: ApiError.of(500, "InternalError", String(e)).toStatus() };
    }
  }

  private route(req: ApiRequest): ApiResponse {
    if (this.unavailable) throw this.unavailable;
    const metricsPath = parseMetricsPath(req.path);
    if (metricsPath) return this.metricsRequest(req, metricsPath);
    const parsed = parsePath(req.path, this.store.kinds);
    const fault = this.interceptor?.(req, parsed);
    if (fault) throw fault;
    if (!parsed) throw notFoundPath();
    const q = req.query ?? {};
    const { kind, namespace, name, subresource } = parsed;
    const optionsKind = writeOptionsKinds[req.method];
    const dryRun = optionsKind ? dryRunOf(q.dryRun, `${optionsKind}Options`) : false;
    const store = this.store;
    if (subresource === "log" && kind === Kinds.Pod) {
      throw ApiError.of(400, "BadRequest", "pod logs are a stream: use the log reader");
    }
    if (
      subresource && !(subresource === "status" && kind.hasStatus) &&
      !(subresource === "scale" && kind === Kinds.Deployment)
    ) {
      throw notFoundPath();
    }
    if (subresource === "scale") return this.scale(req, kind, namespace, name!, dryRun);
    switch (req.method) {
      case "GET": {
        if (truthy(q.watch)) throw ApiError.of(400, "BadRequest", "watch requests are served as streams");
        if (name) return { status: 200, body: store.get(kind, namespace, name) };
        const selector = this.selector(q.labelSelector);
        const fields = fieldFilter(q.fieldSelector);
        if (fields instanceof ApiError) throw fields;
        const limit = parseLimit(q.limit);
        const list = limit > 0 || q.continue
          ? listPage(store, {
            kind,
            namespace,
            selector,
            fieldMatch: fields.match,
            limit,
            continueToken: q.continue,
          })
          : store.list(kind, namespace, selector, fields.match);
        if ("status" in list) return list;
        const { items, resourceVersion } = list;
        return {
          status: 200,
          body: {
            apiVersion: kind.group ? `${kind.group}/${kind.version}` : kind.version,
            kind: `${kind.kind}List`,
            metadata: {
              resourceVersion,
              ...("continue" in list && list.continue ? { continue: list.continue } : {}),
              ...("remainingItemCount" in list && list.remainingItemCount !== undefined
                ? { remainingItemCount: list.remainingItemCount }
                : {}),
            },
            items,
          },
        };
      }
      case "POST":
        if (name) throw methodNotAllowed();
        return {
          status: 201,
          body: store.create(kind, namespace, this.object(req.body), { dryRun }),
        };
      case "PUT":
        if (!name) throw methodNotAllowed();
        return {
          status: 200,
          body: store.update(kind, namespace, name, this.object(req.body), {
            subresource: subresource as "status" | undefined,
            dryRun,
          }),
        };
      case "PATCH": {
        if (!name) throw methodNotAllowed();
        const type = patchTypeOf(req.contentType);
        if (type === "apply" && !subresource && !store.peek(kind, namespace, name)) {
          // Server-side apply, approximated: create when absent, else a strategic merge of the applied object.
          return {
            status: 201,
            body: store.create(kind, namespace, this.object(req.body), { dryRun }),
          };
        }
        return {
          status: 200,
          body: store.patch(kind, namespace, name, (current) => applyPatch(type, current, req.body), {
            subresource: subresource as "status" | undefined,
            dryRun,
          }),
        };
      }
      case "DELETE": {
        // No subresource is deleted; deletecollection is served on a namespace's path (not for namespaces).
        if (subresource || (!name && (kind === Kinds.Namespace || (kind.namespaced && !namespace)))) {
          throw methodNotAllowed();
        }
        const { options, invalid } = deleteOptionsOf(q, req.body);
        if (invalid && (!name || store.peek(kind, namespace, name))) throw invalid;
        if (name) return deleteResponse(kind, store.delete(kind, namespace, name, options), options);
        const fields = fieldFilter(q.fieldSelector);
        if (fields instanceof ApiError) throw fields;
        const list = store.list(kind, namespace, this.selector(q.labelSelector), fields.match);
        return deleteCollection(store, kind, list, options);
      }
      default:
        throw methodNotAllowed();
    }
  }

  /** `metrics.k8s.io/v1beta1`: PodMetrics and NodeMetrics, computed now; get and list only. */
  private metricsRequest(req: ApiRequest, path: MetricsPath): ApiResponse {
    const fault = this.interceptor?.(req, path);
    if (fault) throw fault;
    const q = req.query ?? {};
    if (!this.metrics || path.subresource !== undefined) throw notFoundPath();
    if (req.method !== "GET" || truthy(q.watch)) throw methodNotAllowed();
    const metrics = this.metrics;
    const now = metrics.now();
    const notFound = (name: string) =>
      ApiError.of(404, "NotFound", `${path.kind.kind.toLowerCase()}.metrics.k8s.io "${name}" not found`);
    const selector = this.selector(q.labelSelector);
    const fields = fieldFilter(q.fieldSelector);
    if (fields instanceof ApiError) throw fields;
    const pick = (o: KObj) => matches(selector, o.metadata.labels) && (!fields.match || fields.match(o));
    const scraped = (node: string | undefined) => node !== undefined && (metrics.scraped?.(node) ?? true);
    const sorted = (objects: KObj[]) =>
      objects.sort((a, b) =>
        (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "") ||
        a.metadata.name!.localeCompare(b.metadata.name!)
      );
    /** Running pods with their usage, in the scope asked for. */
    const podUsage = (pods: Iterable<KObj>, filter: (o: KObj) => boolean = () => true) => {
      const out: { pod: KObj; usage: PodUsageSample }[] = [];
      for (const pod of pods) {
        if (!isRunning(pod) || !filter(pod) || !scraped(pod.spec?.nodeName)) continue;
        const usage = metrics.podMetrics(pod.metadata.namespace!, pod.metadata.name!);
        if (usage) out.push({ pod, usage });
      }
      return out;
    };
    const list = (kind: string, items: unknown[]) => ({
      status: 200,
      body: { kind, apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items },
    });
    if (path.kind === MetricsKinds.PodMetrics) {
      if (path.name !== undefined) {
        const pod = this.store.peek(Kinds.Pod, path.namespace, path.name);
        const usage = pod && path.namespace !== undefined && isRunning(pod) && scraped(pod.spec?.nodeName)
          ? metrics.podMetrics(path.namespace, path.name)
          : undefined;
        if (!pod || !usage) throw notFound(path.name);
        return { status: 200, body: podMetricsObject(pod, usage, now) };
      }
      // Label-selected pods come from the store's label index, not a scan of every pod.
      const found = podUsage(this.store.select(Kinds.Pod, path.namespace, selector, fields.match));
      const byPod = new Map(found.map((f) => [f.pod, f.usage]));
      return list(
        "PodMetricsList",
        sorted(found.map((f) => f.pod)).map((pod) => podMetricsObject(pod, byPod.get(pod)!, now)),
      );
    }
    // A node's usage is the sum of its pods' (one pass over the pods for all nodes asked for).
    const nodes = path.name !== undefined
      ? [this.store.peek(Kinds.Node, undefined, path.name)].filter((n): n is KObj =>
        n !== undefined && scraped(n.metadata.name)
      )
      : sorted([...this.store.scan(Kinds.Node)].filter((n) => pick(n) && scraped(n.metadata.name)));
    if (path.name !== undefined && nodes.length === 0) throw notFound(path.name);
    const sums = new Map(
      nodes.map((n) => [n.metadata.name, { cpuNanoCores: 0, memoryBytes: 0, windowMs: 0 }]),
    );
    for (const { pod, usage } of podUsage(this.store.scan(Kinds.Pod), (p) => sums.has(p.spec?.nodeName))) {
      const sum = sums.get(pod.spec.nodeName)!;
      sum.cpuNanoCores += usage.cpuNanoCores;
      sum.memoryBytes += usage.memoryBytes;
      sum.windowMs = Math.max(sum.windowMs, usage.windowMs);
    }
    const nodeUsage = (node: KObj) => {
      const sum = sums.get(node.metadata.name)!;
      return nodeMetricsObject(node, { ...sum, windowMs: sum.windowMs || metrics.windowMs }, now);
    };
    if (path.name !== undefined) return { status: 200, body: nodeUsage(nodes[0]) };
    return list("NodeMetricsList", nodes.map(nodeUsage));
  }

  private selector(text: string | undefined): Selector {
    const s = parseSelector(text);
    if (typeof s === "string") throw ApiError.of(400, "BadRequest", `unable to parse requirement: ${s}`);
    return s;
  }

  private object(body: unknown): KObj {
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      throw ApiError.of(400, "BadRequest", "the request body must be a JSON object");
    }
    const o = body as KObj;
    o.metadata ??= {};
    return o;
  }

  private scale(req: ApiRequest, kind: KindInfo, namespace: string | undefined, name: string, dry: boolean) {
    const toScale = (d: KObj) => ({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: d.metadata.name,
        namespace: d.metadata.namespace,
        uid: d.metadata.uid,
        resourceVersion: d.metadata.resourceVersion,
        creationTimestamp: d.metadata.creationTimestamp,
      },
      spec: { replicas: d.spec.replicas },
      status: {
        replicas: d.status?.replicas ?? 0,
        selector: formatSelector(d.spec.selector?.matchLabels ?? {}),
      },
    });
    if (req.method === "GET") return { status: 200, body: toScale(this.store.get(kind, namespace, name)) };
    if (req.method !== "PUT" && req.method !== "PATCH") throw methodNotAllowed();
    const body = this.object(req.body);
    const replicas = body.spec?.replicas;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw invalid({ kind: "Scale", group: "autoscaling" }, name, [
        `spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`,
      ]);
    }
    const current = this.store.get(kind, namespace, name);
    const rv = body.metadata?.resourceVersion;
    if (req.method === "PUT" && rv && rv !== current.metadata.resourceVersion) throw conflict(kind, name);
    current.spec.replicas = replicas;
    return { status: 200, body: toScale(this.store.update(kind, namespace, name, current, { dryRun: dry })) };
  }

  /**
   * Starts a watch. Throws ApiError for a bad path or selector, and 410 Expired
   * when resuming from a compacted resourceVersion. Returns a cancel function.
   */
  watch(path: string, query: Readonly<Record<string, string | undefined>>, sink: WatchSink): () => void {
    if (this.unavailable) throw this.unavailable;
    const metricsPath = parseMetricsPath(path);
    if (metricsPath) {
      // metrics-server serves get and list only.
      this.metricsRequest({ method: "WATCH", path, query }, metricsPath);
    }
    const parsed = parsePath(path, this.store.kinds);
    const fault = this.interceptor?.({ method: "WATCH", path, query }, parsed);
    if (fault) throw fault;
    if (!parsed || parsed.subresource) throw notFoundPath();
    const fields = fieldFilter(query.fieldSelector);
    if (fields instanceof ApiError) throw fields;
    const selector = this.selector(query.labelSelector);
    // What the watcher selects (a watch on a named path is a watch with metadata.name=NAME).
    const checks = [
      ...(parsed.name !== undefined ? [(o: KObj) => o.metadata.name === parsed.name] : []),
      ...(selector.length > 0 ? [(o: KObj) => matches(selector, o.metadata.labels)] : []),
      ...(fields.match ? [fields.match] : []),
    ];
    const filter: WatchFilter = {
      kind: parsed.kind,
      namespace: parsed.namespace,
      match: checks.length === 0 ? undefined : (o) => checks.every((c) => c(o)),
    };
    const crd = parsed.kind.custom?.crd;
    // Tracked while open, so that a restart (closeWatches) can end it as the server would.
    let cancel = () => {};
    let ended = false;
    const end = () => {
      this.openWatches.delete(end);
      cancel();
      sink.close();
    };
    const tracked: WatchSink = {
      event: (type, object) => sink.event(type, object),
      close: () => {
        ended = true;
        this.openWatches.delete(end);
        sink.close();
      },
    };
    cancel = startWatch(this.store, filter, query, tracked, this.timers, {
      view: (o) => asServedVersion(parsed.kind, o),
      selector,
      // A custom resource's watches end with its CRD (after its resources' DELETED events).
      endsWith: crd
        ? (raw) =>
          raw.type === "DELETED" && raw.kind === Kinds.CustomResourceDefinition &&
          raw.object.metadata.name === crd
        : undefined,
    });
    if (!ended) this.openWatches.add(end);
    return () => {
      this.openWatches.delete(end);
      cancel();
    };
  }

  /** Ends every open watch (each sink is closed); returns how many there were. */
  closeWatches(): number {
    const all = [...this.openWatches];
    for (const end of all) end();
    return all.length;
  }

  /** Streams a pod's log lines (`pods/{name}/log`). */
  readLog(
    path: string,
    query: Readonly<Record<string, string | undefined>>,
    onLine: (l: string) => void,
    onEnd: () => void,
  ) {
    if (this.unavailable) throw this.unavailable;
    const parsed = parsePath(path, this.store.kinds);
    const fault = this.interceptor?.({ method: "GET", path, query }, parsed);
    if (fault) throw fault;
    if (!parsed || parsed.kind !== Kinds.Pod || parsed.subresource !== "log" || !parsed.name) {
      throw notFoundPath();
    }
    const pod = this.store.get(Kinds.Pod, parsed.namespace, parsed.name);
    if (!this.logs) throw ApiError.of(400, "BadRequest", "this simulator keeps no logs");
    const container = query.container ?? pod.spec.containers[0].name;
    if (!pod.spec.containers.some((c: { name: string }) => c.name === container)) {
      throw ApiError.of(400, "BadRequest", `container ${container} is not valid for pod ${parsed.name}`);
    }
    const tail = query.tailLines !== undefined ? Number(query.tailLines) : undefined;
    if (query.sinceTime !== undefined && query.sinceSeconds !== undefined) {
      throw ApiError.of(400, "BadRequest", "at most one of sinceTime or sinceSeconds may be specified");
    }
    let sinceTime = query.sinceTime ? Date.parse(query.sinceTime) : undefined;
    if (query.sinceSeconds !== undefined) {
      const seconds = Number(query.sinceSeconds);
      if (!Number.isInteger(seconds) || seconds < 1) {
        throw ApiError.of(
          400,
          "BadRequest",
          `sinceSeconds: Invalid value: ${query.sinceSeconds}: must be greater than 0`,
        );
      }
      sinceTime = this.store.now() - seconds * 1000;
    }
    let ended = false;
    const ends = () => {
      ended = true;
      this.openLogs.delete(end);
      onEnd();
    };
    const end = () => (cancel(), ends());
    const cancel = this.logs.read(
      parsed.namespace!,
      parsed.name,
      {
        container,
        follow: truthy(query.follow),
        tailLines: Number.isFinite(tail) ? tail : undefined,
        sinceTime: Number.isNaN(sinceTime ?? 0) ? undefined : sinceTime,
        timestamps: truthy(query.timestamps),
      },
      onLine,
      ends,
    );
    if (!ended) this.openLogs.add(end);
    return () => (this.openLogs.delete(end), cancel());
  }

  /** Ends every followed log stream; returns how many there were. */
  closeLogStreams(): number {
    const all = [...this.openLogs];
    for (const end of all) end();
    return all.length;
  }
}
