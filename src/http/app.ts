/**
 * The faas-provider HTTP API on Hono: routes, basic auth, body limits, JSON
 * decoding and the error -> status mapping. The only module that knows HTTP.
 */
import { Cause, Effect, Exit, type Schema, Stream } from "effect";
import { type Context as HonoContext, Hono } from "hono";
import { ProviderConfig } from "../config/config.ts";
import { Caches } from "../kube/caches.ts";
import { Functions } from "../provider/functions.ts";
import { Namespaces } from "../provider/namespaces.ts";
import { Secrets } from "../provider/secrets.ts";
import { Logs } from "../provider/logs.ts";
import { Usage } from "../kube/usage.ts";
import { makeProxy, type ProxyOptions } from "../invoke/proxy.ts";
import type { Upstream } from "../invoke/upstream.ts";
import type { Invocations } from "../metrics/invocations.ts";
import { metrics, registry } from "../metrics/registry.ts";
import { Scaler } from "../scaling/scaler.ts";
import {
  InvalidRequest,
  PayloadTooLarge,
  type ProviderError,
  RequestTimeout,
  Unprocessable,
} from "../domain/errors.ts";
import {
  decodeBody,
  DeleteFunctionRequest,
  FunctionDeployment,
  FunctionNamespace,
  type FunctionStatus,
  type ProviderInfo,
  ScaleServiceRequest,
  SecretRequest,
} from "../domain/types.ts";
import { providerName, release, sha } from "../domain/version.ts";
import { concatBytes } from "../lib/bytes.ts";
import { checkBasicAuth, type Credentials, unauthorized } from "./auth.ts";
import { statusOf, textError } from "./errors.ts";
import { withReadTimeout } from "./readtimeout.ts";
import { type GoQuery, goQuery } from "./query.ts";
import { parseGoBool, parseGoInt, parseGoRfc3339 } from "../domain/goparse.ts";

export type Services =
  | ProviderConfig
  | Functions
  | Secrets
  | Namespaces
  | Caches
  | Logs
  | Upstream
  | Invocations
  | Scaler
  | Usage;

type Handler = (c: HonoContext) => Promise<Response>;
type Method = "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH" | "OPTIONS";

interface Route {
  readonly path: string;
  readonly auth: boolean;
  readonly methods: Partial<Record<Method, Handler>>;
}

/** Function-name path segments, as faas-provider's router: `[-a-zA-Z_0-9.]+`. */
const nameParam = ":name{[-a-zA-Z_0-9.]+}";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** JSON text per status object: unchanged functions keep their object, so their text is reused. */
const encoded = new WeakMap<object, string>();
const jsonList = (items: readonly object[]) => {
  let body = encoded.get(items);
  if (body === undefined) {
    const parts = items.map((item) => {
      let text = encoded.get(item);
      if (text === undefined) encoded.set(item, text = JSON.stringify(item));
      return text;
    });
    encoded.set(items, body = `[${parts.join(",")}]`);
  }
  return new Response(body, { status: 200, headers: { "Content-Type": "application/json" } });
};

const accepted = () => new Response(null, { status: 202 });

/** Reads a request body up to `limit` bytes. */
export const readBody = async (req: Request, limit: number): Promise<Uint8Array> => {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
};

const tooLarge = (limit: number) =>
  new PayloadTooLarge({ message: `request body is larger than the limit of ${limit} bytes` });

const invokeMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]);

/** The request's query as Go parses it, once per request. */
const queries = new WeakMap<Request, GoQuery>();
const queryOf = (c: HonoContext): GoQuery => {
  let q = queries.get(c.req.raw);
  if (!q) queries.set(c.req.raw, q = goQuery(c.req.url));
  return q;
};

/** A quoted query value for a message, cut when long. */
const shown = (v: string) => JSON.stringify(v.length <= 100 ? v : `${v.slice(0, 100)}...`);

