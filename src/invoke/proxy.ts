/**
 * The invoke proxy, `/function/{name}[.{namespace}][/path]`: resolves a ready
 * endpoint from the EndpointSlice cache (least in-flight, random among equals),
 * forwards method, path, query, headers and body as streams, never follows
 * redirects, and adds X-Call-Id, X-Start-Time and X-Duration-Seconds. Its own
 * errors carry `X-OpenFaaS-Internal: proxy`.
 *
 * A client that goes away before the pod answers aborts the request to the pod;
 * the invocation is recorded with status 499 (nginx's "client closed request",
 * what faas-netes' Go proxy sees as a cancelled context), not as a 502.
 */
import { Clock, Effect, Random } from "effect";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import { ProviderConfig } from "../config/config.ts";
import { Caches } from "../kube/caches.ts";
import { systemNamespaces } from "../domain/keys.ts";
import { functionLabel } from "../domain/keys.ts";
import { type Endpoint, type ForwardRequest, Upstream, UpstreamError } from "./upstream.ts";
import { Invocations } from "../metrics/invocations.ts";
import type { FromZero } from "../domain/fromzero.ts";
import { metrics } from "../metrics/registry.ts";

/** Hop-by-hop headers (RFC 9110 7.6.1): never forwarded in either direction. */
const hopByHop = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
/** Request headers not forwarded: hop-by-hop, and the ones fetch sets itself for the pod (host, length). */
const requestDrop = new Set([...hopByHop, "host", "content-length"]);
/** Response headers not passed back: hop-by-hop, and the timing headers the proxy sets itself. */
const responseDrop = new Set([...hopByHop, "x-call-id", "x-start-time", "x-duration-seconds"]);

/** The status an invocation is recorded with when the client went away before the pod answered. */
const clientClosedStatus = 499;

/** How long a request waits for a ready endpoint of a running function before answering 503. */
const readinessWaitMs = 5_000;
/** Poll interval while waiting for an endpoint. */
const pollMs = 100;

const proxyError = (status: number, message: string): Response =>
  new Response(`${message}\n`, {
    status,
    headers: {
      "Content-Type": "text/plain; charset=utf-8",
      "X-Content-Type-Options": "nosniff",
      "X-OpenFaaS-Internal": "proxy",
    },
  });

/** `env.openfaas-fn` -> ["env", "openfaas-fn"]; the namespace is after the last dot. */
const splitFunctionName = (segment: string, defaultNamespace: string): [string, string] => {
  const dot = segment.lastIndexOf(".");
  return dot < 0 ? [segment, defaultNamespace] : [segment.slice(0, dot), segment.slice(dot + 1)];
};

const serviceNameLabel = "kubernetes.io/service-name";

/** Ready addresses of all EndpointSlices, by `namespace/service-name`, in one pass. */
const readyEndpointsByService = (slices: readonly EndpointSlice[]): Map<string, Endpoint[]> => {
  const out = new Map<string, Endpoint[]>();
  for (const s of slices) {
    const service = s.metadata?.labels?.[serviceNameLabel];
    if (service === undefined) continue;
    const key = `${s.metadata?.namespace ?? ""}/${service}`;
    let eps = out.get(key);
    if (!eps) out.set(key, eps = []);
    const port = s.ports?.find((p) => p.name === "http")?.port ?? s.ports?.[0]?.port ?? 8080;
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const ip of e.addresses) eps.push({ ip, port, pod: e.targetRef?.name });
    }
  }
  return out;
};

export interface ProxyOptions {
  /** Scale from zero, once for all concurrent requests: `from-zero` waits fromZeroWaitMs, `not-at-zero` 5 s. */
  readonly scaleFromZero?: (name: string, namespace: string) => Effect.Effect<FromZero>;
  /** How long a request waits for a function to come up from zero. */
  readonly fromZeroWaitMs?: number;
}

/** The proxy's handler: an invocation request, the client's address, and when its response was delivered. */
export type InvokeProxy = (req: Request, remoteAddr?: string, completed?: Promise<void>) => Promise<Response>;

