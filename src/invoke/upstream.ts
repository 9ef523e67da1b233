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

export interface UpstreamShape {
  /**
   * Sends `req` (its URL already points at the endpoint) and resolves with the
   * response as soon as its headers arrive; the body streams. Rejects with an
   * UpstreamError when the pod cannot be reached or does not answer in time.
   */
  fetch(endpoint: Endpoint, req: Request, timeoutMs: number): Promise<Response>;
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
        fetch: async (_endpoint, req, timeoutMs) => {
          const controller = new AbortController();
          const timer = setTimeout(
            () => controller.abort(new UpstreamError("timeout", "timeout")),
            timeoutMs,
          );
          const forward = req.signal;
          const onAbort = () => controller.abort(forward.reason);
          forward?.addEventListener("abort", onAbort);
          try {
            const res = await fetch(req.url, {
              method: req.method,
              headers: req.headers,
              body: req.body,
              redirect: "manual",
              signal: controller.signal,
              client,
              // deno-lint-ignore no-explicit-any
              ...({ duplex: "half" } as any),
            });
            if (!res.body) {
              clearTimeout(timer);
              return res;
            }
            // The timeout covers the whole exchange, as the faas-provider proxy's client timeout does.
            const body = res.body.pipeThrough(
              new TransformStream({
                flush: () => clearTimeout(timer),
              }),
            );
            return new Response(body, {
              status: res.status,
              statusText: res.statusText,
              headers: res.headers,
            });
          } catch (e) {
            clearTimeout(timer);
            if (controller.signal.aborted && controller.signal.reason instanceof UpstreamError) {
              throw controller.signal.reason;
            }
            throw new UpstreamError("unreachable", (e as Error).message);
          } finally {
            forward?.removeEventListener("abort", onAbort);
          }
        },
      });
    });
}
