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
   * be reached or does not answer within `timeoutMs` (which covers the body too),
   * and with kind `aborted` when `req.signal` aborts first.
   */
  fetch(endpoint: Endpoint, req: ForwardRequest, timeoutMs: number): Promise<Response>;
  /** Opens a WebSocket to the pod (`ws://<podIP>:<port>/<path>`); absent where pods cannot speak it. */
  readonly webSocket?: (url: string, protocols: string[]) => WebSocket;
}

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
          const deadline = deadlines.add(timeoutMs, () => exchange.abort(timedOut));
          const client = req.signal;
          if (client?.aborted) exchange.abort(clientLeft);
          else client?.addEventListener("abort", () => exchange.abort(clientLeft), { once: true });
          const release = () => deadlines.clear(deadline);
          try {
            // The response goes back as it is, so Deno can stream its body without copying through JS.
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
            return res;
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
