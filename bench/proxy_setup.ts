/**
 * Set-up for the invoke-proxy benchmark (bench/proxy_bench.ts): a real echo
 * upstream on 127.0.0.1 standing in for a function pod, and the provider on the
 * simulator with one function whose EndpointSlice points at that upstream.
 *
 * Each role can run on the calling thread or, as a separate "process", in a
 * Web Worker started on this module (see `startInWorker`), so the load
 * generator, the provider and the upstream do not share one JS thread.
 */
import { type Harness, startProvider } from "../tests/support/harness.ts";
import { Kinds } from "../sim/kinds.ts";

/** The function the benchmark invokes through `/function/<name>`. */
export const FUNCTION_NAME = "echo";

export interface Running {
  /** Base URL on 127.0.0.1. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 that answers every request with 200 and the request body. A request whose
 * client has gone (a load generator stopping mid-request) is answered quietly, not logged as an error.
 */
export const startEchoUpstream = (): Running => {
  const onError = () => new Response(null, { status: 500 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {}, onError }, async (req) => {
    const body = await req.arrayBuffer();
    return new Response(body, {
      status: 200,
      headers: { "Content-Type": req.headers.get("content-type") ?? "application/octet-stream" },
    });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
};

/**
 * A reference, not the provider: the thinnest pass-through proxy Deno allows
 * (Deno.serve handing the request's method, headers and body stream to fetch,
 * and fetch's response straight back), forwarding every path to the upstream.
 * What the machine and runtime cost for one extra HTTP hop, as a floor for the
 * provider's proxy.
 */
export const startBareProxy = (upstreamPort: number): Running => {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 1024, poolIdleTimeout: 5_000 });
  const onError = () => new Response(null, { status: 502 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {}, onError }, (req) => {
    const url = new URL(req.url);
    return fetch(`http://127.0.0.1:${upstreamPort}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
      client,
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: async () => {
      await server.shutdown();
      client.close();
    },
  };
};

const expectStatus = async (h: Harness, method: string, path: string, body: unknown, status: number) => {
  const res = await h.call(method, path, body);
  if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
};

/**
 * Starts the provider (simulator backend, real HTTP upstream) and routes
 * FUNCTION_NAME to 127.0.0.1:`upstreamPort`: the function is deployed, scaled
 * to zero simulated pods and given an EndpointSlice with the loopback address.
 */
export const startProxyProvider = async (upstreamPort: number): Promise<Running> => {
  const h = await startProvider({ sim: { upstream: "http" } });
  try {
    await expectStatus(h, "POST", "/system/functions", {
      service: FUNCTION_NAME,
      image: "functions/alpine:latest",
    }, 202);
    await expectStatus(h, "POST", `/system/scale-function/${FUNCTION_NAME}`, {
      serviceName: FUNCTION_NAME,
      replicas: 0,
    }, 202);
    h.cluster.store.create(Kinds.EndpointSlice, h.config.functionNamespace, {
      metadata: { name: `${FUNCTION_NAME}-bench`, labels: { "kubernetes.io/service-name": FUNCTION_NAME } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
      ports: [{ name: "http", port: upstreamPort, protocol: "TCP" }],
    });
    await h.advance(1);
    // One request through the proxy proves the route before anything is timed.
    const probe = await h.request("POST", `/function/${FUNCTION_NAME}`, "ping");
    const text = await probe.text();
    if (probe.status !== 200 || text !== "ping") {
      throw new Error(`proxy probe: ${probe.status} ${JSON.stringify(text.slice(0, 200))}`);
    }
  } catch (e) {
    await h.close();
    throw e;
  }
  return { url: h.url, close: () => h.close() };
};

type Role = { role: "upstream" } | { role: "provider" | "bare"; upstreamPort: number };
type Reply = { url: string } | { error: string } | { closed: true };

/** Runs a role in a Web Worker on this module; close() shuts it down and terminates the worker. */
export const startInWorker = (role: Role): Promise<Running> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(import.meta.url, { type: "module" });
    let closed: (() => void) | undefined;
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`${role.role} worker: ${e.message}`));
    };
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const m = e.data;
      if ("error" in m) {
        worker.terminate();
        reject(new Error(`${role.role} worker: ${m.error}`));
      } else if ("closed" in m) closed?.();
      else {
        resolve({
          url: m.url,
          close: () =>
            new Promise<void>((done) => {
              const timer = setTimeout(() => (closed?.(), undefined), 5_000);
              closed = () => {
                clearTimeout(timer);
                worker.terminate();
                done();
              };
              worker.postMessage("close");
            }),
        });
      }
    };
    worker.postMessage(role);
  });

// Worker side: `self` is a WorkerGlobalScope only when this module is a worker's entry point.
const scope = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  onmessage: ((e: MessageEvent<Role | "close">) => void) | null;
  postMessage(m: Reply): void;
};
if (scope.WorkerGlobalScope !== undefined) {
  // The provider logs through Effect's logger; the benchmark's output is the table.
  console.log = console.info = console.debug = () => {};
  let running: Running | undefined;
  scope.onmessage = async (e) => {
    const m = e.data;
    try {
      if (m === "close") {
        await running?.close();
        scope.postMessage({ closed: true });
      } else {
        running = m.role === "upstream"
          ? startEchoUpstream()
          : m.role === "bare"
          ? startBareProxy(m.upstreamPort)
          : await startProxyProvider(m.upstreamPort);
        scope.postMessage({ url: running.url });
      }
    } catch (err) {
      scope.postMessage({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  };
}
