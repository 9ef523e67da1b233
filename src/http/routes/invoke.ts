/**
 * Invocations, `/function/{name}[.{namespace}][/path]`, handed to the invoke proxy. The hot path: the
 * server sends them straight here (isInvocation) without the router; the routes serve what only the router
 * recognises as one (a percent-encoded `/function/`, say).
 */
import { Hono } from "hono";
import type { InvokeProxy } from "../../invoke/proxy.ts";
import type { ApiEnv } from "../respond.ts";

export type ServeHandler = (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;

const invokeMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]);

/** An invocation: the methods faas-provider routes, else 405 with an empty body. */
export const makeInvoke = (proxy: InvokeProxy): ServeHandler => (req, info) => {
  if (!invokeMethods.has(req.method)) return new Response(null, { status: 405 });
  const addr = info?.remoteAddr as Deno.NetAddr | undefined;
  return proxy(req, addr ? `${addr.hostname}:${addr.port}` : undefined, info?.completed);
};

/** Whether `url` is `/function/` and a name: the invoke routes' paths, told without the router. */
export const isInvocation = (url: string) => {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return url.startsWith("/function/", start) && url.length > start + 10 && url[start + 10] !== "/" &&
    url[start + 10] !== "?";
};

/** Mounted at /function. */
export const invokeRoutes = (invoke: ServeHandler) => {
  const routes = new Hono<ApiEnv>();
  for (const path of ["/:name", "/:name/", "/:name/*"]) routes.all(path, (c) => invoke(c.req.raw, c.env));
  return routes;
};
