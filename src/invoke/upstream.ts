/**
 * How the invoke proxy reaches a function pod. For a real cluster: fetch to
 * http://<podIP>:<port>; in the simulator: a direct call into the simulated pod.
 */
import { Context, Layer } from "effect";

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  /** The pod behind the address, for logs and load accounting. */
  readonly pod?: string;
}

export class UpstreamError extends Error {
  constructor(readonly kind: "unreachable" | "timeout", message: string) {
    super(message);
  }
}

/** A request on its way to a pod: plain data, so the hot path builds no Request object. */
export interface ForwardRequest {
  /** `http://<podIP>:<port>/<path>?<query>` */
  readonly url: string;
  readonly method: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ReadableStream<Uint8Array> | null;
}

export interface UpstreamShape {
  /**
   * Sends the request and resolves with the response as soon as its headers
   * arrive; the body streams. Rejects with an UpstreamError when the pod cannot
   * be reached or does not answer within `timeoutMs` (which covers the body too).
   */
  fetch(endpoint: Endpoint, req: ForwardRequest, timeoutMs: number): Promise<Response>;
  /** Opens a WebSocket to the pod (`ws://<podIP>:<port>/<path>`); absent where pods cannot speak it. */
  readonly webSocket?: (url: string, protocols: string[]) => WebSocket;
}

export class Upstream extends Context.Service<Upstream, UpstreamShape>()("faas/invoke/Upstream") {
  /** Plain HTTP to pod IPs, with a keep-alive pool, never following redirects. */
  static http = (options: { maxIdleConnsPerHost?: number } = {}) =>
    Layer.sync(Upstream, () => {
      const client = Deno.createHttpClient({
        poolMaxIdlePerHost: options.maxIdleConnsPerHost ?? 1024,
        poolIdleTimeout: 5_000,
      });
      return Upstream.of({
        webSocket: (url, protocols) => new WebSocket(url, protocols),
        fetch: async (_endpoint, req, timeoutMs) => {
          // The timeout covers the whole exchange: the signal also errors the body stream.
          const timeout = AbortSignal.timeout(timeoutMs);
          try {
            // The response goes back as it is, so Deno can stream its body without copying through JS.
            return await fetch(req.url, {
              method: req.method,
              headers: req.headers,
              body: req.body,
              redirect: "manual",
              signal: timeout,
              client,
              // deno-lint-ignore no-explicit-any
              ...({ duplex: "half" } as any),
            });
          } catch (e) {
            if (timeout.aborted) throw new UpstreamError("timeout", "timeout");
            throw new UpstreamError("unreachable", (e as Error).message);
          }
        },
      });
    });
}
