/**
 * The simulated pod network: the invoke proxy's Upstream for the simulator. A
 * request to a pod IP is handed straight to the simulated container (its image's
 * behaviour, ./podnet/exchange.ts), with the pod's environment, its mounted secrets
 * as files, its log, and virtual time for latency and timeouts. Pods that also
 * listen on real sockets (./podnet/listeners.ts) answer there the same way.
 */
import { Effect, Layer } from "effect";
import { type Endpoint, type ForwardRequest, Upstream, UpstreamError } from "../src/invoke/upstream.ts";
import { SimCluster, type SimClusterShape } from "./cluster.ts";
import { Kinds, type KObj } from "./kinds.ts";
import { exchange, podServes } from "./podnet/exchange.ts";

export interface NetworkOptions {
  /** Added to every request, in virtual time (0 = none). */
  readonly latencyMs?: number;
}

const simUpstream = (cluster: SimClusterShape, options: NetworkOptions = {}) => {
  const byIp = new Map<string, string>();
  const findPod = (ip: string): KObj | undefined => {
    const known = byIp.get(ip);
    if (known) {
      const [ns, name] = known.split("/");
      const pod = cluster.store.peek(Kinds.Pod, ns, name);
      if (pod?.status?.podIP === ip) return pod;
    }
    for (const pod of cluster.store.scan(Kinds.Pod)) {
      if (pod.status?.podIP === ip) {
        byIp.set(ip, `${pod.metadata.namespace}/${pod.metadata.name}`);
        return pod;
      }
    }
    return undefined;
  };
  return Upstream.of({
    fetch: async (endpoint: Endpoint, forwarded: ForwardRequest, timeoutMs: number) => {
      const pod = findPod(endpoint.ip);
      if (!pod || !podServes(cluster, pod)) {
        throw new UpstreamError({
          reason: "unreachable",
          message: `dial tcp ${endpoint.ip}:${endpoint.port}: connect: connection refused`,
        });
      }
      if (cluster.kubelet.isNodeDown(pod.spec.nodeName)) {
        // The node failed (sim/disruptions): nothing answers there.
        throw new UpstreamError({
          reason: "unreachable",
          message: `dial tcp ${endpoint.ip}:${endpoint.port}: connect: no route to host`,
        });
      }
      const image = cluster.catalog.lookup(pod.spec.containers[0].image);
      if (!image) {
        throw new UpstreamError({
          reason: "unreachable",
          message: `no process listening on ${endpoint.ip}:${endpoint.port}`,
        });
      }
      // The image sees the client's departure as its request's signal (sim/images/sleep.ts stops sleeping).
      const req = new Request(forwarded.url, {
        method: forwarded.method,
        headers: forwarded.headers,
        body: forwarded.body,
        signal: forwarded.signal,
        // deno-lint-ignore no-explicit-any
        ...({ duplex: "half" } as any),
      });
      return await exchange(cluster, pod, image, req, { latencyMs: options.latencyMs, timeoutMs });
    },
  });
};

export const SimNetwork = (options: NetworkOptions = {}): Layer.Layer<Upstream, never, SimCluster> =>
  Layer.effect(Upstream, Effect.map(Effect.service(SimCluster), (cluster) => simUpstream(cluster, options)));
