/**
 * Network partitions of one provider: from the API server (its KubeApi client) and from the pods (its
 * invoke Upstream). A `Partition` is a switch the chaos runner flips at chosen virtual times; the
 * wrappers make a cut link fail as a real client sees a dead one: requests fail with the transport
 * error the HTTP transport raises (KubeError Transport "Connection", or "Timeout" after the client's
 * deadline), open watches and log streams end with that error, and connections to pods are refused
 * or time out (UpstreamError "unreachable" / "timeout").
 */
import { Deferred, Effect, Stream } from "effect";
import { type KubeApiShape, KubeError } from "../../src/kube/api.ts";
import { type Endpoint, type ForwardRequest, UpstreamError } from "../../src/invoke/upstream.ts";
import type { SimClock } from "../clock.ts";

/** How a cut link fails: at once (connection refused), or after the caller's deadline (packets dropped). */
export type PartitionMode = "refused" | "timeout";

export interface PartitionOptions {
  /** Default "refused". */
  readonly mode?: PartitionMode;
  /** For a pod link: the pod IPs cut off (default: every pod). Ignored for an API server link. */
  readonly ips?: (ip: string) => boolean;
}

/** One link (a provider to the API server, or to the pods), cut and healed by explicit calls. */
export class Partition {
  private cut: { readonly mode: PartitionMode; readonly ips?: (ip: string) => boolean } | undefined;
  /** Completed when the link is cut: what was open while it was up ends then. */
  private cutSignal = Deferred.makeUnsafe<void>();

  /** Cuts the link (again, with new options, if it was already cut). */
  partition(options: PartitionOptions = {}): void {
    this.cut = { mode: options.mode ?? "refused", ips: options.ips };
    Deferred.doneUnsafe(this.cutSignal, Effect.void);
  }

  /** Heals the link; idempotent. */
  heal(): void {
    if (!this.cut) return;
    this.cut = undefined;
    this.cutSignal = Deferred.makeUnsafe<void>();
  }

  get partitioned(): boolean {
    return this.cut !== undefined;
  }

  /** How a call to `ip` (or to the API server, no ip) fails now; undefined when the link is up. */
  modeFor(ip?: string): PartitionMode | undefined {
    if (!this.cut) return undefined;
    if (ip !== undefined && this.cut.ips && !this.cut.ips(ip)) return undefined;
    return this.cut.mode;
  }

  /** Completes when the link is next cut (at once if it is cut now). */
  get whenCut(): Effect.Effect<void> {
    return Deferred.await(this.cutSignal);
  }
}

/** The HTTP transport's default request deadline, after which a call over a dead link fails. */
export const apiTimeoutMs = 30_000;

const refused = (method: string, path: string) =>
  KubeError.transport(
    "Connection",
    `${method} ${path}: cannot reach the API server: dial tcp 10.96.0.1:443: connect: connection refused`,
  );

const timedOut = (method: string, path: string, ms: number) =>
  KubeError.transport("Timeout", `${method} ${path}: no answer from the API server within ${ms / 1000}s`);

/**
 * A KubeApi client behind `link`: while it is cut, requests fail as over a dead connection (at once
 * when refused; after `timeoutMs` of Clock time when timing out) and new streams fail at once; a
 * stream open when the link is cut ends with the connection error.
 */
export const partitionKubeApi = (
  inner: KubeApiShape,
  link: Partition,
  timeoutMs = apiTimeoutMs,
): KubeApiShape => {
  const gate = (method: string, path: string): Effect.Effect<void, KubeError> =>
    Effect.suspend(() => {
      const mode = link.modeFor();
      if (mode === undefined) return Effect.void;
      return mode === "refused"
        ? Effect.fail(refused(method, path))
        : Effect.sleep(timeoutMs).pipe(Effect.andThen(Effect.fail(timedOut(method, path, timeoutMs))));
    });
  const stream = <A>(path: string, open: () => Stream.Stream<A, KubeError>): Stream.Stream<A, KubeError> =>
    Stream.unwrap(Effect.suspend(() => {
      if (link.modeFor() !== undefined) return Effect.fail(refused("GET", path));
      const ends = link.whenCut.pipe(Effect.andThen(Effect.fail(refused("GET", path))));
      return Effect.succeed(open().pipe(Stream.interruptWhen(ends)));
    }));
  return {
    request: <T>(req: Parameters<KubeApiShape["request"]>[0]) =>
      gate(req.method, req.path).pipe(Effect.andThen(inner.request<T>(req))),
    watch: <T>(path: string, query?: Readonly<Record<string, string | undefined>>) =>
      stream(path, () => inner.watch<T>(path, query)),
    lines: (path, query) => stream(path, () => inner.lines(path, query)),
  };
};

/** The pod link of one provider: fetches are refused or time out while `link` is cut for the pod's IP. */
export interface UpstreamLike {
  fetch(endpoint: Endpoint, req: ForwardRequest, timeoutMs: number): Promise<Response>;
  readonly webSocket?: (url: string, protocols: string[]) => WebSocket;
}

/** Waits `ms` of the cluster's Clock time; rejects with `aborted` when `signal` aborts first. */
export const clockSleep = (clock: SimClock, ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted());
    const onAbort = () => {
      cancel();
      reject(aborted());
    };
    const cancel = clock.after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });

const aborted = () => new UpstreamError({ reason: "aborted", message: "the client went away" });

/** Fails a fetch to `endpoint` the way a cut link does (refused at once, or a timeout), if it is cut. */
export const cutFetch = async (
  link: Partition,
  clock: SimClock,
  endpoint: Endpoint,
  req: ForwardRequest,
  timeoutMs: number,
): Promise<void> => {
  const mode = link.modeFor(endpoint.ip);
  if (mode === undefined) return;
  if (mode === "refused") {
    throw new UpstreamError({
      reason: "unreachable",
      message: `dial tcp ${endpoint.ip}:${endpoint.port}: connect: connection refused`,
    });
  }
  await clockSleep(clock, timeoutMs, req.signal);
  throw new UpstreamError({
    reason: "timeout",
    message: `dial tcp ${endpoint.ip}:${endpoint.port}: i/o timeout`,
  });
};
