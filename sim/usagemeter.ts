/**
 * CPU and memory usage of simulated pods, as cAdvisor measures it and
 * metrics-server reports it (`metrics.k8s.io/v1beta1` PodMetrics, served by
 * `sim/apiserver.ts`).
 *
 * CPU: each pod has a cumulative CPU counter (millicore-milliseconds since its
 * container started) integrated over a piecewise-constant rate: 1m when idle
 * plus the `cpuMillis` of every request in flight, capped at the container's
 * cpu limit. The counter is sampled on a grid (`sampleMs`, default 1 s) into a
 * small ring, and the usage reported is the exact average rate between the
 * grid sample at `now - windowMs` (rounded up to the grid) and now: the
 * reported window is in (windowMs - sampleMs, windowMs] (exactly `windowMs`
 * when now is on the grid), or the container's lifetime when it is younger.
 * As with metrics-server, `window` is the real interval the average covers.
 *
 * Memory: the working set is the image's base memory plus the `memoryBytes` of
 * every request in flight.
 *
 * Costs per image are in `sim/images/catalog.ts` (`imageCosts`, `defaultCosts`);
 * `sim/network.ts` calls `begin` when it hands a request to a pod's image and
 * the returned `end` when the image answers, fails or times out.
 *
 * Per request: O(1) amortised (each grid sample is written once); per pod: a
 * ring of `windowMs / sampleMs + 2` samples. Pods are tracked from their first
 * request or metrics read, and forgotten when deleted (`forget`, wired to the
 * store in `sim/cluster.ts`) or when a read finds them gone or not running.
 */
import type { KObj } from "./kinds.ts";
import { type ImageCatalog, imageCosts } from "./images/catalog.ts";
import { quantityValue } from "./controllers/quantity.ts";

/** What the meter needs to know about a running pod. */
export interface MeteredPod {
  /** Identifies one run of the container: a new value (restart, new pod) restarts the counter. */
  readonly id: string;
  /** When the container started (ms): the counter counts from here. */
  readonly startedAt: number;
  /** The container's cpu limit in millicores (Infinity: none). */
  readonly cpuLimitMillis: number;
  readonly baseMemoryBytes: number;
}

/** The pod's current container run, or undefined when the pod is gone or not running. */
export type PodLookup = (namespace: string, pod: string) => MeteredPod | undefined;

/** One pod's usage, averaged over `[timestamp - windowMs, timestamp]`. */
export interface PodUsageSample {
  readonly cpuNanoCores: number;
  readonly memoryBytes: number;
  readonly windowMs: number;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

export interface UsageMeterOptions {
  /** The window usage is averaged over (default 30 s, metrics-server's default). */
  readonly windowMs?: number;
  /** Grid of the counter samples (default windowMs / 30). */
  readonly sampleMs?: number;
  /** CPU an idle container uses, in millicores (default 1). */
  readonly idleMillis?: number;
}

/** The pod as the meter sees it from the store: a running first container, its limit and image. */
export const meteredPod = (pod: KObj | undefined, catalog: ImageCatalog): MeteredPod | undefined => {
  if (!pod || pod.status?.phase !== "Running") return undefined;
  const status = pod.status.containerStatuses?.[0];
  const running = status?.state?.running;
  if (!running) return undefined;
  const container = pod.spec?.containers?.[0];
  if (!container) return undefined;
  const started = Date.parse(running.startedAt ?? pod.status.startTime ?? "");
  const limitCores = quantityValue(container.resources?.limits?.cpu);
  const image = catalog.lookup(container.image);
  return {
    id: `${pod.metadata.uid}/${status.containerID ?? ""}/${status.restartCount ?? 0}`,
    startedAt: Number.isFinite(started) ? started : 0,
    cpuLimitMillis: limitCores > 0 ? limitCores * 1000 : Infinity,
    baseMemoryBytes: image ? imageCosts(image).baseMemoryBytes : 0,
  };
};

/** One pod's counter and in-flight sums. */
class PodCounter {
  /** millicore-ms since `startedAt`, up to `lastAt`. */
  cumulative = 0;
  lastAt: number;
  /** Sum of cpuMillis of requests in flight. */
  demand = 0;
  /** Sum of memoryBytes of requests in flight. */
  memory = 0;
  inFlight = 0;
  /** Ring of grid samples: [gridIndex, cumulative] pairs. */
  readonly ring: Float64Array;

  constructor(readonly pod: MeteredPod, slots: number) {
    this.lastAt = pod.startedAt;
    this.ring = new Float64Array(slots * 2).fill(-1);
  }
}

const noop = () => {};

export class UsageMeter {
  readonly windowMs: number;
  readonly sampleMs: number;
  readonly idleMillis: number;
  private readonly slots: number;
  /** namespace -> pod name -> counter (nested, so the hot path builds no key strings). */
  private readonly pods = new Map<string, Map<string, PodCounter>>();

