/**
 * Leader election among the provider's replicas on a `coordination.k8s.io/v1` Lease, with client-go's
 * rules (tools/leaderelection) and defaults:
 *  - a replica judges the Lease by the record it observed and the *local* time it observed it, never by the
 *    remote timestamps: a Lease held by another is free only once `leaseDurationSeconds` have passed on
 *    our clock since its record last changed (or at once when its holder is empty: released);
 *  - every write is an update of the object just read (its resourceVersion): two replicas racing for the
 *    Lease cannot both win, the loser gets 409 Conflict;
 *  - a candidate tries every retry period, with client-go's jitter (up to 1.2 periods more); the leader
 *    renews every retry period, and stops leading once it has not renewed within the renew deadline,
 *    which is shorter than the lease duration: it stops before anyone else can acquire;
 *  - on a clean shutdown the leader releases the Lease (empty holder, leaseDurationSeconds 1), so a
 *    successor takes it at its next try.
 * `isLeader()` is also bounded by the renew deadline on the clock, so a leader whose renewals hang (a
 * paused process, a partition) stops scaling on time even before its renew loop notices.
 * After losing the Lease a replica goes back to being a candidate; it keeps serving throughout.
 */
import { Clock, Context, Effect, Layer, Option, Schedule } from "effect";
import type { Lease, LeaseSpec } from "kubernetes-types/coordination/v1.d.ts";
import { isNotFound, KubeApi } from "../kube/api.ts";
import { conflictRetry } from "../kube/retry.ts";
import { resources } from "../kube/resources.ts";
import { metrics } from "../metrics/registry.ts";

export interface LeaderElectionOptions {
  /** The Lease's name and namespace. */
  readonly name: string;
  readonly namespace: string;
  /** This replica's holder identity (its pod name, or host:port). */
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

/** client-go's defaults (and those of kube-controller-manager): 15 s, 10 s, 2 s. */
export const leaderElectionDefaults = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** client-go's JitterFactor for the acquire loop: each wait is the retry period plus up to 1.2 of it. */
const jitterFactor = 1.2;

export interface LeadershipShape {
  readonly identity: string;
  /** Whether this replica leads now: it holds the Lease and renewed it within the renew deadline. */
  isLeader(): boolean;
  /** The holder this replica last observed ("" once released; undefined before the first read). */
  observedHolder(): string | undefined;
}

export class Leadership extends Context.Service<Leadership, LeadershipShape>()("faas/cluster/Leadership") {
  /** No election (leader_elect=false, or a single replica by design): this replica always leads. */
  static always = (identity = "standalone") =>
    Layer.succeed(
      Leadership,
      Leadership.of({ identity, isLeader: () => true, observedHolder: () => identity }),
    );

