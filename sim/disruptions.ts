/**
 * Cluster-level faults for chaos runs, on a SimCluster, driven only by explicit calls and the
 * cluster's Clock (no wall clock, no randomness here: the caller draws the schedule from its seed),
 * so the same calls at the same virtual times give the same cluster. Every fault is idempotent and
 * reversible where that makes sense:
 *
 * - `restartApiServer`: every open watch and followed log ends (in process and over HTTP), the watch history is
 *   compacted so resuming from an older resourceVersion gets 410 Expired and clients relist;
 *   optionally the API answers 503 (Retry-After 1) for a while.
 * - `failNode` / `recoverNode`: ./disruptions/nodes.ts (NotReady, taints, pods unready, eviction
 *   after their toleration, replacements elsewhere; the node's pods unreachable).
 * - `restartKubelet`: the node's running containers are restarted (restartCount rises).
 * - `registryOutage`: pulls fail (ErrImagePull, ImagePullBackOff) until it ends; images already on a
 *   node keep starting unless their pull policy is Always.
 * - `crashPod`: a container exits non-zero and is restarted with CrashLoopBackOff back-off.
 * - `slowPods`: requests to matching pods take longer (virtual time), through `upstream`.
 * - Partitions of one provider (./disruptions/partition.ts): `Partition` switches, with
 *   `partitionKubeApi` for its API server client (SimBackendOptions.wrapKubeApi) and `upstream` for
 *   its pod network (SimBackendOptions.wrapUpstream).
 */
import { matches, parseSelector, type Selector } from "../src/domain/selectors.ts";
import type { Endpoint, ForwardRequest } from "../src/invoke/upstream.ts";
import { UpstreamError } from "../src/invoke/upstream.ts";
import { ApiError } from "./apierror.ts";
import type { SimClusterShape } from "./cluster.ts";
import { Kinds, type KObj } from "./kinds.ts";
import { NodeFailures } from "./disruptions/nodes.ts";
import { clockSleep, cutFetch, Partition, type UpstreamLike } from "./disruptions/partition.ts";

export {
  apiTimeoutMs,
  Partition,
  partitionKubeApi,
  type PartitionMode,
  type PartitionOptions,
  type UpstreamLike,
} from "./disruptions/partition.ts";
export { NodeFailures, tolerationMs, unreachableTaintKey } from "./disruptions/nodes.ts";

export interface ApiRestartOptions {
  /** How long the API answers 503 (Retry-After 1) after the restart, in ms of Clock time (default 0). */
  readonly unavailableMs?: number;
}

/** Which pods a fault applies to: a label selector (`faas_function=env`) or a predicate. */
export type PodSelector = string | ((pod: KObj) => boolean);

const podMatcher = (selector: PodSelector): (pod: KObj) => boolean => {
  if (typeof selector === "function") return selector;
  const parsed: Selector | string = parseSelector(selector);
  if (typeof parsed === "string") throw new Error(`slowPods: ${parsed}`);
  return (pod) => matches(parsed, pod.metadata.labels ?? {});
};

const instances = new WeakMap<SimClusterShape, Disruptions>();

export class Disruptions {
  /** The one Disruptions of `cluster` (what every provider's wrapped network and the runner share). */
  static of(cluster: SimClusterShape): Disruptions {
    let d = instances.get(cluster);
    if (!d) instances.set(cluster, d = new Disruptions(cluster));
    return d;
  }

  readonly nodes: NodeFailures;
  private apiBackAt = 0;
  private cancelApiBack: (() => void) | undefined;
  /** Registry outages by image prefix ("" is every image). */
  private readonly outages = new Set<string>();
  private readonly slow: { readonly match: (pod: KObj) => boolean; readonly ms: number }[] = [];

  private constructor(readonly cluster: SimClusterShape) {
    this.nodes = new NodeFailures(cluster);
  }

  /**
   * The API server restarts: every open watch ends, the watch history is compacted (a resume from
   * before now gets 410 Expired), and, with `unavailableMs`, requests and new watches get 503 until
   * that much Clock time has passed (a later restart extends it). Returns how many watches ended.
   */
  restartApiServer(options: ApiRestartOptions = {}): number {
    const { api, store, clock } = this.cluster;
    const ms = Math.max(0, options.unavailableMs ?? 0);
    if (ms > 0) {
      api.unavailable = ApiError.of(
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request (the API server is restarting)",
        1,
      );
      const backAt = clock.now() + ms;
      if (backAt > this.apiBackAt) {
        this.apiBackAt = backAt;
        this.cancelApiBack?.();
        this.cancelApiBack = clock.after(ms, () => this.apiServerBack());
      }
    }
    // Compacted first: a client may resume as soon as its watch ends (synchronously, in process).
    store.compact();
    // Its connections drop: followed pod logs end as well as watches.
    api.closeLogStreams();
    return api.closeWatches();
  }

