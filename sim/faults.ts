/**
 * Seeded fault injection for the simulated API server: per-verb error rates
 * (500, 503, 429 with Retry-After, 409 Conflict on writes), added latency
 * (HTTP facade), dropped watches (the stream ends early) and expiring
 * resourceVersions (the store's watch history is compacted, so a resume gets
 * 410 Expired). The same seed and the same sequence of requests give the same
 * faults.
 *
 * Install on a cluster with `installFaults(cluster.api, faults)`: it sets
 * `SimApiServer.interceptor` and wraps `watch` so both the in-process
 * SimTransport and the HTTP facade (`sim/serve.ts`) see the faults.
 */
import { seededRandom } from "./clock.ts";
import type { ParsedPath, SimApiServer, WatchSink } from "./apiserver.ts";
import { type ApiRequest, truthy } from "./apiserver.ts";
import { ApiError, conflict } from "./apierror.ts";
import { reasonForCode } from "../src/kube/api.ts";

export type FaultVerb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";
const faultVerbs: readonly FaultVerb[] = [
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "delete",
];

/** Error statuses the injector can produce. 409 applies only to update and patch. */
export type FaultStatus = 500 | 503 | 429 | 409;
const faultStatuses: readonly FaultStatus[] = [500, 503, 429, 409];

export interface FaultConfig {
  /** Seed of the fault generator (independent from the cluster's). Default 1. */
  readonly seed?: number;
  /** Probability in [0, 1] that a request fails, for every verb (overridden per verb by `verbRates`). */
  readonly rate?: number;
  /** Per-verb failure probabilities. */
  readonly verbRates?: Partial<Record<FaultVerb, number>>;
  /** The statuses a failure is drawn from (uniformly; 409 only for update/patch). Default all four. */
  readonly statuses?: readonly FaultStatus[];
  /** `Retry-After` seconds sent with 429 (and 503). Default 1. */
  readonly retryAfterSeconds?: number;
  /** Added latency in milliseconds, `[min, max]` (uniform) or a fixed number. HTTP facade only. */
  readonly latencyMs?: number | readonly [number, number];
  /** Probability that a watch is dropped early. */
  readonly watchDropRate?: number;
  /** A dropped watch ends after a number of events drawn from `[min, max]`. Default [0, 5]. */
  readonly watchDropAfterEvents?: readonly [number, number];
  /** Probability, per request, that the store's watch history is compacted first. */
  readonly compactRate?: number;
  /** Paths that never fail (prefix match), e.g. discovery. Default: none. */
  readonly exemptPaths?: readonly string[];
}

/** One injected fault, as recorded in `Faults.log`. */
export interface FaultRecord {
  readonly seq: number;
  readonly verb: FaultVerb;
  readonly path: string;
  readonly fault: "error" | "drop" | "compact" | "latency";
  readonly status?: number;
  readonly value?: number;
}

export const verbOf = (req: ApiRequest, parsed: ParsedPath | undefined): FaultVerb | undefined => {
  switch (req.method) {
    case "WATCH":
      return "watch";
    case "GET":
      return truthy(req.query?.watch) ? "watch" : parsed?.name ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return "delete";
    default:
      return undefined;
  }
};

/** The fault generator: pure decisions from a seeded PRNG, plus a record of what it did. */
export class Faults {
  private readonly random: () => number;
  private seq = 0;
  readonly log: FaultRecord[] = [];
  /** Turn injection off and on without uninstalling. */
  enabled = true;

  constructor(readonly config: FaultConfig = {}) {
    this.random = seededRandom(config.seed ?? 1);
  }

  private exempt(path: string): boolean {
    return (this.config.exemptPaths ?? []).some((p) => path.startsWith(p));
  }

  private rateFor(verb: FaultVerb): number {
    return this.config.verbRates?.[verb] ?? this.config.rate ?? 0;
  }

  /**
   * The interceptor's decision: an ApiError to answer instead of the request,
   * or undefined. Draws a fixed number of random numbers per request, so the
   * sequence replays from the seed.
   */
  decide(req: ApiRequest, parsed: ParsedPath | undefined, store?: { compact(): void }): ApiError | undefined {
    const verb = verbOf(req, parsed);
    const seq = ++this.seq;
    const roll = this.random();
    const pick = this.random();
    const compactRoll = this.random();
    if (!this.enabled || !verb || this.exempt(req.path)) return undefined;
    if (store && (this.config.compactRate ?? 0) > compactRoll) {
      store.compact();
      this.log.push({ seq, verb, path: req.path, fault: "compact" });
    }
    if (roll >= this.rateFor(verb)) return undefined;
    const allowed = (this.config.statuses ?? faultStatuses).filter((s) =>
      s !== 409 || verb === "update" || verb === "patch"
    );
    if (allowed.length === 0) return undefined;
    const status = allowed[Math.min(allowed.length - 1, Math.floor(pick * allowed.length))];
    this.log.push({ seq, verb, path: req.path, fault: "error", status });
    return this.error(status, parsed);
  }

  private error(status: FaultStatus, parsed: ParsedPath | undefined): ApiError {
    const retry = this.config.retryAfterSeconds ?? 1;
    switch (status) {
      case 429:
        return ApiError.of(
          429,
          reasonForCode(429),
          "the server has received too many requests and has asked us to try again later (injected fault)",
          retry,
        );
      case 503:
        return ApiError.of(
          503,
          reasonForCode(503),
          "the server is currently unable to handle the request (injected fault)",
          retry,
        );
      case 409:
        return conflict(parsed?.kind, parsed?.name ?? "", " (injected fault)");
      default:
        return ApiError.of(
          500,
          reasonForCode(500),
          "Internal error occurred: etcdserver: request timed out (injected fault)",
        );
    }
  }

