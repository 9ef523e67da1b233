/**
 * Functions: `/system/functions` (list, deploy, update, delete), `/system/function/{name}` (status) and
 * `/system/scale-function/{name}`, mounted at /system.
 */
import { Effect, Result } from "effect";
import { Hono } from "hono";
import { Functions } from "../../provider/functions.ts";
import { Usage } from "../../kube/usage.ts";
import { InvalidRequest } from "../../domain/errors.ts";
import {
  DeleteFunctionRequest,
  FunctionDeployment,
  type FunctionStatus,
  ScaleServiceRequest,
} from "../../domain/types.ts";
import { parseGoBool } from "../../domain/goparse.ts";
import type { GoQuery } from "../query.ts";
import {
  accepted,
  type ApiContext,
  type ApiEnv,
  body,
  cachedJson,
  failed,
  json,
  jsonText,
  query,
  queryOf,
  responder,
} from "../respond.ts";

/** Function-name path segments, as faas-provider's router: `[-a-zA-Z_0-9.]+`. */
const nameChars = "[-a-zA-Z_0-9.]+";
const nameParam = `:name{${nameChars}}`;

/** JSON text per list and per status object: unchanged functions keep their object, so their text is reused. */
const listText = new WeakMap<readonly object[], string>();
const jsonList = (items: readonly object[]) => {
  let body = listText.get(items);
  if (body === undefined) listText.set(items, body = `[${items.map(jsonText).join(",")}]`);
  return new Response(body, { status: 200, headers: { "Content-Type": "application/json" } });
};

/** `/system/function/` and a name as the status route matches it, taken from a request URL without the router. */
const statusPrefix = "/system/function/";
const namePattern = new RegExp(`^${nameChars}$`);
export const statusPathName = (url: string): string | undefined => {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0 || !url.startsWith(statusPrefix, start)) return undefined;
  let end = start + statusPrefix.length;
  while (end < url.length && url[end] !== "?" && url[end] !== "#") end++;
  const name = url.slice(start + statusPrefix.length, end);
  return namePattern.test(name) ? name : undefined;
};

/** A status request: the function's name and the request's query. */
export type StatusHandler = (name: string, query: GoQuery) => Response | Promise<Response>;

/**
 * `GET /system/function/{name}`, the hot read: answered from the caches without running an Effect (its
 * JSON text is kept while the status object is unchanged), unless usage is asked for. The status route
 * serves it, and app.ts serves it without the router.
 */
export const functionStatus = Effect.gen(function* () {
  const functions = yield* Functions;
  const usage = yield* Usage;
  const respond = yield* responder;
  const withUsage = (s: FunctionStatus) =>
    Effect.map(
      usage.ofFunction(s.name, s.namespace),
      (u): FunctionStatus =>
        u === undefined || u.pods === 0
          ? s
          : { ...s, usage: { cpu: u.cpu, totalMemoryBytes: u.totalMemoryBytes } },
    );
  const handler: StatusHandler = (name, q) => {
    const namespace = q.first("namespace") || undefined;
    // `usage=1` or `usage=true` (faas-cli describe) asks for CPU and memory: strconv.ParseBool.
    if (parseGoBool(q.first("usage")) === true) {
      return respond(Effect.flatMap(functions.status(name, namespace), withUsage), json);
    }
    const status = functions.statusNow(name, namespace);
    return Result.isSuccess(status) ? cachedJson(status.success) : failed(status.failure);
  };
  return handler;
});

export const functionRoutes = Effect.gen(function* () {
  const functions = yield* Functions;
  const respond = yield* responder;
  const status = yield* functionStatus;

  /** A deploy or update request; the namespace from the body, else the query (else the default). */
  const deployment = (c: ApiContext) =>
    Effect.map(
      body(c, FunctionDeployment),
      (req) => ({ ...req, namespace: req.namespace || query(c, "namespace") }),
    );

  const routes = new Hono<ApiEnv>();
  routes.get("/functions", (c) => respond(functions.list(query(c, "namespace")), jsonList));
  routes.post("/functions", (c) => respond(Effect.flatMap(deployment(c), functions.deploy), accepted));
  routes.put("/functions", (c) => respond(Effect.flatMap(deployment(c), functions.update), accepted));
  routes.delete("/functions", (c) =>
    respond(
      Effect.flatMap(body(c, DeleteFunctionRequest), (req) =>
        req.functionName === ""
          ? Effect.fail(new InvalidRequest({ message: "functionName: is required" }))
          : functions.remove(req.functionName, req.namespace || query(c, "namespace"))),
      accepted,
    ));
  routes.get(`/function/${nameParam}`, (c) => status(c.req.param("name")!, queryOf(c)));
  routes.post(`/scale-function/${nameParam}`, (c) =>
    respond(
      Effect.flatMap(
        body(c, ScaleServiceRequest),
        (req) => functions.scale(c.req.param("name")!, req.replicas, req.namespace || query(c, "namespace")),
      ),
      accepted,
    ));
  return routes;
});
