/** 405 for a method a known path has no handler for. */
import type { MiddlewareHandler } from "hono";

/**
 * Lets through the methods a path has handlers for and answers any other with 405 and an empty body, as
 * gorilla/mux does in faas-provider: it matches the method before any handler runs, so this goes first
 * (a wrong method is 405, never 401). HEAD is allowed where GET is: Hono serves it with the GET handler.
 */
export const allowMethods = (methods: Iterable<string>): MiddlewareHandler => {
  const allowed = new Set(methods);
  if (allowed.has("GET")) allowed.add("HEAD");
  return (c, next) =>
    allowed.has(c.req.method) ? next() : Promise.resolve(new Response(null, { status: 405 }));
};
