/** The size limit on request bodies (max_body_bytes). */
import type { MiddlewareHandler } from "hono";
import { PayloadTooLarge } from "../../domain/errors.ts";

const tooLarge = (limit: number) =>
  new PayloadTooLarge({ message: `request body is larger than the limit of ${limit} bytes` });

/**
 * The body, failing with PayloadTooLarge once more than `limit` bytes arrive, or at the first read when
 * the declared Content-Length is already over it (nothing is read then).
 */
const limited = (source: ReadableStream<Uint8Array>, declared: number, limit: number) => {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let size = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (declared > limit) return controller.error(tooLarge(limit));
      reader ??= source.getReader();
      const { done, value } = await reader.read();
      if (done) return controller.close();
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return controller.error(tooLarge(limit));
      }
      controller.enqueue(value);
    },
    cancel: (reason) => reader ? reader.cancel(reason) : source.cancel(reason),
  }, { highWaterMark: 0 });
};

/**
 * Limits request bodies to `limit` bytes, checked as the handler reads the body (like Go's
 * http.MaxBytesReader): a handler that never reads it is unaffected, one that does fails with
 * PayloadTooLarge (413). GET and HEAD bodies are never read.
 */
export const bodyLimit = (limit: number): MiddlewareHandler => (c, next) => {
  const req = c.req.raw;
  if (req.body === null || req.method === "GET" || req.method === "HEAD") return next();
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  const body = limited(req.body, Number.isFinite(declared) ? declared : 0, limit);
  c.req.raw = new Request(req, { body, duplex: "half" } as RequestInit);
  return next();
};