/** The path label of provider_http_* metrics: the URL path, with function names stripped. */
const metricPath = (path: string) =>
  path.startsWith("/system/function/")
    ? "/system/function"
    : path.startsWith("/system/scale-function/")
    ? "/system/scale-function"
    : path;

export const makeApp = (credentials: Credentials | undefined, proxyOptions: ProxyOptions = {}) =>
  Effect.gen(function* () {
    const config = yield* ProviderConfig;
    const functions = yield* Functions;
    const secrets = yield* Secrets;
    const namespaces = yield* Namespaces;
    const caches = yield* Caches;
    const logs = yield* Logs;
    const scaler = yield* Scaler;
    const usage = yield* Usage;
    const proxy = yield* makeProxy({
      scaleFromZero: scaler.scaleFromZero,
      fromZeroWaitMs: config.scaleFromZeroTimeoutMs,
      ...proxyOptions,
    });
    // Replicas per function, read from the cache when /metrics is scraped.
    metrics.serviceCount.collect = () =>
      caches.deployments.list().map((d) => [
        { function_name: `${d.metadata?.name}.${d.metadata?.namespace}` },
        d.spec?.replicas ?? 0,
      ]);
    const context = yield* Effect.context<Services>();
    const runExit = Effect.runPromiseExitWith(context);

    /** Runs a use case and renders its result or its error. */
    const respond = async <A>(
      effect: Effect.Effect<A, ProviderError, Services>,
      render: (a: A) => Response,
    ): Promise<Response> => {
      const exit = await runExit(effect);
      if (Exit.isSuccess(exit)) return render(exit.value);
      const failure = exit.cause.reasons.find(Cause.isFailReason);
      if (failure) return textError(statusOf(failure.error), failure.error.message);
      await Effect.runPromise(Effect.logError("request failed", Cause.pretty(exit.cause)));
      return textError(500, "internal error");
    };

    /** Decodes a JSON body of the given schema, as Go's encoding/json would (see decodeBody). */
    const body = <S extends Schema.Top & { readonly DecodingServices: never }>(
      c: HonoContext,
      schema: S,
    ): Effect.Effect<S["Type"], ProviderError> =>
      Effect.gen(function* () {
        const bytes = yield* Effect.tryPromise({
          try: () => readBody(c.req.raw, config.maxBodyBytes),
          catch: (e) =>
            e instanceof PayloadTooLarge || e instanceof RequestTimeout
              ? e
              : new InvalidRequest({ message: `cannot read request body: ${String(e)}` }),
        });
        // A byte order mark stays in the text: Go refuses it as JSON, so do we.
        return yield* decodeBody(schema, new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes));
      });

    /** A query parameter as faas-netes reads it (`url.Values.Get`: the first value); "" is absent. */
    const query = (c: HonoContext, key: string) => queryOf(c).first(key) || undefined;

    /** A deploy or update request; the namespace from the body, else the query (else the default). */
    const deployment = (c: HonoContext) =>
      Effect.map(
        body(c, FunctionDeployment),
        (req) => ({ ...req, namespace: req.namespace || query(c, "namespace") }),
      );

    /** `usage=1` or `usage=true` (faas-cli describe) asks for CPU and memory: strconv.ParseBool. */
    const wantsUsage = (c: HonoContext) => parseGoBool(queryOf(c).first("usage")) === true;
    const withUsage = (s: FunctionStatus) =>
      Effect.map(
        usage.ofFunction(s.name, s.namespace),
        (u): FunctionStatus =>
          u === undefined || u.pods === 0
            ? s
            : { ...s, usage: { cpu: u.cpu, totalMemoryBytes: u.totalMemoryBytes } },
      );
    const functionStatus = (c: HonoContext) => {
      const status = functions.status(c.req.param("name")!, query(c, "namespace"));
      return wantsUsage(c) ? Effect.flatMap(status, withUsage) : status;
    };

    const routes: Route[] = [
      {
        path: "/system/functions",
        auth: true,
        methods: {
          GET: (c) => respond(functions.list(query(c, "namespace")), jsonList),
          POST: (c) => respond(Effect.flatMap(deployment(c), functions.deploy), accepted),
          PUT: (c) => respond(Effect.flatMap(deployment(c), functions.update), accepted),
          DELETE: (c) =>
            respond(
              Effect.flatMap(body(c, DeleteFunctionRequest), (req) =>
                req.functionName === ""
                  ? Effect.fail(new InvalidRequest({ message: "functionName: is required" }))
                  : functions.remove(req.functionName, req.namespace || query(c, "namespace"))),
              accepted,
            ),
        },
      },
      {
        path: `/system/function/${nameParam}`,
        auth: true,
        methods: {
          GET: (c) => respond(functionStatus(c), (s) => json(s)),
        },
      },
      {
        path: `/system/scale-function/${nameParam}`,
        auth: true,
        methods: {
          POST: (c) =>
            respond(
              Effect.flatMap(
                body(c, ScaleServiceRequest),
                (req) =>
                  functions.scale(c.req.param("name")!, req.replicas, req.namespace || query(c, "namespace")),
              ),
              accepted,
            ),
        },
      },
      {
        path: "/system/info",
        auth: true,
        methods: {
          GET: () => {
            const info: ProviderInfo = {
              provider: providerName,
              version: { sha, release },
              orchestration: "kubernetes",
            };
            return Promise.resolve(json(info));
          },
        },
      },
      {
        path: "/system/secrets",
        auth: true,
        methods: {
          GET: (c) => respond(secrets.list(query(c, "namespace")), (l) => json(l)),
          POST: (c) =>
            respond(
              Effect.flatMap(
                body(c, SecretRequest),
                (s) => secrets.create({ ...s, namespace: s.namespace || query(c, "namespace") }),
              ),
              accepted,
            ),
          PUT: (c) =>
            respond(
              Effect.flatMap(
                body(c, SecretRequest),
                (s) => secrets.update({ ...s, namespace: s.namespace || query(c, "namespace") }),
              ),
              accepted,
            ),
          DELETE: (c) =>
            respond(
              Effect.flatMap(
                body(c, SecretRequest),
                (s) => secrets.remove(s.name, s.namespace || query(c, "namespace")),
              ),
              accepted,
            ),
        },
      },
      {
        path: "/system/namespaces",
        auth: true,
        methods: {
          GET: () => respond(namespaces.list(), (l) => json(l)),
        },
      },
      {
        path: "/system/namespace/:name{[-a-zA-Z_0-9.]*}",
        auth: true,
        methods: {
          GET: (c) =>
            respond(
              c.req.param("name")
                ? namespaces.get(c.req.param("name")!)
                : Effect.fail(new InvalidRequest({ message: "namespace name is required in the path" })),
              (ns) => json(ns),
            ),
          POST: (c) =>
            respond(
              Effect.flatMap(
                body(c, FunctionNamespace),
                (req) => namespaces.create({ ...req, name: req.name || c.req.param("name") }),
              ),
              () => new Response(null, { status: 201 }),
            ),
          PUT: (c) =>
            respond(
              Effect.flatMap(
                body(c, FunctionNamespace),
                (req) => namespaces.update(c.req.param("name")!, req),
              ),
              accepted,
            ),
          DELETE: (c) => respond(namespaces.remove(c.req.param("name")!), accepted),
        },
      },
      {
        path: "/system/logs",
        auth: true,
        methods: {
          GET: (c) => {
            // faas-provider's log handler: the LAST value of a repeated parameter, tail by strconv.Atoi,
            // since by time.Parse(RFC3339) (both 422 when invalid), follow by strconv.ParseBool (else false).
            const q = queryOf(c);
            const tailText = q.last("tail");
            const sinceText = q.last("since");
            const tail = tailText === "" ? undefined : parseGoInt(tailText);
            const since = sinceText === "" ? undefined : parseGoRfc3339(sinceText);
            const request = Effect.gen(function* () {
              if (tailText !== "" && tail === undefined) {
                return yield* new Unprocessable({
                  message: `could not parse the log request: tail: ${
                    shown(tailText)
                  } is not a decimal integer in the int64 range`,
                });
              }
              if (sinceText !== "" && since === undefined) {
                return yield* new Unprocessable({
                  message: `could not parse the log request: since: ${
                    shown(sinceText)
                  } is not an RFC3339 time`,
                });
              }
              return yield* logs.stream({
                name: q.last("name"),
                namespace: q.last("namespace") || undefined,
                instance: q.last("instance") || undefined,
                // More lines than 2^53 is all of them; a Number keeps the API server's int64 in range.
                tail: tail === undefined ? undefined : Number(
                  tail > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : tail,
                ),
                since,
                follow: parseGoBool(q.last("follow")) ?? false,
              });
            });
            return respond(request, (messages) => {
              const encoder = new TextEncoder();
              const body = messages.pipe(
                Stream.map((m) => encoder.encode(`${JSON.stringify(m)}\n`)),
                Stream.toReadableStreamWith(context),
              );
              return new Response(body, {
                status: 200,
                headers: {
                  "Content-Type": "application/x-ndjson",
                  "Connection": "Keep-Alive",
                  "Cache-Control": "no-cache",
                },
              });
            });
          },
        },
      },
      {
        path: "/metrics",
        auth: false,
        methods: {
          GET: () => {
            return Promise.resolve(
              new Response(registry.expose(), {
                headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
              }),
            );
          },
        },
      },
      {
        path: "/healthz",
        auth: false,
        methods: {
          GET: () => Promise.resolve(health()),
          HEAD: () => Promise.resolve(health()),
        },
      },
    ];

    const health = () => {
      const problem = caches.unhealthy();
      return problem ? textError(503, problem) : new Response(null, { status: 200 });
    };

    const app = new Hono<{ Bindings: Deno.ServeHandlerInfo }>({ strict: true });
    for (const route of routes) {
      for (const [method, handler] of Object.entries(route.methods) as [Method, Handler][]) {
        app.on(method, route.path, async (c) => {
          const started = performance.now();
          const res = route.auth && credentials && !checkBasicAuth(c.req.header("authorization"), credentials)
            ? unauthorized()
            : await handler(c);
          if (c.req.path.startsWith("/system/")) {
            const labels = { code: String(res.status), method: c.req.method, path: metricPath(c.req.path) };
            metrics.httpRequests.inc(labels);
            metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
          }
          return res;
        });
      }
      // A known path with another method: 405 with an empty body, like gorilla/mux.
      app.all(route.path, () => new Response(null, { status: 405 }));
    }
    /** An invocation: the methods faas-provider routes, else 405 with an empty body. */
    const invoke = (req: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response> => {
      if (!invokeMethods.has(req.method)) return new Response(null, { status: 405 });
      const addr = info?.remoteAddr as Deno.NetAddr | undefined;
      return proxy(req, addr ? `${addr.hostname}:${addr.port}` : undefined, info?.completed);
    };
    for (const path of ["/function/:name", "/function/:name/", "/function/:name/*"]) {
      app.all(path, (c) => invoke(c.req.raw, c.env));
    }
    app.notFound(() => textError(404, "404 page not found"));
    app.onError((err) => {
      Effect.runFork(Effect.logError(`unhandled error: ${err.message}`));
      return textError(500, "internal error");
    });

    /** Bodies are read within read_timeout; invocations skip this (the upstream timeout bounds them). */
    const api = withReadTimeout(config.readTimeoutMs, (req, info) => app.fetch(req, info));
    /** Invocations, the hot path, skip the router: same routes and 405s as registered above. */
    const fetch = (req: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response> => {
      const url = req.url;
      const start = url.indexOf("/", url.indexOf("//") + 2);
      if (
        url.startsWith("/function/", start) && url.length > start + 10 && url[start + 10] !== "/" &&
        url[start + 10] !== "?"
      ) return invoke(req, info);
      return api(req, info);
    };
    return { fetch, app };
  });