  /** Added latency for a request, in milliseconds (0 when none is configured). */
  latency(path = ""): number {
    const l = this.config.latencyMs;
    if (l === undefined || !this.enabled) return 0;
    const [min, max] = typeof l === "number" ? [l, l] : l;
    const ms = Math.round(min + this.random() * Math.max(0, max - min));
    if (ms > 0) this.log.push({ seq: this.seq, verb: "get", path, fault: "latency", value: ms });
    return ms;
  }

  /** For a new watch: after how many events it is dropped, or undefined to keep it. */
  watchDrop(path: string): number | undefined {
    const roll = this.random();
    const pick = this.random();
    if (!this.enabled || this.exempt(path) || roll >= (this.config.watchDropRate ?? 0)) return undefined;
    const [min, max] = this.config.watchDropAfterEvents ?? [0, 5];
    const after = min + Math.floor(pick * (Math.max(min, max) - min + 1));
    this.log.push({ seq: this.seq, verb: "watch", path, fault: "drop", value: after });
    return after;
  }
}

/**
 * Installs faults on an API server: the request interceptor and a wrapped
 * `watch` that drops streams early. Returns a function that removes both.
 */
export const installFaults = (api: SimApiServer, faults: Faults): () => void => {
  const previous = api.interceptor;
  api.interceptor = (req, parsed) => faults.decide(req, parsed, api.store);
  const original = api.watch;
  const wrapped: SimApiServer["watch"] = function (this: SimApiServer, path, query, sink) {
    const dropAfter = faults.watchDrop(path);
    if (dropAfter === undefined) return original.call(this, path, query, sink);
    let seen = 0;
    let done = false;
    let cancel: (() => void) | undefined = undefined;
    let dropPending = false;
    const drop = () => {
      if (done) return;
      done = true;
      cancel?.();
      sink.close();
    };
    const guarded: WatchSink = {
      event: (type, object) => {
        if (done || seen >= dropAfter) return;
        sink.event(type, object);
        if (++seen >= dropAfter) {
          if (cancel) drop();
          else dropPending = true;
        }
      },
      close: () => drop(),
    };
    cancel = original.call(this, path, query, guarded);
    if (dropPending || dropAfter === 0) queueMicrotask(drop);
    return () => {
      done = true;
      cancel?.();
    };
  };
  api.watch = wrapped;
  return () => {
    api.interceptor = previous;
    if (api.watch === wrapped) delete (api as { watch?: unknown }).watch;
  };
};

const parseRate = (text: string, what: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new Error(`${what}: expected a probability in [0, 1], got "${text}"`);
  }
  return n;
};

const parseRange = (text: string, what: string): [number, number] => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`${what}: expected N or MIN-MAX, got "${text}"`);
  const min = Number(m[1]);
  const max = m[2] !== undefined ? Number(m[2]) : min;
  if (max < min) throw new Error(`${what}: MIN must not exceed MAX in "${text}"`);
  return [min, max];
};

/**
 * Builds a FaultConfig from command-line style settings:
 * - `rate`: `0.05` (every verb) or `get=0.1,update=0.3` (per verb; `*=` for the rest)
 * - `statuses`: `500,503,429,409`
 * - `latency`: `50` or `10-200` (ms)
 * - `watchDrop`: `0.2` or `0.2:0-10` (rate, then events before the drop)
 * - `compact`: `0.01` (probability per request)
 * - `retryAfter`: seconds
 */
export const parseFaultFlags = (flags: {
  seed?: string | number;
  rate?: string;
  statuses?: string;
  latency?: string;
  watchDrop?: string;
  compact?: string;
  retryAfter?: string;
}): FaultConfig => {
  const config: {
    -readonly [K in keyof FaultConfig]: FaultConfig[K];
  } = {};
  if (flags.seed !== undefined) config.seed = Number(flags.seed);
  if (flags.rate) {
    if (flags.rate.includes("=")) {
      const verbRates: Partial<Record<FaultVerb, number>> = {};
      for (const part of flags.rate.split(",")) {
        const [verb, value] = part.split("=").map((s) => s.trim());
        if (verb === "*") config.rate = parseRate(value, "--fault-rate");
        else if ((faultVerbs as readonly string[]).includes(verb)) {
          verbRates[verb as FaultVerb] = parseRate(value, `--fault-rate ${verb}`);
        } else throw new Error(`--fault-rate: unknown verb "${verb}" (one of ${faultVerbs.join(", ")}, *)`);
      }
      config.verbRates = verbRates;
    } else config.rate = parseRate(flags.rate, "--fault-rate");
  }
  if (flags.statuses) {
    config.statuses = flags.statuses.split(",").map((s) => {
      const n = Number(s.trim());
      if (!(faultStatuses as readonly number[]).includes(n)) {
        throw new Error(`--fault-status: ${s} is not one of ${faultStatuses.join(", ")}`);
      }
      return n as FaultStatus;
    });
  }
  if (flags.latency) config.latencyMs = parseRange(flags.latency, "--fault-latency");
  if (flags.watchDrop) {
    const [rate, range] = flags.watchDrop.split(":");
    config.watchDropRate = parseRate(rate, "--fault-watch-drop");
    if (range) config.watchDropAfterEvents = parseRange(range, "--fault-watch-drop");
  }
  if (flags.compact) config.compactRate = parseRate(flags.compact, "--fault-compact");
  if (flags.retryAfter) config.retryAfterSeconds = parseRange(flags.retryAfter, "--fault-retry-after")[0];
  return config;
};
