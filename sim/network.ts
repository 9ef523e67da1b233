/**
 * The simulated pod network: the invoke proxy's Upstream for the simulator. A
 * request to a pod IP is handed straight to the simulated container (its image's
 * behaviour), with the pod's environment, its mounted secrets as files, its log,
 * and virtual time for latency and timeouts.
 */
import { Effect, Layer } from "effect";
import { type Endpoint, type ForwardRequest, Upstream, UpstreamError } from "../src/invoke/upstream.ts";
import { SimCluster, type SimClusterShape } from "./cluster.ts";
import { Kinds, type KObj } from "./kinds.ts";
import { handle } from "./images/runtime.ts";
import { containerContext } from "./pods.ts";
import { imageCosts, type SimImage } from "./images/catalog.ts";

export interface NetworkOptions {
  /** Added to every request, in virtual time (0 = none). */
  readonly latencyMs?: number;
}

const isRunning = (pod: KObj) =>
  pod.status?.phase === "Running" && pod.status?.containerStatuses?.[0]?.state?.running !== undefined;

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
      if (!pod || !isRunning(pod)) {
        throw new UpstreamError({
          reason: "unreachable",
          message: `dial tcp ${endpoint.ip}:${endpoint.port}: connect: connection refused`,
        });
      }
      const image: SimImage | undefined = cluster.catalog.lookup(pod.spec.containers[0].image);
      if (!image) {
        throw new UpstreamError({
          reason: "unreachable",
          message: `no process listening on ${endpoint.ip}:${endpoint.port}`,
        });
      }
      const ctx = containerContext(cluster, pod);
      const signal = forwarded.signal;
      // The image sees the client's departure as its request's signal (sim/images/sleep.ts stops sleeping).
      const req = new Request(forwarded.url, {
        method: forwarded.method,
        headers: forwarded.headers,
        body: forwarded.body,
        signal,
        // deno-lint-ignore no-explicit-any
        ...({ duplex: "half" } as any),
      });
      if (options.latencyMs) await ctx.sleep(options.latencyMs, signal);
      const aborted = () =>
        new UpstreamError({ reason: "aborted", message: "the client closed the request" });
      if (signal?.aborted) throw aborted();
      let cancel = () => {};
      let onAbort = () => {};
      const timeoutOrAbort = new Promise<never>((_, reject) => {
        cancel = cluster.clock.after(
          timeoutMs,
          () => reject(new UpstreamError({ reason: "timeout", message: "timeout" })),
        );
        onAbort = () => reject(aborted());
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      // The pod uses CPU and memory while its image handles the request (sim/usagemeter.ts).
      const costs = imageCosts(image);
      const end = cluster.usage.begin(
        ctx.namespace,
        ctx.podName,
        costs.cpuMillisPerRequest,
        costs.memoryBytesPerRequest,
      );
      try {
        return await Promise.race([handle(image, ctx, req), timeoutOrAbort]);
      } catch (e) {
        if (e instanceof UpstreamError) throw e;
        throw new UpstreamError({ reason: "unreachable", message: (e as Error).message });
      } finally {
        cancel();
        signal?.removeEventListener("abort", onAbort);
        end();
      }
    },
  });
};

export const SimNetwork = (options: NetworkOptions = {}): Layer.Layer<Upstream, never, SimCluster> =>
  Layer.effect(Upstream, Effect.map(Effect.service(SimCluster), (cluster) => simUpstream(cluster, options)));
