/**
 * HttpTransport: the KubeApi seam over HTTP(S) to a real API server, built from a
 * {@link ClusterConnection} (kubeconfig or in-cluster service account).
 *
 * - `request`: one JSON request; non-2xx answers become `errorFromStatus(...)`
 *   (with `Retry-After`), network failures and timeouts a KubeError with status 0
 *   (reason `ConnectionError` / `Timeout`); one retry after a 401 with fresh
 *   credentials.
 * - `watch`: `?watch=true`, the chunked body read line by line; an `ERROR` event
 *   fails the stream with its Status as a KubeError (410: informers relist);
 *   the server closing the stream ends it; interrupting the stream aborts the fetch.
 * - `lines`: a text body (e.g. `pods/x/log?follow=true`) streamed line by line.
 */
import { Effect, Layer, Queue, type Scope, Stream } from "effect";
import {
  errorFromStatus,
  KubeApi,
  type KubeApiShape,
  KubeError,
  type KubeRequest,
  type WatchEvent,
} from "./api.ts";
import { KubeconfigError } from "./kubeconfig/document.ts";
import type { Env } from "./kubeconfig/files.ts";
import { type ClusterConnection, loadKubeconfig } from "./kubeconfig/resolve.ts";
import { loadInCluster, withMaster } from "./incluster.ts";
import { isInCluster } from "../config/settings.ts";
// node:https (and Node's TLS layer) loads only for a connection that needs it (clientFor).
import type { makeNodeFetch } from "./nodefetch.ts";

export interface HttpTransportOptions {
  /** Per-request timeout in ms (for watch and lines: until the response headers arrive). Default 30 000. */
  readonly timeoutMs?: number;
  /** `User-Agent` header. Default `faas-deno`. */
  readonly userAgent?: string;
}

type Query = Readonly<Record<string, string | undefined>>;

const DEFAULT_TIMEOUT_MS = 30_000;

/** Builds `server + path + ?query`, skipping undefined query values. */
export const buildUrl = (server: string, path: string, query?: Query): string => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.append(k, v);
  const qs = params.toString();
  const base = server.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
  return qs === "" ? base : `${base}${base.includes("?") ? "&" : "?"}${qs}`;
};

/** `Retry-After` as seconds: delta-seconds or an HTTP date; undefined when absent or invalid. */
export const parseRetryAfter = (value: string | null, now = Date.now()): number | undefined => {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^[0-9]+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - now) / 1000));
};

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";

const causeText = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e);
  let text = e.message;
  // Deno nests the OS-level reason in `cause`.
  let c: unknown = (e as { cause?: unknown }).cause;
  for (let i = 0; i < 3 && c instanceof Error; i++) {
    if (!text.includes(c.message)) text += `: ${c.message}`;
    c = (c as { cause?: unknown }).cause;
  }
  return text;
};

