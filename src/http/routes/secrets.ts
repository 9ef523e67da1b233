/** Secrets: `/system/secrets` (list, create, update, delete), mounted at /system. */
import { Effect } from "effect";
import { Hono } from "hono";
import { Secrets } from "../../provider/secrets.ts";
import { SecretRequest } from "../../domain/types.ts";
import { accepted, type ApiContext, type ApiEnv, body, json, query, responder } from "../respond.ts";

export const secretRoutes = Effect.gen(function* () {
  const secrets = yield* Secrets;
  const respond = yield* responder;

  /** A secret request; the namespace from the body, else the query (else the default). */
  const secret = (c: ApiContext) =>
    Effect.map(body(c, SecretRequest), (s) => ({ ...s, namespace: s.namespace || query(c, "namespace") }));

  const routes = new Hono<ApiEnv>();
  routes.get("/secrets", (c) => respond(secrets.list(query(c, "namespace")), (l) => json(l)));
  routes.post("/secrets", (c) => respond(Effect.flatMap(secret(c), secrets.create), accepted));
  routes.put("/secrets", (c) => respond(Effect.flatMap(secret(c), secrets.update), accepted));
  routes.delete(
    "/secrets",
    (c) => respond(Effect.flatMap(secret(c), (s) => secrets.remove(s.name, s.namespace)), accepted),
  );
  return routes;
});
