/**
 * The faas-provider HTTP API on Hono: the route groups (routes/), the middleware (middleware/) and the
 * error -> status mapping (errors.ts), with invocations sent to the invoke proxy ahead of the router.
 */
import { Effect } from "effect";
import { Hono, type MiddlewareHandler } from "hono";
import { ProviderConfig } from "../config/config.ts";
import type { InvokeProxy } from "../invoke/proxy.ts";
import { textError } from "./errors.ts";
import { goQuery } from "./query.ts";
import type { ApiEnv } from "./respond.ts";
import { allowMethods } from "./middleware/methods.ts";
import { basicAuth, checkBasicAuth, type Credentials, unauthorized } from "./middleware/basicauth.ts";
import { bodyLimit } from "./middleware/bodylimit.ts";
import { recordRequest, requestMetrics } from "./middleware/metrics.ts";
import { readTimeout } from "./middleware/readtimeout.ts";
import { functionRoutes, functionStatus, statusPathName } from "./routes/functions.ts";
import { secretRoutes } from "./routes/secrets.ts";
import { namespaceRoutes } from "./routes/namespaces.ts";
import { logRoutes } from "./routes/logs.ts";
import { systemRoutes } from "./routes/system.ts";
import { internalRoutes } from "./routes/internal.ts";
import { invokeRoutes, isInvocation, makeInvoke, type ServeHandler } from "./routes/invoke.ts";

/** The methods a route group serves on each of its paths. */
const methodsByPath = (group: Hono<ApiEnv>) => {
  const out = new Map<string, string[]>();
  for (const { path, method } of group.routes) out.set(path, [...out.get(path) ?? [], method]);
  return out;
};

/** The handler for Deno.serve: invocations straight to the proxy, everything else through the router. */
export const makeApi = (proxy: InvokeProxy, credentials: Credentials | undefined) =>
  Effect.gen(function* () {
    const config = yield* ProviderConfig;
    const app = new Hono<ApiEnv>({ strict: true });
    // Everything the router serves reads its body within read_timeout.
    app.use(readTimeout(config.readTimeoutMs));

    /** The /system API is measured, authenticated and body-limited; the probes are not. */
    const systemApi: MiddlewareHandler[] = [
      requestMetrics,
      ...(credentials ? [basicAuth(credentials)] : []),
      bodyLimit(config.maxBodyBytes),
    ];
    /** Mounts a route group at `base`; each of its paths answers another method with 405 first. */
    const mount = (base: string, group: Hono<ApiEnv>) => {
      for (const [path, methods] of methodsByPath(group)) {
        const full = base === "/" ? path : `${base}${path}`;
        app.use(full, allowMethods(methods), ...(full.startsWith("/system/") ? systemApi : []));
      }
      app.route(base, group);
    };
    // The replicas' internal endpoint authenticates on its own (a Bearer token, or basic auth).
    app.route("/", yield* internalRoutes(credentials));
    mount("/system", yield* functionRoutes);
    mount("/system", yield* secretRoutes);
    mount("/system", yield* namespaceRoutes);
    mount("/system", yield* logRoutes);
    mount("/", yield* systemRoutes);
    const invoke = makeInvoke(proxy);
    app.route("/function", invokeRoutes(invoke));
    app.notFound(() => textError(404, "404 page not found"));
    const unhandled = (err: Error) => {
      Effect.runFork(Effect.logError(`unhandled error: ${err.message}`));
      return textError(500, "internal error");
    };
    app.onError(unhandled);

    /**
     * `GET /system/function/{name}` without the router, through what the router's chain does for it: the
     * method is allowed, a GET has no body to time or limit, so credentials, the status, and its metrics.
     */
    const status = yield* functionStatus;
    const serveStatus = (req: Request, name: string): Response | Promise<Response> => {
      const started = performance.now();
      const answered = (res: Response) => {
        recordRequest(res.status, "GET", "/system/function", started);
        return res;
      };
      try {
        if (credentials && !checkBasicAuth(req.headers.get("authorization") ?? undefined, credentials)) {
          return answered(unauthorized());
        }
        const res = status(name, goQuery(req.url));
        return res instanceof Response ? answered(res) : res.then(answered, unhandled);
      } catch (e) {
        return unhandled(e instanceof Error ? e : new Error(String(e)));
      }
    };

    /**
     * Invocations, the hot path, skip the router (and read_timeout: the upstream timeout bounds them); so
     * does a function's status, the hot read.
     */
    const fetch: ServeHandler = (req, info) => {
      if (isInvocation(req.url)) return invoke(req, info);
      const name = req.method === "GET" ? statusPathName(req.url) : undefined;
      return name === undefined ? app.fetch(req, info) : serveStatus(req, name);
    };
    return fetch;
  });
