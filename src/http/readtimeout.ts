/**
 * `read_timeout` for request bodies, as Go's http.Server.ReadTimeout bounds them in faas-netes: a body not
 * fully read within the timeout, counted from when the request arrived, fails with {@link RequestTimeout}
 * (408) and the rest of it is cancelled. Deno.serve has no read deadline of its own (see the README).
 *
 * The deadline is wall-clock time (`setTimeout`), not Effect's Clock: it bounds a socket, like the upstream
 * timeout of the invoke proxy, and must fire whether or not anything advances virtual time.
 */
import { RequestTimeout } from "../domain/errors.ts";

type ServeHandler = (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** `500ms`, `10s`, `1.5s`: a duration as the read_timeout setting spells it. */
const durationText = (ms: number) => ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;

export const readTimeoutMessage = (timeoutMs: number) =>
  `request body not received within read_timeout (${durationText(timeoutMs)})`;

/**
 * Serves `handler` with a deadline on reading each request body. At the deadline a body still being read
 * errors with RequestTimeout (the handler's read fails, nothing is decoded or changed) and the connection's
 * body is cancelled; a 408 then carries `Connection: close`, since unread bytes are left on the connection
 * (Deno.serve does not close it itself). A body the handler leaves unread is cancelled once it has answered.
 * `timeoutMs` 0 means no deadline, as in Go. GET and HEAD bodies are never read, so they are not wrapped.
 */
export const withReadTimeout = (timeoutMs: number, handler: ServeHandler): ServeHandler => {
  if (timeoutMs <= 0) return handler;
  return async (req, info) => {
    if (req.body === null || req.method === "GET" || req.method === "HEAD") return await handler(req, info);
    const source = req.body.getReader();
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** Read to the end, failed, cancelled or timed out: the source is no longer read. */
    let settled = false;
    let timedOut = false;
    const settle = () => {
      settled = true;
      clearTimeout(timer);
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        timer = setTimeout(() => {
          if (settled) return;
          settle();
          timedOut = true;
          const error = new RequestTimeout({ message: readTimeoutMessage(timeoutMs) });
          controller.error(error);
          source.cancel(error).catch(() => {});
        }, timeoutMs);
      },
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await source.read();
        } catch (e) {
          if (!settled) {
            settle();
            controller.error(e);
          }
          return;
        }
        if (settled) return; // timed out while waiting for this chunk: the stream has errored already
        if (chunk.done) {
          settle();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      },
      cancel(reason) {
        settle();
        return source.cancel(reason);
      },
    }, { highWaterMark: 0 });
    try {
      const res = await handler(
        new Request(req, { body, duplex: "half" } as RequestInit),
        info,
      );
      if (timedOut && res.status === 408) res.headers.set("Connection", "close");
      return res;
    } finally {
      if (!settled) {
        settle();
        source.cancel().catch(() => {});
      }
    }
  };
};
