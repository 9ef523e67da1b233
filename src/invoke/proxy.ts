/**
 * The invoke proxy, `/function/{name}[.{namespace}][/path]`: resolves a ready
 * endpoint from the EndpointSlice cache (least in-flight, random among equals),
 * forwards method, path, query, headers and body as streams, never follows
 * redirects, and adds X-Call-Id, X-Start-Time and X-Duration-Seconds. Its own
 * errors carry `X-OpenFaaS-Internal: proxy`.
 */
import { Clock, Effect } from "effect";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import { AppConfig } from "../provider/appconfig.ts";
import { Caches } from "../provider/caches.ts";
import { systemNamespaces } from "../provider/namespaces.ts";
import { functionLabel } from "../provider/translate.ts";
import { type Endpoint, type ForwardRequest, Upstream, UpstreamError } from "./upstream.ts";
import { Invocations } from "./invocations.ts";
import { metrics } from "../metrics/registry.ts";

const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

export const proxyError = (status: number, message: string): Response =>
  new Response(`${message}\n`, {
    status,
    headers: {
      "Content-Type": "text/plain; charset=utf-8",
      "X-Content-Type-Options": "nosniff",
      "X-OpenFaaS-Internal": "proxy",
    },
  });

/** `env.openfaas-fn` -> ["env", "openfaas-fn"]; the namespace is after the last dot. */
export const splitFunctionName = (segment: string, defaultNamespace: string): [string, string] => {
  const dot = segment.lastIndexOf(".");
  return dot < 0 ? [segment, defaultNamespace] : [segment.slice(0, dot), segment.slice(dot + 1)];
};

/** Ready addresses of a function's EndpointSlices. */
export const readyEndpoints = (slices: readonly EndpointSlice[], name: string): Endpoint[] => {
  const out: Endpoint[] = [];
  for (const s of slices) {
    if (s.metadata?.labels?.["kubernetes.io/service-name"] !== name) continue;
    const port = s.ports?.find((p) => p.name === "http")?.port ?? s.ports?.[0]?.port ?? 8080;
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const ip of e.addresses) out.push({ ip, port, pod: e.targetRef?.name });
    }
  }
  return out;
};

export interface ProxyOptions {
  /** How long to wait for a ready endpoint before answering 503 (the readiness race). */
  readonly readinessWaitMs?: number;
  /** Poll interval while waiting. */
  readonly pollMs?: number;
  /**
   * Scale from zero: called when a request finds no ready endpoint; returns true
   * when the function was at zero replicas (it then has been asked to scale up,
   * once for all concurrent requests) and the request waits `fromZeroWaitMs`.
   */
  readonly scaleFromZero?: (name: string, namespace: string) => Effect.Effect<boolean>;
  /** How long a request waits for a function to come up from zero. */
  readonly fromZeroWaitMs?: number;
}

