/** read_timeout on request bodies, as middleware over everything the router serves. */
import type { MiddlewareHandler } from "hono";
import { withReadTimeout } from "../readtimeout.ts";

/**
 * Reads each request body within `timeoutMs` of the request reaching the router (see withReadTimeout);
 * 0 sets no deadline. Mounted first, so that everything after it reads the body through the deadline.
 */
export const readTimeout = (timeoutMs: number): MiddlewareHandler => {
  if (timeoutMs <= 0) return (_c, next) => next();
  return async (c, next) => {
    if (c.req.raw.body === null) return await next();
    await withReadTimeout(timeoutMs, async (req) => {
      c.req.raw = req;
      await next();
      return c.res;
    })(c.req.raw, c.env);
  };
};
