/**
 * One request to a simulated pod, the same whichever way it arrives: from the in-process network
 * (sim/network.ts, the provider's Upstream in a simulation) or through a real socket on the pod's
 * loopback IP (./listeners.ts). The pod's image answers with the pod's environment, mounted secrets
 * and log; the pod's CPU and memory use is metered while it does; time is the cluster's clock.
 */
import { UpstreamError } from "../../src/invoke/upstream.ts";
import type { ImageCatalog, SimImage } from "../images/catalog.ts";
import { imageCosts } from "../images/catalog.ts";
import { handle } from "../images/runtime.ts";
import { Kinds, type KObj } from "../kinds.ts";
import { containerContext, type PodHost } from "../pods.ts";
import type { UsageMeter } from "../usagemeter.ts";

/** What serving a pod's requests needs of the cluster. */
export interface PodRuntime extends PodHost {
  readonly catalog: ImageCatalog;
  readonly usage: UsageMeter;
}

/**
 * Whether the pod's container is up (the process has started, whether or not it is ready yet) on a
 * node that still exists: only then does anything answer on the pod's IP.
 */
export const podServes = (host: PodHost, pod: KObj): boolean =>
  pod.status?.phase === "Running" && pod.status?.containerStatuses?.[0]?.state?.running !== undefined &&
  (!pod.spec?.nodeName || host.store.peek(Kinds.Node, undefined, pod.spec.nodeName) !== undefined);

/** The pod's image, if it is one that listens at all ("crash" and "hang" images never serve). */
export const listeningImage = (catalog: ImageCatalog, pod: KObj): SimImage | undefined => {
  const image = catalog.lookup(pod.spec?.containers?.[0]?.image ?? "");
  return image && image.behaviour !== "crash" && image.behaviour !== "hang" ? image : undefined;
};

export interface ExchangeOptions {
  /** Added before the image sees the request, in cluster time (0 = none). */
  readonly latencyMs?: number;
  /** Cluster time the pod has to answer (absent: no limit, the client keeps its own). */
  readonly timeoutMs?: number;
}

const aborted = () => new UpstreamError({ reason: "aborted", message: "the client closed the request" });

/**
 * The pod's image answers `req` (its URL is `http://<podIP>:<port>/<path>?<query>`; its signal is the
 * client's departure, which the image sees too). Rejects with an UpstreamError: `aborted` when the
 * signal aborts first, `timeout` after `timeoutMs`, `unreachable` when the image does not serve.
 */
export const exchange = async (
  host: PodRuntime,
  pod: KObj,
  image: SimImage,
  req: Request,
  options: ExchangeOptions = {},
): Promise<Response> => {
  const ctx = containerContext(host, pod);
  const signal = req.signal;
  if (options.latencyMs) await ctx.sleep(options.latencyMs, signal);
  if (signal.aborted) throw aborted();
  let cancel = () => {};
  let onAbort = () => {};
  const timeoutOrAbort = new Promise<never>((_, reject) => {
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      cancel = host.clock.after(
        options.timeoutMs,
        () => reject(new UpstreamError({ reason: "timeout", message: "timeout" })),
      );
    }
    onAbort = () => reject(aborted());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  // The pod uses CPU and memory while its image handles the request (sim/usagemeter.ts).
  const costs = imageCosts(image);
  const end = host.usage.begin(
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
    signal.removeEventListener("abort", onAbort);
    end();
  }
};