/** Makes the KubeApi implementation; HTTP clients are closed when the scope closes. */
export const makeHttpKubeApi = (
  conn: ClusterConnection,
  options: HttpTransportOptions = {},
): Effect.Effect<KubeApiShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const userAgent = options.userAgent ?? "faas-deno";
    const serverUrl = new URL(conn.server);
    const isHttps = serverUrl.protocol === "https:";

    // Deno's fetch verifies the certificate against the URL's host and always verifies it: the
    // kubeconfig's tls-server-name and insecure-skip-tls-verify go through node:https instead.
    const viaNode = isHttps &&
      (conn.insecureSkipTlsVerify ||
        (conn.tlsServerName !== undefined && conn.tlsServerName !== serverUrl.hostname));

    const clients = new Map<string, { client?: Deno.HttpClient; node?: ReturnType<typeof makeNodeFetch> }>();
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const c of clients.values()) {
          c.client?.close();
          c.node?.close();
        }
        clients.clear();
      })
    );

    const tlsError = (message: string) =>
      KubeError.transport("Tls", `TLS configuration for ${conn.server}: ${message}`);

    /** The HTTP client for the current client certificate (it may rotate through a credential plugin). */
    const clientFor = async () => {
      let cert = conn.clientCert;
      let key = conn.clientKey;
      if (conn.clientCertificate !== undefined) {
        const dyn = await conn.clientCertificate();
        if (dyn !== undefined) ({ cert, key } = dyn);
      }
      const id = cert !== undefined && key !== undefined ? `${cert}\u0000${key}` : "";
      let entry = clients.get(id);
      if (entry === undefined) {
        const mtls = cert !== undefined && key !== undefined ? { cert, key } : {};
        try {
          entry = viaNode
            ? {
              node: (await import("./nodefetch.ts")).makeNodeFetch({
                ca: conn.caCert,
                ...mtls,
                servername: conn.tlsServerName,
                rejectUnauthorized: !conn.insecureSkipTlsVerify,
              }),
            }
            : {
              client: Deno.createHttpClient({
                ...(conn.caCert !== undefined ? { caCerts: [conn.caCert] } : {}),
                ...mtls,
              } as Deno.CreateHttpClientOptions),
            };
        } catch (e) {
          throw tlsError(causeText(e));
        }
        clients.set(id, entry);
        // A rotated certificate leaves its old client behind: keep the previous one (requests may still run
        // on it) and close older ones.
        for (const [old, c] of clients) {
          if (clients.size <= 2) break;
          c.client?.close();
          c.node?.close();
          clients.delete(old);
        }
      }
      return entry;
    };

    const authHeaders = async (): Promise<Record<string, string>> => {
      try {
        return await conn.auth();
      } catch (e) {
        throw KubeError.transport(
          "Credentials",
          `cannot get credentials for ${conn.server}: ${
            e instanceof KubeconfigError ? e.message : causeText(e)
          }`,
        );
      }
    };

    const networkError = (e: unknown, method: string, path: string, timedOut: boolean): KubeError => {
      if (e instanceof KubeError) return e;
      if (timedOut) {
        return KubeError.transport(
          "Timeout",
          `${method} ${path}: no answer from the API server at ${conn.server} within ${timeoutMs / 1000}s`,
        );
      }
      let text = causeText(e);
      if (conn.tlsServerName !== undefined && /certificate|tls|ssl|handshake|altname/i.test(text)) {
        text += ` (the certificate is checked against tls-server-name ${conn.tlsServerName})`;
      }
      if (viaNode && /sys access to "ca"/.test(text)) {
        text =
          "tls-server-name without certificate-authority needs the system CA store: give the cluster a " +
          "certificate-authority, or start Deno with --allow-sys";
      }
      return KubeError.transport(
        "Connection",
        `${method} ${path}: cannot reach the API server at ${conn.server}: ${text}`,
      );
    };

    /** A non-2xx response as a KubeError (the body is consumed). */
    const statusError = async (res: Response): Promise<KubeError> => {
      const text = await res.text().catch(() => "");
      let body: unknown;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!isObj(body) || (body.kind !== undefined && body.kind !== "Status")) {
        const snippet = text.trim().slice(0, 300);
        body = snippet === ""
          ? undefined
          : { message: `the server responded with status ${res.status}: ${snippet}` };
      }
      return errorFromStatus(res.status, body, parseRetryAfter(res.headers.get("retry-after")));
    };

    interface Sent {
      readonly res: Response;
      /** Clears the timeout (for streams, once the headers are in). */
      readonly clearTimer: () => void;
      /** Clears the timeout and detaches from the caller's signal (for requests, once the body is read). */
      readonly done: () => void;
      readonly timedOut: () => boolean;
    }

    /**
     * Sends one request; resolves with a 2xx response, rejects with a KubeError. `signal` aborts
     * it (interruption); the timeout aborts it after `timeoutMs` unless cleared. One retry after a
     * 401, with credentials re-read.
     */
    const send = async (
      method: string,
      path: string,
      query: Query | undefined,
      init: { body?: string; contentType?: string; accept: string },
      signal: AbortSignal,
    ): Promise<Sent> => {
      for (let attempt = 0;; attempt++) {
        const ctrl = new AbortController();
        const onAbort = () => ctrl.abort(signal.reason);
        if (signal.aborted) ctrl.abort(signal.reason);
        else signal.addEventListener("abort", onAbort, { once: true });
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          ctrl.abort();
        }, timeoutMs);
        const clear = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
        };
        let res: Response;
        try {
          const headers = new Headers({ Accept: init.accept, "User-Agent": userAgent });
          for (const [k, v] of Object.entries(await authHeaders())) headers.set(k, v);
          if (init.body !== undefined) headers.set("Content-Type", init.contentType ?? "application/json");
          const { client, node } = await clientFor();
          const url = buildUrl(conn.server, path, query);
          res = node !== undefined
            ? await node.fetch(url, { method, headers, body: init.body, signal: ctrl.signal })
            : await fetch(url, { method, headers, body: init.body, signal: ctrl.signal, client });
        } catch (e) {
          clear();
          throw networkError(e, method, path, timedOut);
        }
        if (res.status === 401 && attempt === 0 && conn.invalidate !== undefined) {
          clear();
          await res.body?.cancel().catch(() => {});
          conn.invalidate();
          continue;
        }
        if (res.status < 200 || res.status > 299) {
          try {
            if (res.status === 401) conn.invalidate?.();
            throw await statusError(res);
          } finally {
            clear();
          }
        }
        // Outer interruption must still abort the body while it is read.
        return { res, clearTimer: () => clearTimeout(timer), done: clear, timedOut: () => timedOut };
      }
    };

    const request = <T>(req: KubeRequest): Effect.Effect<T, KubeError> =>
      Effect.tryPromise({
        try: async (signal) => {
          const body = req.body === undefined ? undefined : JSON.stringify(req.body);
          const contentType = req.contentType ??
            (req.method === "PATCH" ? "application/merge-patch+json" : "application/json");
          const sent = await send(req.method, req.path, req.query, {
            body,
            contentType,
            accept: "application/json",
          }, signal);
          let text: string;
          try {
            text = await sent.res.text();
          } catch (e) {
            throw networkError(e, req.method, req.path, sent.timedOut());
          } finally {
            sent.done();
          }
          if (text === "") return undefined as T;
          const ct = sent.res.headers.get("content-type") ?? "";
          if (!ct.includes("json")) return text as T;
          try {
            return JSON.parse(text) as T;
          } catch {
            throw KubeError.decode(
              `${req.method} ${req.path}: the API server sent invalid JSON: ${text.slice(0, 200)}`,
            );
          }
        },
        catch: (e) => networkError(e, req.method, req.path, false),
      });

    /**
     * Streams the body of a GET line by line into `onLine` (a line may span chunks; `\r\n` is
     * accepted); ends when the server closes the body. Aborts the fetch when the scope closes.
     */
    const streamLines = (
      path: string,
      query: Query | undefined,
      accept: string,
      deadlineMs: number | undefined,
      onLine: (line: string) => Effect.Effect<unknown, KubeError>,
    ): Effect.Effect<void, KubeError, Scope.Scope> =>
      Effect.gen(function* () {
        const ctrl = yield* Effect.acquireRelease(
          Effect.sync(() => new AbortController()),
          (c) => Effect.sync(() => c.abort()),
        );
        const sent = yield* Effect.tryPromise({
          try: () => send("GET", path, query, { accept }, ctrl.signal),
          catch: (e) => networkError(e, "GET", path, false),
        });
        sent.clearTimer();
        let deadlineHit = false;
        if (deadlineMs !== undefined) {
          const t = setTimeout(() => {
            deadlineHit = true;
            ctrl.abort();
          }, deadlineMs);
          yield* Effect.addFinalizer(() => Effect.sync(() => clearTimeout(t)));
        }
        const body = sent.res.body;
        if (body === null) return;
        const reader = body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        while (true) {
          const chunk = yield* Effect.tryPromise({
            try: () => reader.read(),
            catch: (e) =>
              deadlineHit
                ? KubeError.transport(
                  "Timeout",
                  `GET ${path}: the stream outlived its ${deadlineMs! / 1000}s deadline`,
                )
                : networkError(e, "GET", path, false),
          });
          if (chunk.done) break;
          buf += decoder.decode(chunk.value, { stream: true });
          let i: number;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            yield* onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
          }
        }
        buf += decoder.decode();
        if (buf !== "") yield* onLine(buf.endsWith("\r") ? buf.slice(0, -1) : buf);
      });

    const decodeEvent = <T>(path: string, line: string): Effect.Effect<WatchEvent<T>, KubeError> => {
      let ev: unknown;
      try {
        ev = JSON.parse(line);
      } catch {
        return Effect.fail(
          KubeError.decode(
            `watch ${path}: the API server sent a line that is not JSON: ${line.slice(0, 200)}`,
          ),
        );
      }
      if (!isObj(ev) || typeof ev.type !== "string") {
        return Effect.fail(
          KubeError.decode(
            `watch ${path}: the API server sent an event without a type: ${line.slice(0, 200)}`,
          ),
        );
      }
      // An ERROR event carries a Status: the watch fails with it (410 Expired makes informers relist).
      if (ev.type === "ERROR") {
        const s = (isObj(ev.object) ? ev.object : {}) as { code?: number; reason?: string; message?: string };
        const code = typeof s.code === "number" ? s.code : 500;
        return Effect.fail(
          errorFromStatus(code, {
            reason: s.reason || (code === 410 ? "Expired" : undefined),
            message: s.message ?? (code === 410 ? "resource version expired" : "watch failed"),
          }),
        );
      }
      return Effect.succeed(ev as unknown as WatchEvent<T>);
    };

    const watch = <T>(path: string, query: Query = {}): Stream.Stream<WatchEvent<T>, KubeError> =>
      Stream.callback<WatchEvent<T>, KubeError>(
        (queue) => {
          // Like client-go's reflector: the server ends each watch after 5-10 minutes, and a watch that
          // outlives that by a minute (a dead connection) is aborted.
          const timeoutSeconds = query.timeoutSeconds ?? String(300 + Math.floor(Math.random() * 300));
          const seconds = Number(timeoutSeconds);
          const deadline = Number.isFinite(seconds) && seconds > 0 ? (seconds + 60) * 1000 : undefined;
          return streamLines(
            path,
            { ...query, watch: "true", timeoutSeconds },
            "application/json",
            deadline,
            (line) =>
              line.trim() === ""
                ? Effect.void
                : decodeEvent<T>(path, line).pipe(Effect.flatMap((ev) => Queue.offer(queue, ev))),
          ).pipe(Effect.andThen(Queue.end(queue)));
        },
        { bufferSize: 256 },
      );

    const lines = (path: string, query: Query = {}): Stream.Stream<string, KubeError> =>
      Stream.callback<string, KubeError>(
        (queue) =>
          streamLines(path, query, "*/*", undefined, (line) => Queue.offer(queue, line)).pipe(
            Effect.andThen(Queue.end(queue)),
          ),
        { bufferSize: 256 },
      );

    return KubeApi.of({ request, watch, lines });
  });