  /** Ends an API server outage now (idempotent). */
  apiServerBack(): void {
    this.cancelApiBack?.();
    this.cancelApiBack = undefined;
    this.apiBackAt = 0;
    this.cluster.api.unavailable = undefined;
  }

  get apiServerUp(): boolean {
    return this.cluster.api.unavailable === undefined;
  }

  /** ./disruptions/nodes.ts NodeFailures.fail. */
  failNode(name: string): void {
    this.nodes.fail(name);
  }

  /** ./disruptions/nodes.ts NodeFailures.recover. */
  recoverNode(name: string): void {
    this.nodes.recover(name);
  }

  /**
   * The node's kubelet and container runtime restart: every running container there is started again
   * (restartCount + 1, unready until its readiness probe passes). Returns how many were restarted
   * (none on a failed node).
   */
  restartKubelet(node: string): number {
    if (!this.cluster.store.peek(Kinds.Node, undefined, node)) {
      throw new Error(`restartKubelet: no node ${node}`);
    }
    return this.cluster.kubelet.restartContainers(node);
  }

  /**
   * Starts (`on`) or ends an outage of the image registry: of every image, or of the images whose
   * reference (as written, or as the catalog normalises it) starts with `prefix`. Ending it without a
   * prefix ends every outage.
   */
  registryOutage(on: boolean, prefix = ""): void {
    if (on) this.outages.add(prefix);
    else if (prefix === "") this.outages.clear();
    else this.outages.delete(prefix);
    const outages = [...this.outages];
    const catalog = this.cluster.catalog;
    this.cluster.kubelet.setRegistryOutage(
      outages.length === 0 ? undefined : (image) => {
        const repository = catalog.lookup(image)?.repository;
        return outages.some((p) => image.startsWith(p) || (repository?.startsWith(p) ?? false));
      },
    );
  }

  /** The pod's container exits with `exitCode` and restarts after back-off; false when not running. */
  crashPod(namespace: string, name: string, exitCode = 1): boolean {
    return this.cluster.kubelet.crash(namespace, name, exitCode);
  }

  /**
   * Requests to the pods `selector` matches take `extraLatencyMs` longer (Clock time; the largest of the
   * rules that match), through `upstream`. Returns a function that removes this rule.
   */
  slowPods(selector: PodSelector, extraLatencyMs: number): () => void {
    const rule = { match: podMatcher(selector), ms: Math.max(0, extraLatencyMs) };
    this.slow.push(rule);
    return () => {
      const i = this.slow.indexOf(rule);
      if (i >= 0) this.slow.splice(i, 1);
    };
  }

  clearSlowPods(): void {
    this.slow.length = 0;
  }

  private podAt(ip: string): KObj | undefined {
    for (const pod of this.cluster.store.scan(Kinds.Pod)) if (pod.status?.podIP === ip) return pod;
    return undefined;
  }

  /** Extra latency for a request to `ip` (0 when no rule matches). */
  extraLatencyMs(ip: string): number {
    if (this.slow.length === 0) return 0;
    const pod = this.podAt(ip);
    if (!pod) return 0;
    return this.slow.reduce((ms, rule) => (rule.match(pod) ? Math.max(ms, rule.ms) : ms), 0);
  }

  /**
   * One provider's pod network: `inner` (the SimNetwork) with slow pods, and cut off by `link` while
   * it is partitioned.
   */
  upstream(inner: UpstreamLike, link?: Partition): UpstreamLike {
    const clock = this.cluster.clock;
    return {
      ...(inner.webSocket ? { webSocket: inner.webSocket } : {}),
      fetch: async (endpoint: Endpoint, req: ForwardRequest, timeoutMs: number) => {
        if (link) await cutFetch(link, clock, endpoint, req, timeoutMs);
        const extra = this.extraLatencyMs(endpoint.ip);
        if (extra <= 0) return inner.fetch(endpoint, req, timeoutMs);
        if (extra >= timeoutMs) {
          await clockSleep(clock, timeoutMs, req.signal);
          throw new UpstreamError({
            reason: "timeout",
            message: `no answer from ${endpoint.ip}:${endpoint.port} within ${timeoutMs} ms`,
          });
        }
        await clockSleep(clock, extra, req.signal);
        return inner.fetch(endpoint, req, timeoutMs - extra);
      },
    };
  }
}