export const makeProxy = (options: ProxyOptions = {}) =>
  Effect.gen(function* () {
    const config = yield* ProviderConfig;
    const caches = yield* Caches;
    const upstream = yield* Upstream;
    const invocations = yield* Invocations;
    const context = yield* Effect.context<never>();
    const run = <A>(e: Effect.Effect<A>) => Effect.runPromiseWith(context)(e);
    const clock = yield* Clock.Clock;
    // Effect's Random, not Math.random: a simulation that seeds it replays the same picks.
    const random = yield* Random.Random;
    const fromZeroWaitMs = options.fromZeroWaitMs ?? 30_000;
    /** In-flight requests per pod IP, for least-loaded picking; only pods with requests in flight. */
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
      return best[Math.floor(random.nextDoubleUnsafe() * best.length)];
    };

    /** Ready endpoints per `namespace/name`, rebuilt in one pass when the EndpointSlice cache has changed. */
    let indexVersion = -1;
    let index = new Map<string, Endpoint[]>();
    const none: Endpoint[] = [];
    const endpointsOf = (name: string, ns: string): Endpoint[] => {
      const version = caches.endpointSlices.version();
      if (version !== indexVersion) {
        index = readyEndpointsByService(caches.endpointSlices.list());
        indexVersion = version;
      }
      return index.get(`${ns}/${name}`) ?? none;
    };

    /** Waits (bounded) until the function has a ready endpoint, or the client has gone. */
    const awaitEndpoint = (name: string, ns: string, client: AbortSignal): Effect.Effect<Endpoint[]> =>
      Effect.gen(function* () {
        const fromZero = options.scaleFromZero ? yield* options.scaleFromZero(name, ns) : "not-at-zero";
        metrics.coldStarts.inc({ function_name: `${name}.${ns}` });
        if (fromZero === "failed") return none;
        const deadline = clock.currentTimeMillisUnsafe() +
          (fromZero === "from-zero" ? fromZeroWaitMs : readinessWaitMs);
        while (clock.currentTimeMillisUnsafe() < deadline && !client.aborted) {
          yield* Effect.sleep(pollMs);
          const eps = endpointsOf(name, ns);
          if (eps.length > 0) return eps;
        }
        return none;
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

    const handler: InvokeProxy = async (req, remoteAddr, completed) => {
      const url = new URL(req.url);
      const match = /^\/function\/([^/]*)(\/.*)?$/.exec(url.pathname);
      if (!match) return proxyError(404, "404 page not found");
      let segment: string;
      try {
        segment = decodeURIComponent(match[1]);
      } catch {
        return proxyError(400, "Invalid function name in the request path (malformed percent-encoding).");
      }
      const [name, ns] = splitFunctionName(segment, config.functionNamespace);
      if (name === "") return proxyError(400, "Provide function name in the request path");
      const deployment = systemNamespaces.has(ns) ? undefined : caches.deployments.get(ns, name);
      if (!deployment || deployment.metadata?.labels?.[functionLabel] === undefined) {
        return proxyError(404, `No function ${name} in namespace ${ns}.`);
      }
      const client = req.signal;
      let endpoints = endpointsOf(name, ns);
      if (endpoints.length === 0) endpoints = await run(awaitEndpoint(name, ns, client));
      // Gone while waiting for an endpoint: nothing reached a pod, so nothing is recorded.
      if (client.aborted) return proxyError(clientClosedStatus, `Client closed the request to: ${name}.`);
      if (endpoints.length === 0) return proxyError(503, `No endpoints available for: ${name}.`);
      const endpoint = pick(endpoints);
      const path = `${match[2] ?? "/"}${url.search}`;

      if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        return tunnelWebSocket(req, `ws://${endpoint.ip}:${endpoint.port}${path}`, name, ns);
      }

      const startMs = clock.currentTimeMillisUnsafe();
      // One pass over the request's headers (each `get` would search them again).
      const headers: Record<string, string> = {};
      for (const [k, v] of req.headers) if (!requestDrop.has(k)) headers[k] = v;
      const callId = headers["x-call-id"] ?? crypto.randomUUID();
      const startTime = String(BigInt(Math.floor(startMs)) * 1_000_000n);
      headers["x-call-id"] = callId;
      headers["x-start-time"] = startTime;
      headers["x-forwarded-host"] ??= url.host;
      if (remoteAddr) headers["x-forwarded-for"] ??= remoteAddr;
      const hasBody = req.body !== null && req.method !== "GET" && req.method !== "HEAD";
      // Deno's req.signal also aborts once a response has been delivered (its legacy behaviour), so it is
      // followed only until the pod answers: a client leaving after that cancels the response body, which
      // reaches the pod by itself, and an invocation is never ended twice.
      const clientGone = new AbortController();
      const onClientAbort = () => clientGone.abort();
      client.addEventListener("abort", onClientAbort, { once: true });
      const forwarded: ForwardRequest = {
        url: `http://${endpoint.ip}:${endpoint.port}${path}`,
        method: req.method,
        headers,
        body: hasBody ? req.body : null,
        signal: clientGone.signal,
        delivered: completed,
      };

      const finish = invocations.start(name, ns);
      busy.set(endpoint.ip, (busy.get(endpoint.ip) ?? 0) + 1);
      const release = () => {
        const n = (busy.get(endpoint.ip) ?? 1) - 1;
        if (n > 0) busy.set(endpoint.ip, n);
        else busy.delete(endpoint.ip);
      };
      let res: Response;
      try {
        res = await upstream.fetch(endpoint, forwarded, config.readTimeoutMs);
      } catch (e) {
        release();
        const kind = e instanceof UpstreamError ? e.reason : "unreachable";
        finish(kind === "timeout" ? 504 : kind === "aborted" ? clientClosedStatus : 502);
        return kind === "timeout"
          ? proxyError(504, `Timeout waiting for: ${name}.`)
          : kind === "aborted"
          ? proxyError(clientClosedStatus, `Client closed the request to: ${name}.`)
          : proxyError(502, `Can't reach service for: ${name}.`);
      } finally {
        client.removeEventListener("abort", onClientAbort);
      }
      const out: [string, string][] = [];
      let hasType = false;
      for (const [k, v] of res.headers) {
        if (responseDrop.has(k)) continue;
        if (k === "content-type") hasType = true;
        out.push([k, v]);
      }
      if (!hasType) out.push(["content-type", headers["content-type"] ?? "text/plain"]);
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
    /** The in-flight count per pod IP, read-only (tests check that idle pods leave no entry). */
    return Object.assign(handler, { inFlightByIp: busy as ReadonlyMap<string, number> });
  });
