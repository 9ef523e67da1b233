/** Namespaces: `/system/namespaces` (list) and `/system/namespace/{name}`, mounted at /system. */
import { Effect } from "effect";
import { Hono } from "hono";
import { Namespaces } from "../../provider/namespaces.ts";
import { InvalidRequest } from "../../domain/errors.ts";
import { FunctionNamespace } from "../../domain/types.ts";
import { accepted, type ApiEnv, body, json, responder } from "../respond.ts";

/** The name may be empty here, so that a missing one is a 400 with a message rather than a 404. */
const namespacePath = "/namespace/:name{[-a-zA-Z_0-9.]*}";

export const namespaceRoutes = Effect.gen(function* () {
  const namespaces = yield* Namespaces;
  const respond = yield* responder;

  const routes = new Hono<ApiEnv>();
  routes.get("/namespaces", () => respond(namespaces.list(), (l) => json(l)));
  routes.get(namespacePath, (c) =>
    respond(
      c.req.param("name")
        ? namespaces.get(c.req.param("name")!)
        : Effect.fail(new InvalidRequest({ message: "namespace name is required in the path" })),
      (ns) => json(ns),
    ));
  routes.post(namespacePath, (c) =>
    respond(
      Effect.flatMap(
        body(c, FunctionNamespace),
        (req) => namespaces.create({ ...req, name: req.name || c.req.param("name") }),
      ),
      () => new Response(null, { status: 201 }),
    ));
  routes.put(namespacePath, (c) =>
    respond(
      Effect.flatMap(body(c, FunctionNamespace), (req) => namespaces.update(c.req.param("name")!, req)),
      accepted,
    ));
  routes.delete(namespacePath, (c) => respond(namespaces.remove(c.req.param("name")!), accepted));
  return routes;
});