/** The KubeApi layer for a real API server. */
export const HttpTransport = (
  conn: ClusterConnection,
  options: HttpTransportOptions = {},
): Layer.Layer<KubeApi> => Layer.effect(KubeApi, makeHttpKubeApi(conn, options));

export interface ConnectionConfig {
  readonly kubeconfig?: string;
  readonly master?: string;
  readonly cluster: "sim" | "kube";
}

export interface ConnectionOptions {
  /** Service-account directory for in-cluster configuration (tests). */
  readonly serviceAccountDir?: string;
  /** A context other than current-context. */
  readonly context?: string;
}

/**
 * The connection for `--cluster=kube`: in-cluster when `KUBERNETES_SERVICE_HOST` is set and no
 * `--kubeconfig` is given, else the kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`);
 * `--master` replaces the server URL of either (with no kubeconfig at all, `--master` alone is
 * used without credentials, as client-go does). Rejects with {@link KubeconfigError}.
 */
export async function makeConnectionFromConfig(
  config: ConnectionConfig,
  env: Env = Deno.env.toObject(),
  options: ConnectionOptions = {},
): Promise<ClusterConnection> {
  if (config.kubeconfig === undefined && isInCluster(env)) {
    return withMaster(await loadInCluster({ env, dir: options.serviceAccountDir }), config.master);
  }
  try {
    const conn = await loadKubeconfig({ path: config.kubeconfig, env, context: options.context });
    return withMaster(conn, config.master);
  } catch (e) {
    const noFile = e instanceof KubeconfigError && e.notFound === true && config.kubeconfig === undefined;
    if (noFile && config.master !== undefined && config.master.trim() !== "") {
      return withMaster({
        server: "http://localhost",
        insecureSkipTlsVerify: false,
        auth: () => Promise.resolve({}),
        source: "no kubeconfig",
      }, config.master);
    }
    throw e;
  }
}