  constructor(
    private readonly clock: { now(): number },
    private readonly lookup: PodLookup,
    options: UsageMeterOptions = {},
  ) {
    this.windowMs = Math.max(1, options.windowMs ?? 30_000);
    this.sampleMs = Math.min(this.windowMs, Math.max(1, options.sampleMs ?? this.windowMs / 30));
    this.idleMillis = options.idleMillis ?? 1;
    this.slots = Math.ceil(this.windowMs / this.sampleMs) + 2;
  }

  /**
   * A request starts in `pod`: until the returned (idempotent) `end` is called
   * it uses `cpuMillis` millicores and `memoryBytes` bytes. A pod that is not
   * running is not metered (`end` does nothing).
   */
  begin(namespace: string, pod: string, cpuMillis: number, memoryBytes: number): () => void {
    const c = this.counter(namespace, pod);
    if (!c) return noop;
    const now = this.clock.now();
    this.advance(c, now);
    c.demand += cpuMillis;
    c.memory += memoryBytes;
    c.inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.advance(c, this.clock.now());
      c.demand -= cpuMillis;
      c.memory -= memoryBytes;
      if (--c.inFlight === 0) {
        // No drift from floating-point sums once the pod is idle again.
        c.demand = 0;
        c.memory = 0;
      }
    };
  }

  /** The pod's usage now, or undefined when it is gone or not running. */
  podMetrics(namespace: string, pod: string): PodUsageSample | undefined {
    const current = this.lookup(namespace, pod);
    let c = this.pods.get(namespace)?.get(pod);
    if (!current) {
      if (c) this.forget(namespace, pod);
      return undefined;
    }
    if (c && c.pod.id !== current.id) {
      this.forget(namespace, pod);
      c = undefined;
    }
    c ??= this.track(namespace, pod, current);
    const now = this.clock.now();
    this.advance(c, now);
    const G = this.sampleMs;
    const target = now - this.windowMs;
    let baseAt = c.pod.startedAt, baseValue = 0;
    if (target > c.pod.startedAt) {
      // The oldest grid sample inside the window: written by `advance`, since
      // it lies after the start and at most `slots - 1` grid steps before now.
      const k = Math.ceil(target / G);
      const slot = (k % this.slots) * 2;
      if (c.ring[slot] === k) {
        baseAt = k * G;
        baseValue = c.ring[slot + 1];
      }
    }
    const windowMs = now - baseAt;
    const millis = windowMs > 0 ? (c.cumulative - baseValue) / windowMs : this.rate(c);
    return {
      cpuNanoCores: Math.max(0, Math.round(millis * 1e6)),
      memoryBytes: c.pod.baseMemoryBytes + Math.max(0, c.memory),
      windowMs,
      timestamp: now,
    };
  }

  /** The meter's clock (virtual time in the simulator). */
  now(): number {
    return this.clock.now();
  }

  /** Drops a pod's counter (it was deleted). Requests still in flight end harmlessly. */
  forget(namespace: string, pod: string): void {
    const byName = this.pods.get(namespace);
    if (!byName?.delete(pod)) return;
    if (byName.size === 0) this.pods.delete(namespace);
  }

  /** Requests in flight in a pod (0 when not tracked). */
  inFlight(namespace: string, pod: string): number {
    return this.pods.get(namespace)?.get(pod)?.inFlight ?? 0;
  }

  /** How many pods have a counter. */
  get size(): number {
    let n = 0;
    for (const byName of this.pods.values()) n += byName.size;
    return n;
  }

  private counter(namespace: string, pod: string): PodCounter | undefined {
    const c = this.pods.get(namespace)?.get(pod);
    if (c) return c;
    const current = this.lookup(namespace, pod);
    return current ? this.track(namespace, pod, current) : undefined;
  }

  private track(namespace: string, pod: string, current: MeteredPod): PodCounter {
    const c = new PodCounter(current, this.slots);
    let byName = this.pods.get(namespace);
    if (!byName) this.pods.set(namespace, byName = new Map());
    byName.set(pod, c);
    return c;
  }

  private rate(c: PodCounter): number {
    const r = this.idleMillis + c.demand;
    return r < c.pod.cpuLimitMillis ? r : c.pod.cpuLimitMillis;
  }

  /** Integrates the counter up to `now`, writing the grid samples passed on the way. */
  private advance(c: PodCounter, now: number): void {
    const from = c.lastAt;
    if (now <= from) return;
    const rate = this.rate(c);
    const G = this.sampleMs;
    const last = Math.floor(now / G);
    // Only the newest `slots` grid points can still be read.
    let k = Math.max(Math.floor(from / G) + 1, last - this.slots + 1);
    for (; k <= last; k++) {
      const slot = (k % this.slots) * 2;
      c.ring[slot] = k;
      c.ring[slot + 1] = c.cumulative + rate * (k * G - from);
    }
    c.cumulative += rate * (now - from);
    c.lastAt = now;
  }
}