export const makeProxy = (options: ProxyOptions = {}) =>
  Effect.gen(function* () {
    const config = yield* AppConfig;
    const caches = yield* Caches;
    const upstream = yield* Upstream;
    const invocations = yield* Invocations;
    const context = yield* Effect.context<never>();
    const run = <A>(e: Effect.Effect<A>) => Effect.runPromiseWith(context)(e);
    const clock = yield* Clock.Clock;
    const waitMs = options.readinessWaitMs ?? 5_000;
    const pollMs = options.pollMs ?? 100;
    /** In-flight requests per pod IP, for least-loaded picking. */
    const busy = new Map<string, number>();

    const pick = (candidates: Endpoint[]): Endpoint => {
      let best: Endpoint[] = [];
      let least = Infinity;
      for (const c of candidates) {
        const n = busy.get(c.ip) ?? 0;
        if (n < least) {
          least = n;
          best = [c];
        } else if (n === least) best.push(c);
      }
      return best[Math.floor(Math.random() * best.length)];
    };

    /** Ready endpoints per function, rebuilt only when the EndpointSlice cache has changed. */
    let indexVersion = -1;
    const index = new Map<string, Endpoint[]>();
    const endpointsOf = (name: string, ns: string): Endpoint[] => {
      const version = caches.endpointSlices.version();
      if (version !== indexVersion) {
        index.clear();
        indexVersion = version;
      }
      const key = `${ns}/${name}`;
      let eps = index.get(key);
      if (!eps) {
        const slices = caches.endpointSlices.list(ns).filter((s) =>
          s.metadata?.labels?.["kubernetes.io/service-name"] === name
        );
        index.set(key, eps = readyEndpoints(slices, name));
      }
      return eps;
    };

    /** Waits (bounded) until the function has a ready endpoint. */
    const awaitEndpoint = (name: string, ns: string): Effect.Effect<Endpoint[]> =>
      Effect.gen(function* () {
        const fromZero = options.scaleFromZero ? yield* options.scaleFromZero(name, ns) : false;
        const deadline = clock.currentTimeMillisUnsafe() +
          (fromZero ? options.fromZeroWaitMs ?? 30_000 : waitMs);
        metrics.coldStarts.inc({ function_name: `${name}.${ns}` });
        while (clock.currentTimeMillisUnsafe() < deadline) {
          yield* Effect.sleep(pollMs);
          const eps = endpointsOf(name, ns);
          if (eps.length > 0) return eps;
        }
        return [];
      });

    /** WebSockets are tunnelled: messages relayed both ways until either side closes. */
    const tunnelWebSocket = (req: Request, target: string, name: string, ns: string): Response => {
      if (!upstream.webSocket) {
        return proxyError(502, `Can't reach service for: ${name} (no WebSocket path to the pod).`);
      }
      const protocols = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim())
        .filter(
          (p) => p !== "",
        );
      let upgraded: { socket: WebSocket; response: Response };
      try {
        upgraded = Deno.upgradeWebSocket(req, protocols.length > 0 ? { protocol: protocols[0] } : {});
      } catch {
        return proxyError(400, "invalid WebSocket upgrade request");
      }
      const { socket: client, response } = upgraded;
      const pod = upstream.webSocket(target, protocols);
      const finish = invocations.start(name, ns);
      const pending: (string | ArrayBuffer | Blob)[] = [];
      let closed = false;
      const closeBoth = (code?: number, reason?: string) => {
        if (closed) return;
        closed = true;
        finish(101);
        const safe = code !== undefined && (code === 1000 || (code >= 3000 && code <= 4999)) ? code : 1000;
        for (const s of [client, pod]) {
          if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) {
            try {
              s.close(safe, reason);
            } catch { /* already closing */ }
          }
        }
      };
      pod.binaryType = "arraybuffer";
      client.binaryType = "arraybuffer";
      client.onmessage = (e) => (pod.readyState === WebSocket.OPEN ? pod.send(e.data) : pending.push(e.data));
      pod.onopen = () => {
        for (const m of pending.splice(0)) pod.send(m);
      };
      pod.onmessage = (e) => client.readyState === WebSocket.OPEN && client.send(e.data);
      client.onclose = (e) => closeBoth(e.code, e.reason);
      pod.onclose = (e) => closeBoth(e.code, e.reason);
      pod.onerror = () => closeBoth(1011, "upstream error");
      client.onerror = () => closeBoth(1011, "client error");
      return response;
    };

    return async (req: Request, remoteAddr?: string, completed?: Promise<void>): Promise<Response> => {
      const url = new URL(req.url);
      const match = /^\/function\/([^/]*)(\/.*)?$/.exec(url.pathname);
      if (!match) return proxyError(404, "404 page not found");
      const segment = decodeURIComponent(match[1]);
      const [name, ns] = splitFunctionName(segment, config.functionNamespace);
      if (name === "") return proxyError(400, "Provide function name in the request path");
      const deployment = systemNamespaces.has(ns) ? undefined : caches.deployments.get(ns, name);
      if (!deployment || deployment.metadata?.labels?.[functionLabel] === undefined) {
        return proxyError(404, `No function ${name} in namespace ${ns}.`);
      }
      let endpoints = endpointsOf(name, ns);
      if (endpoints.length === 0) endpoints = await run(awaitEndpoint(name, ns));
      if (endpoints.length === 0) return proxyError(503, `No endpoints available for: ${name}.`);
      const endpoint = pick(endpoints);

      const startMs = clock.currentTimeMillisUnsafe();
      const callId = req.headers.get("x-call-id") ?? crypto.randomUUID();
      const startTime = String(BigInt(Math.floor(startMs)) * 1_000_000n);
      const headers: Record<string, string> = {};
      for (const [k, v] of req.headers) if (!hopByHop.has(k)) headers[k] = v;
      headers["x-call-id"] = callId;
      headers["x-start-time"] = startTime;
      headers["x-forwarded-host"] ??= url.host;
      if (remoteAddr) headers["x-forwarded-for"] ??= remoteAddr;
      const hasBody = req.body !== null && req.method !== "GET" && req.method !== "HEAD";
      const forwarded: ForwardRequest = {
        url: `http://${endpoint.ip}:${endpoint.port}${match[2] ?? "/"}${url.search}`,
        method: req.method,
        headers,
        body: hasBody ? req.body : null,
      };

      if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        return tunnelWebSocket(
          req,
          `ws://${endpoint.ip}:${endpoint.port}${match[2] ?? "/"}${url.search}`,
          name,
          ns,
        );
      }

      const finish = invocations.start(name, ns);
      busy.set(endpoint.ip, (busy.get(endpoint.ip) ?? 0) + 1);
      const release = () => busy.set(endpoint.ip, Math.max(0, (busy.get(endpoint.ip) ?? 1) - 1));
      let res: Response;
      try {
        res = await upstream.fetch(endpoint, forwarded, config.readTimeoutMs);
      } catch (e) {
        release();
        const timeout = e instanceof UpstreamError && e.kind === "timeout";
        finish(timeout ? 504 : 502);
        return timeout
          ? proxyError(504, `Timeout waiting for: ${name}.`)
          : proxyError(502, `Can't reach service for: ${name}.`);
      }
      const out: [string, string][] = [];
      let hasType = false;
      for (const [k, v] of res.headers) {
        if (hopByHop.has(k) && k !== "content-length") continue;
        if (k === "x-call-id" || k === "x-start-time" || k === "x-duration-seconds") continue;
        if (k === "content-type") hasType = true;
        out.push([k, v]);
      }
      if (!hasType) out.push(["content-type", req.headers.get("content-type") ?? "text/plain"]);
      out.push(["x-call-id", callId], ["x-start-time", startTime]);
      out.push(["x-duration-seconds", ((clock.currentTimeMillisUnsafe() - startMs) / 1000).toFixed(6)]);
      const status = res.status;
      let done = false;
      const complete = () => {
        if (done) return;
        done = true;
        release();
        finish(status);
      };
      // The body is handed over untouched (Deno streams it natively); the invocation ends
      // when the server has delivered the response or the client went away.
      if (!res.body || !completed) complete();
      else completed.then(complete, complete);
      return new Response(res.body, { status, statusText: res.statusText, headers: out });
    };
  });
