/**
 * `GET /system/internal/load`: this replica's load report for the leader (src/cluster/loadshare.ts). Only
 * for the other replicas: the caller shows this replica's token (published in its membership Lease, so
 * readable only with access to Leases in the provider's namespace) as a Bearer token, or the provider's
 * basic-auth credentials; anyone else gets 401, whether basic auth is on or not.
 */
import { Effect } from "effect";
import { Hono } from "hono";
import { ClusterLoad, internalLoadPath } from "../../cluster/loadshare.ts";
import { Invocations } from "../../metrics/invocations.ts";
import { checkBasicAuth, type Credentials } from "../middleware/basicauth.ts";
import { allowMethods } from "../middleware/methods.ts";
import { type ApiEnv, json } from "../respond.ts";

/** The report covers the longest window the scaler reads (the stable window, 30 s), with room. */
export const reportWindowMs = 60_000;

const encoder = new TextEncoder();
const sameToken = (a: string, b: string) => {
  const x = encoder.encode(a), y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
};

export const internalRoutes = (credentials: Credentials | undefined) =>
  Effect.gen(function* () {
    const cluster = yield* ClusterLoad;
    const invocations = yield* Invocations;
    const authorized = (header: string | undefined) => {
      if (!header) return false;
      if (header.startsWith("Bearer ")) {
        return cluster.token !== "" && sameToken(header.slice(7).trim(), cluster.token);
      }
      return credentials !== undefined && checkBasicAuth(header, credentials);
    };
    const routes = new Hono<ApiEnv>();
    routes.use(internalLoadPath, allowMethods(["GET"]));
    routes.get(internalLoadPath, (c) =>
      authorized(c.req.header("authorization"))
        ? json(invocations.report(reportWindowMs))
        : new Response("invalid credentials", {
          status: 401,
          headers: { "WWW-Authenticate": 'Bearer realm="faas-deno internal"', "Content-Type": "text/plain" },
        }));
    return routes;
  });
