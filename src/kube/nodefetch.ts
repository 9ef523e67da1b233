/**
 * A `fetch` for the two kubeconfig TLS settings Deno's own fetch cannot honour:
 * `tls-server-name` (verify the certificate against, and send SNI for, another
 * name than the URL's host) and `insecure-skip-tls-verify` (no verification).
 * It uses Deno's `node:https`, which supports both (`servername`,
 * `rejectUnauthorized`), with a keep-alive agent, and answers a web `Response`
 * whose body streams (watches and followed logs). HttpTransport uses it only
 * when a connection asks for one of those settings.
 */
import https from "node:https";
import type { IncomingMessage } from "node:http";

export interface NodeTlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** The name the certificate must carry (and the SNI sent). */
  readonly servername?: string;
  /** False: do not verify the server's certificate at all. */
  readonly rejectUnauthorized: boolean;
}

export interface NodeFetchInit {
  readonly method: string;
  readonly headers: Headers;
  readonly body?: string;
  readonly signal: AbortSignal;
}

export type NodeFetch = (url: string, init: NodeFetchInit) => Promise<Response>;

/**
 * With no `ca`, Deno's node:https loads the system CA store, which needs `--allow-sys`. When
 * verification is off the store is never used, so this self-signed certificate (whose key was
 * thrown away) stands in for it.
 */
const PLACEHOLDER_CA = `-----BEGIN CERTIFICATE-----
MIIBtjCCAV2gAwIBAgIUFsA/t401uy+tQZHzq8ZmwQexef0wCgYIKoZIzj0EAwIw
MDEuMCwGA1UEAwwlZmFhcy1kZW5vIHBsYWNlaG9sZGVyIChuZXZlciB0cnVzdGVk
KTAgFw0yNjExMjUyMzA0MjBaGA8yMTI2MTEwMTIzMDQyMFowMDEuMCwGA1UEAwwl
ZmFhcy1kZW5vIHBsYWNlaG9sZGVyIChuZXZlciB0cnVzdGVkKTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABBBiA7TsKuOBJT+yOfZWHutRgqY3/MlfP8ACvuzFyuxD
uSPY80E3pxkefPh22x5w1Jqh4IBeDEXIqJXo+JyPNKKjUzBRMB0GA1UdDgQWBBQw
QoltetQnSOz+TAgoU3vtu9PsrTAfBgNVHSMEGDAWgBQwQoltetQnSOz+TAgoU3vt
u9PsrTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIGjRwSlALYfe
ZQGKA98PLYs0TF5SyXXxnzQTZy3+2dzQAiBHpszIPwWUni6iw3ZdYjvJy1HbrU8r
JNwNsuk8Bnflqg==
-----END CERTIFICATE-----
`;

/** A fetch over node:https with the given TLS options; `close` ends its pooled connections. */
export const makeNodeFetch = (tls: NodeTlsOptions): { fetch: NodeFetch; close: () => void } => {
  const ca = tls.ca ?? (tls.rejectUnauthorized ? undefined : PLACEHOLDER_CA);
  const agent = new https.Agent({
    keepAlive: true,
    ca,
    cert: tls.cert,
    key: tls.key,
    servername: tls.servername,
    rejectUnauthorized: tls.rejectUnauthorized,
  });
  const fetch: NodeFetch = (url, init) =>
    new Promise<Response>((resolve, reject) => {
      if (init.signal.aborted) return reject(init.signal.reason);
      const headers: Record<string, string> = {};
      init.headers.forEach((v, k) => (headers[k] = v));
      if (init.body !== undefined) {
        headers["content-length"] = String(new TextEncoder().encode(init.body).length);
      }
      const req = https.request(url, {
        method: init.method,
        headers,
        agent,
        // Also per request: node:https takes TLS options from the request as well as the agent.
        ca,
        cert: tls.cert,
        key: tls.key,
        servername: tls.servername,
        rejectUnauthorized: tls.rejectUnauthorized,
      });
      let response: IncomingMessage | undefined;
      const onAbort = () => {
        const reason = init.signal.reason ?? new DOMException("aborted", "AbortError");
        req.destroy(reason instanceof Error ? reason : new Error(String(reason)));
        response?.destroy();
        reject(reason);
      };
      init.signal.addEventListener("abort", onAbort, { once: true });
      req.on("error", (e) => {
        init.signal.removeEventListener("abort", onAbort);
        reject(e);
      });
      req.on("response", (res: IncomingMessage) => {
        response = res;
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            res.on("data", (chunk: Uint8Array) => {
              controller.enqueue(new Uint8Array(chunk));
              // Backpressure: pause the socket while the reader is behind.
              if ((controller.desiredSize ?? 1) <= 0) res.pause();
            });
            res.on("end", () => {
              init.signal.removeEventListener("abort", onAbort);
              try {
                controller.close();
              } catch { /* cancelled */ }
            });
            res.on("error", (e: Error) => {
              init.signal.removeEventListener("abort", onAbort);
              try {
                controller.error(e);
              } catch { /* cancelled */ }
            });
            res.on("aborted", () => {
              try {
                controller.error(new Error("the API server closed the connection"));
              } catch { /* closed */ }
            });
          },
          pull() {
            res.resume();
          },
          cancel() {
            init.signal.removeEventListener("abort", onAbort);
            res.destroy();
          },
        }, { highWaterMark: 4 });
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v === undefined) continue;
          for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
        }
        const status = res.statusCode ?? 0;
        const noBody = status === 204 || status === 304 || init.method === "HEAD";
        if (noBody) res.resume();
        resolve(new Response(noBody ? null : body, { status, statusText: res.statusMessage, headers: out }));
      });
      req.end(init.body);
    });
  return { fetch, close: () => agent.destroy() };
};
