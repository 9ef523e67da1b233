/**
 * Functions: `/system/functions` (list, deploy, update, delete), `/system/function/{name}` (status) and
 * `/system/scale-function/{name}`, mounted at /system.
 */
import { Effect } from "effect";
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
import { accepted, type ApiContext, type ApiEnv, body, json, query, queryOf, responder } from "../respond.ts";

/** Function-name path segments, as faas-provider's router: `[-a-zA-Z_0-9.]+`. */
const nameParam = ":name{[-a-zA-Z_0-9.]+}";

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

export const functionRoutes = Effect.gen(function* () {
  const functions = yield* Functions;
  const usage = yield* Usage;
  const respond = yield* responder;

  /** A deploy or update request; the namespace from the body, else the query (else the default). */
  const deployment = (c: ApiContext) =>
    Effect.map(
      body(c, FunctionDeployment),
      (req) => ({ ...req, namespace: req.namespace || query(c, "namespace") }),
    );

  /** `usage=1` or `usage=true` (faas-cli describe) asks for CPU and memory: strconv.ParseBool. */
  const wantsUsage = (c: ApiContext) => parseGoBool(queryOf(c).first("usage")) === true;
  const withUsage = (s: FunctionStatus) =>
    Effect.map(
      usage.ofFunction(s.name, s.namespace),
      (u): FunctionStatus =>
        u === undefined || u.pods === 0
          ? s
          : { ...s, usage: { cpu: u.cpu, totalMemoryBytes: u.totalMemoryBytes } },
    );
  const functionStatus = (c: ApiContext) => {
    const status = functions.status(c.req.param("name")!, query(c, "namespace"));
    return wantsUsage(c) ? Effect.flatMap(status, withUsage) : status;
  };

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
  routes.get(`/function/${nameParam}`, (c) => respond(functionStatus(c), (s) => json(s)));
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
