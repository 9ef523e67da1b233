/**
 * History that survives a restart or a failover: what the predictor knows of each function's invocations
 * (its idle-time histogram, src/metrics/idlehistogram.ts, and the last start and end) is kept in one
 * ConfigMap per function, `faas-deno-history-<function>` in the function's namespace:
 *  - owned by the function's Deployment (an ownerReference, not a controller and not blocking its
 *    deletion), so the garbage collector removes it with the function; a record whose owner UID is not
 *    the current Deployment's (a function deleted and deployed again before the collector ran) is ignored;
 *  - bounded: at most 240 buckets (1-minute bins over 4 hours) and one out-of-range count, each capped at
 *    9 digits, so the record (`data.history`, JSON) is under `maxRecordBytes` = 4 KiB;
 *  - written by the leader only, at most once per write interval per function (setting
 *    `history_write_interval`, default 2 min) and only when it changed; a create, or an update of the
 *    object last read (its resourceVersion), re-read and re-applied on a conflict;
 *  - loaded by a new leader before its first decision (the scaler waits for it): a missing record is
 *    skipped, a corrupt one logged and ignored (and overwritten by the next write).
 * A restart or a failover thus loses at most one write interval of history. Only functions the predictor
 * runs for (com.openfaas.scale.zero and com.openfaas.scale.predictive, with predictive_scaling on) are
 * persisted: the idler and the reactive autoscaler look back no more than a few minutes.
 */
import { Clock, Context, Effect, Layer, Option, Schedule } from "effect";
import { Leadership } from "./leader.ts";
import type { ConfigMap } from "kubernetes-types/core/v1.d.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { isAlreadyExists, isConflict, isNotFound, KubeApi, KubeError } from "../kube/api.ts";
import { Invocations, type PersistedLoad } from "../metrics/invocations.ts";
import { bins as maxBins, maxPersistedCount } from "../metrics/idlehistogram.ts";
import { metrics } from "../metrics/registry.ts";

/** The bound on a record's `data.history` in bytes (240 buckets of at most 16 bytes, and a header). */
export const maxRecordBytes = 4096;
export const historyKey = "history";
export const historyName = (fn: string) => `faas-deno-history-${fn}`;
/** Labels of every history record (for kubectl; the provider itself only gets records by name). */
export const historyLabels = { "app.kubernetes.io/managed-by": "faas-deno", "faas-deno/history": "true" };

/** A record as stored (version 1). */
export interface HistoryRecord extends PersistedLoad {
  readonly v: 1;
  readonly function: string;
  /** When it was written (ms since the epoch, the leader's clock). */
  readonly savedAt: number;
}

const isCount = (n: unknown): n is number =>
  typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= maxPersistedCount;
const isTime = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;