  /** Campaigns for the Lease for the life of the layer, and releases it when the layer closes. */
  static layer = (options: LeaderElectionOptions): Layer.Layer<Leadership, never, KubeApi> =>
    Layer.effect(Leadership, elect(options));
}

/** The five fields of client-go's LeaderElectionRecord, as they sit in a Lease's spec. */
type LeaseRecord = Required<
  Pick<
    LeaseSpec,
    "holderIdentity" | "leaseDurationSeconds" | "acquireTime" | "renewTime" | "leaseTransitions"
  >
>;

const recordOf = (spec: LeaseSpec | undefined): LeaseRecord => ({
  holderIdentity: spec?.holderIdentity ?? "",
  leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
  acquireTime: spec?.acquireTime ?? "",
  renewTime: spec?.renewTime ?? "",
  leaseTransitions: spec?.leaseTransitions ?? 0,
});

/** A MicroTime as the API server writes it: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/** A small seeded generator (mulberry32) for the acquire jitter: the same identity replays the same waits. */
const jitterSource = (identity: string) => {
  let a = 0;
  for (const c of identity) a = (Math.imul(a, 31) + c.charCodeAt(0)) | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** Every live election in this process, for the gauge (several replicas share a process in tests). */
const live = new Set<LeadershipShape>();
metrics.leader.collect = () => [...live].map((l) => [{ identity: l.identity }, l.isLeader() ? 1 : 0]);

const elect = (options: LeaderElectionOptions) =>
  Effect.gen(function* () {
    const leases = resources(yield* KubeApi).leases;
    const clock = yield* Clock.Clock;
    const now = () => clock.currentTimeMillisUnsafe();
    const { name, namespace, identity } = options;
    const leaseDurationMs = options.leaseDurationMs ?? leaderElectionDefaults.leaseDurationMs;
    const renewDeadlineMs = options.renewDeadlineMs ?? leaderElectionDefaults.renewDeadlineMs;
    const retryPeriodMs = options.retryPeriodMs ?? leaderElectionDefaults.retryPeriodMs;
    const where = `Lease ${namespace}/${name}`;

    /** The record last read or written, the local time it was first seen, and the object (for updates). */
    let observed: LeaseRecord | undefined;
    let observedRaw = "";
    let observedAt = 0;
    let lease: Lease | undefined;
    /** Leading: the start of the last successful acquire or renew. */
    let renewedAt: number | undefined;

    /** Takes a record read or written at `at`; its time counts only when the record changed. */
    const observe = (record: LeaseRecord, object: Lease, at: number): Effect.Effect<void> => {
      const raw = JSON.stringify(record);
      lease = object;
      if (raw === observedRaw) return Effect.void;
      const before = observed?.holderIdentity;
      observed = record;
      observedRaw = raw;
      observedAt = at;
      if (record.holderIdentity === before || record.holderIdentity === "") return Effect.void;
      metrics.leaderTransitions.inc({ identity });
      return record.holderIdentity === identity
        ? Effect.void
        : Effect.logInfo(`leader election: ${identity} sees ${record.holderIdentity} lead (${where})`);
    };

    const isLeader = () => renewedAt !== undefined && now() < renewedAt + renewDeadlineMs;

    /** One try, as client-go's tryAcquireOrRenew: whether this replica holds the Lease afterwards. */
    const tryAcquireOrRenew = (at: number) =>
      Effect.gen(function* () {
        const mine: LeaseRecord = {
          holderIdentity: identity,
          leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
          acquireTime: microTime(at),
          renewTime: microTime(at),
          leaseTransitions: 0,
        };
        // client-go's fast path: the leader updates the object it last saw, without reading it first.
        if (
          renewedAt !== undefined && lease && observed?.holderIdentity === identity &&
          observedAt + observed.leaseDurationSeconds * 1000 > at
        ) {
          const renewal = {
            ...mine,
            acquireTime: observed.acquireTime,
            leaseTransitions: observed.leaseTransitions,
          };
          const fast = yield* Effect.option(
            leases.replace(namespace, name, { ...lease, spec: { ...lease.spec, ...renewal } }),
          );
          if (Option.isSome(fast)) {
            yield* observe(recordOf(fast.value.spec), fast.value, now());
            return true;
          }
        }
        const current = yield* leases.get(namespace, name).pipe(
          Effect.map((l): Lease | undefined => l),
          Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
        );
        if (current === undefined) {
          const created = yield* leases.create(namespace, {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name, namespace },
            spec: mine,
          });
          yield* observe(recordOf(created.spec), created, now());
          return true;
        }
        // Observed when the answer arrived (a paused process may have sent the request long before).
        const seen = now();
        const old = recordOf(current.spec);
        yield* observe(old, current, seen);
        const heldByOther = old.holderIdentity !== "" && old.holderIdentity !== identity;
        if (heldByOther && observedAt + old.leaseDurationSeconds * 1000 > seen) return false;
        const next: LeaseRecord = old.holderIdentity === identity
          ? { ...mine, acquireTime: old.acquireTime, leaseTransitions: old.leaseTransitions }
          : { ...mine, leaseTransitions: old.leaseTransitions + 1 };
        const updated = yield* leases.replace(namespace, name, {
          ...current,
          spec: { ...current.spec, ...next },
        });
        yield* observe(recordOf(updated.spec), updated, now());
        return true;
      }).pipe(
        Effect.catch((e) =>
          Effect.as(
            Effect.logDebug(`leader election: ${identity} could not update ${where}: ${e.message}`),
            false,
          )
        ),
      );

    /** How long until the Lease held by another expires by our observation (undefined: not held, or expired). */
    const untilExpiry = () => {
      if (!observed || observed.holderIdentity === "" || observed.holderIdentity === identity) {
        return undefined;
      }
      const left = observedAt + observed.leaseDurationSeconds * 1000 - now();
      return left > 0 ? left : undefined;
    };
    /**
     * acquireRetry: client-go's JitterUntil(retryPeriod, 1.2), until a try succeeds; a candidate also tries
     * at the instant the Lease it watches expires (client-go waits for its next jittered try).
     */
    const random = jitterSource(identity);
    const acquireRetry = Schedule.spaced(retryPeriodMs).pipe(
      Schedule.modifyDelay(() =>
        Effect.succeed(Math.min(retryPeriodMs * (1 + jitterFactor * random()), untilExpiry() ?? Infinity))
      ),
      Schedule.setInputType<boolean>(),
      Schedule.while(({ input }) => !input),
    );
    const acquire = Effect.repeat(
      Effect.suspend(() => {
        const at = now();
        return Effect.tap(tryAcquireOrRenew(at), (ok) => Effect.sync(() => ok && (renewedAt = at)));
      }),
      acquireRetry,
    );

    /** One renewal: tries every retry period until one succeeds or the renew deadline passes. */
    const renewRetry = Schedule.spaced(retryPeriodMs).pipe(
      Schedule.setInputType<boolean>(),
      Schedule.while(({ input }) => !input && isLeader()),
    );
    const renewOnce = Effect.repeat(
      Effect.suspend(() => {
        const at = now();
        const left = renewedAt! + renewDeadlineMs - at;
        if (left <= 0) return Effect.succeed(false);
        return tryAcquireOrRenew(at).pipe(
          Effect.timeoutOrElse({ duration: left, orElse: () => Effect.succeed(false) }),
          Effect.tap((ok) => Effect.sync(() => ok && (renewedAt = at))),
        );
      }),
      renewRetry,
    ).pipe(Effect.map(() => isLeader()));
    /** renewEvery: the leader renews every retry period while renewals succeed. */
    const renewEvery = Schedule.spaced(retryPeriodMs).pipe(
      Schedule.setInputType<boolean>(),
      Schedule.while(({ input }) => input),
    );

    const campaign = Effect.gen(function* () {
      while (true) {
        yield* acquire;
        yield* Effect.logInfo(
          `leader election: ${identity} now leads (${where}, transitions ${observed?.leaseTransitions ?? 0})`,
        );
        yield* Effect.repeat(Effect.delay(renewOnce, retryPeriodMs), renewEvery);
        renewedAt = undefined;
        yield* Effect.logWarning(
          `leader election: ${identity} stopped leading: no renewal of ${where} within ${
            renewDeadlineMs / 1000
          }s`,
        );
      }
    });

    /**
     * On shutdown, client-go's release: the Lease as it is now, still ours, gets an empty holder and a 1 s
     * lease (an update of what was read: if someone took it meanwhile, nothing is overwritten).
     */
    const releaseOnce = Effect.gen(function* () {
      const current = yield* leases.get(namespace, name);
      if (current.spec?.holderIdentity !== identity) return false;
      const at = now();
      const released: LeaseRecord = {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: microTime(at),
        renewTime: microTime(at),
        leaseTransitions: current.spec?.leaseTransitions ?? 0,
      };
      yield* leases.replace(namespace, name, { ...current, spec: { ...current.spec, ...released } });
      return true;
    });
    const release = Effect.gen(function* () {
      renewedAt = undefined;
      if (observed?.holderIdentity !== identity) return;
      const outcome = yield* releaseOnce.pipe(
        Effect.retry(conflictRetry),
        Effect.timeoutOption(renewDeadlineMs),
        Effect.catch((e) => Effect.succeed(e.message)),
      );
      if (typeof outcome === "string") {
        yield* Effect.logWarning(`leader election: ${identity} could not release ${where}: ${outcome}`);
      } else if (Option.isNone(outcome)) {
        yield* Effect.logWarning(`leader election: ${identity} could not release ${where} in time`);
      } else if (outcome.value) {
        yield* Effect.logInfo(`leader election: ${identity} released ${where}`);
      }
    });

    const shape: LeadershipShape = { identity, isLeader, observedHolder: () => observed?.holderIdentity };
    live.add(shape);
    // Finalizers run in reverse: the campaign is interrupted first, then the Lease is released.
    yield* Effect.addFinalizer(() => Effect.andThen(release, Effect.sync(() => live.delete(shape))));
    yield* Effect.forkScoped(campaign);
    return Leadership.of(shape);
  });
