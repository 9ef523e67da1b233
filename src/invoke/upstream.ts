/**
 * How the invoke proxy reaches a function pod. For a real cluster: fetch to
 * http://<podIP>:<port>; in the simulator: a direct call into the simulated pod.
 */
import { Context, Data, Layer } from "effect";
import { Deadlines } from "./deadlines.ts";

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  /** The pod behind the address, for logs and load accounting. */
  readonly pod?: string;
}

/**
 * Why a pod gave no answer: `unreachable` (no connection), `timeout`, or `aborted` (the request's `signal`
 * aborted, the client went away, before the pod answered). Thrown from the Promise-based hot path.
 */
export class UpstreamError extends Data.TaggedError("UpstreamError")<{
  readonly reason: "unreachable" | "timeout" | "aborted";
  readonly message: string;
}> {}

/** A request on its way to a pod: plain data, so the hot path builds no Request object. */
export interface ForwardRequest {
  /** `http://<podIP>:<port>/<path>?<query>` */
  readonly url: string;
  readonly method: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ReadableStream<Uint8Array> | null;
  /**
   * Aborts the exchange (the pod sees its request aborted): the client went away.
   * The proxy lets it abort only while the response has not started; after that
   * the client's departure reaches the pod by cancelling the response body.
   */
  readonly signal?: AbortSignal;
  /**
   * Settles once the response has been delivered to the client (or abandoned): nothing of the exchange is
   * left for the timeout to bound, so what enforces it can be let go then rather than at the deadline.
   */
  readonly delivered?: Promise<unknown>;
}

interface UpstreamShape {
  /**
   * Sends the request and resolves with the response as soon as its headers
   * arrive; the body streams. Rejects with an UpstreamError when the pod cannot
   * be reached or does not answer within `timeoutMs` (0: no limit; it also ends a streamed body),
   * and with kind `aborted` when `req.signal` aborts first.
   */
  fetch(endpoint: Endpoint, req: ForwardRequest, timeoutMs: number): Promise<Response>;
  /** Opens a WebSocket to the pod (`ws://<podIP>:<port>/<path>`); absent where pods cannot speak it. */
  readonly webSocket?: (url: string, protocols: string[]) => WebSocket;
}

/**
 * A streamed body (no Content-Length: chunked output, server-sent events) read through JavaScript, so the
 * exchange's timeout can end it: Deno serves a fetched body it is handed as it is, natively, and an abort
 * after the headers no longer reaches that stream. On the timeout the body ends where it is, cleanly, as
 * faas-netes' Go proxy ends its response when the client timeout stops its copy; any other failure of the
 * pod's stream errors it. A client that goes away cancels the pod's stream.
 */
export const boundedBody = (
  body: ReadableStream<Uint8Array>,
  timedOut: () => boolean,
): ReadableStream<Uint8Array> => {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        if (timedOut()) controller.close();
        else controller.error(e);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
};

/** Why an exchange was aborted: its own reasons, told apart by identity. */
const timedOut = new DOMException("the pod did not answer within the timeout", "TimeoutError");
const clientLeft = new DOMException("the client closed the request", "AbortError");

export class Upstream extends Context.Service<Upstream, UpstreamShape>()("faas/invoke/Upstream") {
  /** Plain HTTP to pod IPs, with a keep-alive pool, never following redirects. */
  static http = (options: { maxIdleConnsPerHost?: number } = {}) =>
    Layer.sync(Upstream, () => {
      const pool = Deno.createHttpClient({
        poolMaxIdlePerHost: options.maxIdleConnsPerHost ?? 1024,
        poolIdleTimeout: 5_000,
      });
      /** One timer for the timeouts of every exchange in flight (see deadlines.ts). */
      const deadlines = new Deadlines();
      return Upstream.of({
        webSocket: (url, protocols) => new WebSocket(url, protocols),
        fetch: async (_endpoint, req, timeoutMs) => {
          // One signal for both ends of the exchange: the timeout, or the client leaving. The timeout covers
          // the whole exchange, so it also errors the body stream, until the response has been delivered.
          const exchange = new AbortController();
          // read_timeout 0: no deadline, as a Go http.Client with Timeout 0.
          const deadline = timeoutMs > 0
            ? deadlines.add(timeoutMs, () => exchange.abort(timedOut))
            : undefined;
          const client = req.signal;
          if (client?.aborted) exchange.abort(clientLeft);
          else client?.addEventListener("abort", () => exchange.abort(clientLeft), { once: true });
          const release = () => deadline && deadlines.clear(deadline);
          try {
            // A body of known length goes back as it is, so Deno streams it without copying through JS.
            const res = await fetch(req.url, {
              method: req.method,
              headers: req.headers,
              body: req.body,
              redirect: "manual",
              signal: exchange.signal,
              client: pool,
              duplex: "half",
            } as RequestInit);
            req.delivered?.then(release, release);
            if (deadline === undefined || res.body === null || res.headers.has("content-length")) return res;
            const body = boundedBody(res.body, () => exchange.signal.reason === timedOut);
            return new Response(body, {
              status: res.status,
              statusText: res.statusText,
              headers: res.headers,
            });
          } catch (e) {
            release();
            // The reason it aborted with first: a client leaving just after the timeout is a timeout.
            const reason = exchange.signal.aborted ? exchange.signal.reason : undefined;
            if (reason === timedOut) throw new UpstreamError({ reason: "timeout", message: "timeout" });
            if (reason === clientLeft) {
              throw new UpstreamError({ reason: "aborted", message: "the client closed the request" });
            }
            throw new UpstreamError({ reason: "unreachable", message: (e as Error).message });
          }
        },
      });
    });
}