/** Parses a record; a string says why it is corrupt. */
export const parseRecord = (text: string | undefined, fn: string): HistoryRecord | string => {
  if (text === undefined) return `no data.${historyKey}`;
  if (text.length > maxRecordBytes) return `${text.length} bytes, over the ${maxRecordBytes}-byte bound`;
  let r;
  try {
    r = JSON.parse(text);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (typeof r !== "object" || r === null || r.v !== 1) return "not a version 1 record";
  if (r.function !== fn) return `a record of ${JSON.stringify(r.function)}`;
  if (!isTime(r.savedAt) || !isTime(r.lastStarted) || !isTime(r.lastEnded)) return "bad times";
  const idle = r.idle;
  if (typeof idle !== "object" || idle === null || !isCount(idle.outOfRange) || !Array.isArray(idle.bins)) {
    return "bad idle-time counts";
  }
  if (idle.bins.length > maxBins) return `${idle.bins.length} buckets, over ${maxBins}`;
  for (const b of idle.bins) {
    if (!Array.isArray(b) || b.length !== 2 || !isCount(b[0]) || b[0] >= maxBins || !isCount(b[1])) {
      return `bad bucket ${JSON.stringify(b)}`;
    }
  }
  return r as HistoryRecord;
};

/** A write that met another version (or a record created or removed meanwhile) is re-read and retried: 5 tries. */
const rewriteRetry = Schedule.spaced("10 millis").pipe(
  Schedule.setInputType<KubeError>(),
  Schedule.while(({ input, attempt }) =>
    (isConflict(input) || isAlreadyExists(input) || isNotFound(input)) && attempt < 5
  ),
);

interface FunctionRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

const refOf = (d: Deployment): FunctionRef => ({
  name: d.metadata!.name!,
  namespace: d.metadata!.namespace!,
  uid: d.metadata!.uid ?? "",
});

interface HistoryShape {
  /**
   * Loads the records of these functions into Invocations (before the scaler's first decision as leader);
   * false when the API server could not be reached or failed (the scaler tries again at its next tick).
   */
  load(functions: readonly Deployment[]): Effect.Effect<boolean>;
  /** Writes the records of these functions that changed and whose write interval has passed. */
  save(functions: readonly Deployment[]): Effect.Effect<void>;
}

export class History extends Context.Service<History, HistoryShape>()("faas/cluster/History") {
  static layer = (options: { readonly intervalMs: number; readonly identity: string }) =>
    Layer.effect(
      History,
      Effect.gen(function* () {
        const kube = yield* KubeApi;
        const leadership = Option.getOrUndefined(yield* Effect.serviceOption(Leadership));
        const invocations = yield* Invocations;
        const clock = yield* Clock.Clock;
        const now = () => clock.currentTimeMillisUnsafe();
        const path = (ns: string, name?: string) =>
          `/api/v1/namespaces/${ns}/configmaps${name === undefined ? "" : `/${name}`}`;
        /**
         * Per function key: whether the record was read in this process and the last resourceVersion seen
         * (a first write reads it, to update a record left by an earlier leader), and the last write (time and
         * what it held).
         */
        const written = new Map<string, { read?: boolean; rv?: string; at: number; fingerprint: string }>();
        /** Functions loaded before in this process: a later takeover replaces their counts (no double count). */
        const loadedBefore = new Set<string>();
        const key = (f: FunctionRef) => `${f.name}.${f.namespace}`;

        const get = (f: FunctionRef) =>
          kube.request<ConfigMap>({ method: "GET", path: path(f.namespace, historyName(f.name)) }).pipe(
            Effect.map((cm): ConfigMap | undefined => cm),
            Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
          );

        const loadOne = (d: Deployment) =>
          Effect.gen(function* () {
            const f = refOf(d), k = key(f);
            const cm = yield* get(f);
            const entry = written.get(k);
            written.set(k, {
              at: entry?.at ?? 0,
              fingerprint: entry?.fingerprint ?? "",
              read: true,
              rv: cm?.metadata?.resourceVersion,
            });
            if (!cm) return undefined;
            const where = `${f.namespace}/${historyName(f.name)}`;
            const owner = cm.metadata?.ownerReferences?.find((o) => o.kind === "Deployment");
            if (owner?.uid !== f.uid) {
              yield* Effect.logWarning(`history: ignoring ${where}: it belongs to an earlier ${f.name}`);
              return undefined;
            }
            const r = parseRecord(cm.data?.[historyKey], f.name);
            if (typeof r === "string") {
              yield* Effect.logWarning(`history: ignoring corrupt record ${where}: ${r}`);
              return undefined;
            }
            invocations.restore(f.name, f.namespace, r, loadedBefore.has(k));
            loadedBefore.add(k);
            return r.savedAt;
          }).pipe(
            Effect.catch((e: KubeError) =>
              Effect.as(
                Effect.logWarning(`history: reading the record of ${d.metadata?.name} failed: ${e.message}`),
                // Unreachable, throttled or failing: try again; anything else (403: no RBAC for it) is ignored.
                e.status === undefined || e.status === 429 || e.status >= 500 ? "retry" as const : undefined,
              )
            ),
          );

        const load = (functions: readonly Deployment[]) =>
          Effect.gen(function* () {
            const saved = yield* Effect.forEach(functions, loadOne, { concurrency: 8 });
            if (saved.includes("retry")) return false;
            const times = saved.filter((t): t is number => typeof t === "number");
            if (times.length === 0) {
              if (functions.length > 0) {
                yield* Effect.logInfo(`history: no record to load for ${functions.length} functions`);
              }
              return true;
            }
            const ageSeconds = Math.max(0, (now() - Math.max(...times)) / 1000);
            metrics.historyAge.set({ identity: options.identity }, ageSeconds);
            yield* Effect.logInfo(
              `history: loaded ${times.length} of ${functions.length} functions' records (newest ${
                ageSeconds.toFixed(0)
              }s old)`,
            );
            return true;
          });

        const recordOf = (f: FunctionRef): HistoryRecord | undefined => {
          const l = invocations.load(f.name, f.namespace);
          if (!l || (l.lastEnded === 0 && l.idle.samples === 0)) return undefined;
          return {
            v: 1,
            function: f.name,
            savedAt: now(),
            lastStarted: l.lastStarted,
            // The end of the last busy time of any replica (the leader may have served none of it).
            lastEnded: Math.max(l.lastEnded, l.timeline.lastBusyEnd),
            idle: l.idle.snapshot(),
          };
        };

        const configMap = (f: FunctionRef, text: string, rv?: string): ConfigMap => ({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: {
            name: historyName(f.name),
            namespace: f.namespace,
            labels: historyLabels,
            ...(rv === undefined ? {} : { resourceVersion: rv }),
            ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: f.name, uid: f.uid }],
          },
          data: { [historyKey]: text },
        });

        /** Creates or updates the record: an update of the version last seen, re-read on a conflict. */
        const write = (f: FunctionRef, text: string) => {
          const k = key(f);
          const reread = Effect.map(get(f), (cm) => {
            written.set(k, { ...written.get(k)!, read: true, rv: cm?.metadata?.resourceVersion });
          });
          const attempt = Effect.gen(function* () {
            // Leadership can end during a round: a former leader writes nothing (the new one owns the record).
            if (leadership && !leadership.isLeader()) {
              return yield* Effect.fail(KubeError.transport("Connection", "no longer the leader"));
            }
            if (!written.get(k)?.read) yield* reread;
            const rv = written.get(k)?.rv;
            const put = rv === undefined
              ? kube.request<ConfigMap>({ method: "POST", path: path(f.namespace), body: configMap(f, text) })
              : kube.request<ConfigMap>({
                method: "PUT",
                path: path(f.namespace, historyName(f.name)),
                body: configMap(f, text, rv),
              });
            return yield* put.pipe(
              Effect.tapError((e) =>
                // Someone else's version (or a record created meanwhile, or gone): re-read, then try again.
                isConflict(e) || isAlreadyExists(e) || isNotFound(e) ? reread : Effect.void
              ),
            );
          });
          return Effect.retry(attempt, rewriteRetry);
        };

        const save = (functions: readonly Deployment[]) =>
          Effect.gen(function* () {
            for (const d of functions) {
              const f = refOf(d), k = key(f);
              const last = written.get(k) ?? { at: -Infinity, fingerprint: "" };
              if (now() - last.at < options.intervalMs) continue;
              const l = invocations.load(f.name, f.namespace);
              // The histogram only grows (samples counts it), and the last start and end only move on.
              const fingerprint = l ? `${l.idle.samples}:${l.lastStarted}:${l.lastEnded}` : "";
              if (last.fingerprint === fingerprint) continue;
              const r = recordOf(f);
              if (!r) continue;
              written.set(k, { ...last, at: now() });
              const text = JSON.stringify(r);
              const result = yield* write(f, text).pipe(
                Effect.map((cm) => ({ ok: true as const, rv: cm.metadata?.resourceVersion })),
                Effect.catch((e: KubeError) => Effect.succeed({ ok: false as const, error: e.message })),
              );
              if (result.ok) {
                written.set(k, { at: now(), fingerprint, read: true, rv: result.rv });
                metrics.historyWrites.inc({ identity: options.identity, result: "written" });
              } else {
                metrics.historyWrites.inc({ identity: options.identity, result: "failed" });
                yield* Effect.logWarning(
                  `history: writing ${f.namespace}/${historyName(f.name)} failed: ${result.error}`,
                );
              }
            }
            // Functions gone: their records go with their Deployment (garbage collector).
            const live = new Set(functions.map((d) => key(refOf(d))));
            for (const k of written.keys()) if (!live.has(k)) written.delete(k);
          });

        return History.of({ load, save });
      }),
    );
}
