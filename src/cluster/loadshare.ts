/**
 * One view of the load across the provider's replicas. Each replica sees only the requests it proxies; the
 * leader scales on the sum:
 *  - membership: every replica keeps a small `coordination.k8s.io/v1` Lease of its own,
 *    `<lease>-member-<hash of identity>`, labelled `app.kubernetes.io/part-of=<lease>-members`, renewed
 *    every 5 s (15 s duration), annotated with its address and a random token; it deletes it on a clean
 *    shutdown, and a crashed replica's Lease expires;
 *  - reports: each replica answers `GET /system/internal/load` (its Invocations' report, authenticated by
 *    the token of its Lease or the provider's basic-auth credentials) and the leader reads every live
 *    member each tick through `LoadPeers` (HTTP, or in-process for several runtimes in one process);
 *  - the view: rates, requests in flight and the last start and end are the leader's own plus every
 *    member's latest report; idle times (the predictor's histogram) are the gaps between the busy periods of
 *    all replicas together, folded up to the oldest report's time (src/metrics/idletimeline.ts); while a live member's report is missing or older than `staleMs`, the view is
 *    `uncertain` and the scaler neither scales down nor to zero (any function may be served by that member),
 *    until the report is back or the member's Lease expires.
 * A replica with no other live member decides exactly as alone: the view is its own Invocations.
 */
import { Clock, Context, Effect, Layer, Option, Schedule } from "effect";
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import { isNotFound, KubeApi } from "../kube/api.ts";
import { resources } from "../kube/resources.ts";
import { type FunctionReport, Invocations, type LoadReport } from "../metrics/invocations.ts";
import type { BusyPeriods } from "../metrics/idletimeline.ts";
import { metrics } from "../metrics/registry.ts";

/** In flight, and the last start and end (0: never), as the scaler's rules read them. */
interface Activity {
  readonly inFlight: number;
  readonly lastStarted: number;
  readonly lastEnded: number;
}

/** A live member as its Lease announces it. */
export interface Member {
  readonly identity: string;
  readonly address: string;
  readonly token: string;
}

export const addressAnnotation = "faas-deno.openfaas.com/address";
export const tokenAnnotation = "faas-deno.openfaas.com/load-token";
export const partOfLabel = "app.kubernetes.io/part-of";
/** The path of the internal endpoint. */
export const internalLoadPath = "/system/internal/load";

/** How the leader reads another replica's report. */
export interface LoadPeersShape {
  read(member: Member): Effect.Effect<LoadReport, Error>;
}

/** Replicas in one process (the test harness): reports by identity, each reachable or not. */
export class PeerRegistry {
  private readonly peers = new Map<string, { report: () => LoadReport; reachable: boolean }>();
  register(identity: string, report: () => LoadReport) {
    this.peers.set(identity, { report, reachable: true });
  }
  unregister(identity: string) {
    this.peers.delete(identity);
  }
  /** A partition between the replicas (not from the API server): the leader cannot read this one. */
  setReachable(identity: string, reachable: boolean) {
    const p = this.peers.get(identity);
    if (p) p.reachable = reachable;
  }
  read(identity: string): LoadReport | undefined {
    const p = this.peers.get(identity);
    return p?.reachable ? p.report() : undefined;
  }
}

/** How long a report may be read for over HTTP (wall clock). */
const httpTimeoutMs = 1_000;

export class LoadPeers extends Context.Service<LoadPeers, LoadPeersShape>()("faas/cluster/LoadPeers") {
  /** Over HTTP: `GET <address>/system/internal/load` with the member's token. */
  static http = Layer.succeed(
    LoadPeers,
    LoadPeers.of({
      read: (member) =>
        Effect.tryPromise({
          try: async () => {
            const res = await fetch(`${member.address.replace(/\/$/, "")}${internalLoadPath}`, {
              headers: { authorization: `Bearer ${member.token}` },
              signal: AbortSignal.timeout(httpTimeoutMs),
            });
            if (res.status !== 200) {
              await res.body?.cancel();
              throw new Error(`${res.status} from ${member.address}`);
            }
            return (await res.json()) as LoadReport;
          },
          catch: (e) => (e instanceof Error ? e : new Error(String(e))),
        }),
    }),
  );

  /** In one process: read from the registry the harness fills. */
  static inProcess = (registry: PeerRegistry) =>
    Layer.succeed(
      LoadPeers,
      LoadPeers.of({
        read: (member) =>
          Effect.suspend(() => {
            const report = registry.read(member.identity);
            return report
              ? Effect.succeed(report)
              : Effect.fail(new Error(`${member.identity} unreachable (in process)`));
          }),
      }),
    );
}

export interface ClusterLoadShape {
  /** This replica's token for the internal endpoint (empty: no membership). */
  readonly token: string;
  /** The leader, each tick: lists the live members, reads their reports and folds idle times. */
  readonly refresh: Effect.Effect<void>;
  /** Requests started in the last `windowMs`, on every replica. */
  rate(fn: string, namespace: string, windowMs: number): number;
  /** In flight on every replica, and the latest start and end on any. */
  activity(fn: string, namespace: string): Activity | undefined;
  /** A live member's report is missing or stale: no scale-down, no scale to zero. */
  uncertain(): boolean;
}

export interface MembershipOptions {
  readonly leaseName: string;
  readonly namespace: string;
  readonly identity: string;
  /** Where the other replicas reach this one's HTTP API (read at each renewal). */
  readonly address: () => string;
  readonly leaseDurationMs?: number;
  readonly renewMs?: number;
  /** The age past which a member's report no longer counts as current. */
  readonly staleMs?: number;
}

/** A short, stable, DNS-safe hash of an identity (FNV-1a, 32 bits, hex). */
export const identityHash = (identity: string) => {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(identity)) h = Math.imul(h ^ c, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
};

/** A MicroTime as the API server writes it: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

const randomToken = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
};

const rateOf = (f: FunctionReport, from: number) => {
  let n = 0;
  for (const [s, c] of f.perSecond) if (s > from) n += c;
  return n;
};

export class ClusterLoad
  extends Context.Service<ClusterLoad, ClusterLoadShape>()("faas/cluster/ClusterLoad") {
  /** No membership (leader_elect=false): the load this replica sees is all there is. */
  static local: Layer.Layer<ClusterLoad, never, Invocations> = Layer.effect(
    ClusterLoad,
    Effect.gen(function* () {
      const invocations = yield* Invocations;
      const clock = yield* Clock.Clock;
      return ClusterLoad.of({
        token: "",
        refresh: Effect.sync(() => {
          const t = clock.currentTimeMillisUnsafe();
          for (const b of invocations.busy()) invocations.observeIdle(b.name, b.namespace, [b], t);
        }),
        rate: invocations.rate,
        activity: invocations.load,
        uncertain: () => false,
      });
    }),
  );

  /** Publishes this replica's membership Lease for the life of the layer, and gathers the others' reports. */
  static layer = (
    options: MembershipOptions,
  ): Layer.Layer<ClusterLoad, never, KubeApi | Invocations | LoadPeers> =>
    Layer.effect(ClusterLoad, share(options));
}

const share = (options: MembershipOptions) =>
  Effect.gen(function* () {
    const leases = resources(yield* KubeApi).leases;
    const invocations = yield* Invocations;
    const peers = yield* LoadPeers;
    const clock = yield* Clock.Clock;
    const now = () => clock.currentTimeMillisUnsafe();
    const { namespace, identity } = options;
    const leaseDurationMs = options.leaseDurationMs ?? 15_000;
    const renewMs = options.renewMs ?? 5_000;
    const staleMs = options.staleMs ?? 5_000;
    /** A member's Lease expired this long ago is deleted by the leader (pods renamed by a rollout, crashes). */
    const forgetAfterMs = 10 * 60_000;
    const name = `${options.leaseName}-member-${identityHash(identity)}`;
    const selector = `${partOfLabel}=${options.leaseName}-members`;
    const token = randomToken();

    /** The membership Lease as this replica wants it now. */
    const desired = (current?: Lease): Lease => ({
      ...current,
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        ...current?.metadata,
        name,
        namespace,
        labels: { ...current?.metadata?.labels, [partOfLabel]: `${options.leaseName}-members` },
        annotations: {
          ...current?.metadata?.annotations,
          [addressAnnotation]: options.address(),
          [tokenAnnotation]: token,
        },
      },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
        renewTime: microTime(now()),
      },
    });
    let mine: Lease | undefined;
    const renew = Effect.gen(function* () {
      if (mine) {
        const updated = yield* Effect.option(leases.replace(namespace, name, desired(mine)));
        if (Option.isSome(updated)) return void (mine = updated.value);
      }
      const current = yield* leases.get(namespace, name).pipe(
        Effect.map((l): Lease | undefined => l),
        Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
      );
      mine = current
        ? yield* leases.replace(namespace, name, desired(current))
        : yield* leases.create(namespace, desired());
    }).pipe(
      Effect.catch((e) =>
        Effect.logDebug(`load sharing: ${identity} could not renew Lease ${name}: ${e.message}`)
      ),
    );
    yield* Effect.forkScoped(Effect.repeat(renew, Schedule.spaced(renewMs)));
    yield* Effect.addFinalizer(() =>
      leases.remove(namespace, name).pipe(
        Effect.timeoutOption(2_000),
        Effect.catch(() => Effect.void),
      )
    );

    /** The live members (not this replica), their latest reports and when each was read. */
    let members: Member[] = [];
    const reports = new Map<string, { report: LoadReport; readAt: number }>();
    let uncertain = false;
    /**
     * The last start and end that members now gone reported, by function: a crashed replica's last requests
     * still count for the idler's zero-duration.
     */
    const departed = new Map<string, { lastStarted: number; lastEnded: number }>();
    /** Reports of members gone, until their busy periods are folded (the fold's horizon passed them). */
    let departedReports: LoadReport[] = [];
    const depart = (report: LoadReport) => {
      departedReports.push(report);
      for (const f of report.functions) {
        const k = `${f.name}.${f.namespace}`, d = departed.get(k);
        departed.set(k, {
          lastStarted: Math.max(d?.lastStarted ?? 0, f.lastStarted),
          lastEnded: Math.max(d?.lastEnded ?? 0, f.lastEnded),
        });
      }
    };

    const refresh = Effect.gen(function* () {
      const listed = yield* Effect.option(leases.list(namespace, { labelSelector: selector }));
      const t = now();
      if (Option.isSome(listed)) {
        members = [];
        const forgotten: string[] = [];
        for (const l of listed.value.items) {
          const holder = l.spec?.holderIdentity;
          const expires = Date.parse(l.spec?.renewTime ?? "") + (l.spec?.leaseDurationSeconds ?? 0) * 1000;
          if (holder !== identity && !(expires > t - forgetAfterMs)) forgotten.push(l.metadata!.name!);
          if (!holder || holder === identity || !(expires > t)) continue;
          members.push({
            identity: holder,
            address: l.metadata?.annotations?.[addressAnnotation] ?? "",
            token: l.metadata?.annotations?.[tokenAnnotation] ?? "",
          });
        }
        yield* Effect.forEach(forgotten, (n) =>
          leases.remove(namespace, n).pipe(
            Effect.andThen(Effect.logInfo(`load sharing: deleted the long-expired membership Lease ${n}`)),
            Effect.catch(() => Effect.void),
          ), { discard: true });
      }
      const known = new Set(members.map((m) => m.identity));
      for (const [id, r] of reports) {
        if (known.has(id)) continue;
        depart(r.report);
        reports.delete(id);
      }
      yield* Effect.forEach(members, (m) =>
        peers.read(m).pipe(
          Effect.tap((report) => Effect.sync(() => reports.set(m.identity, { report, readAt: now() }))),
          Effect.catch((e) =>
            Effect.logDebug(`load sharing: ${identity} could not read ${m.identity}'s load: ${e.message}`)
          ),
        ), { concurrency: "unbounded", discard: true });
      const stale = members.filter((m) => {
        const r = reports.get(m.identity);
        return !r || now() - r.readAt > staleMs;
      });
      if (stale.length) metrics.loadStaleReports.inc({ identity }, stale.length);
      if (stale.length && !uncertain) {
        yield* Effect.logWarning(
          `load sharing: no current load report from ${
            stale.map((m) => m.identity).join(", ")
          }: no scale-down until it is back or its membership expires`,
        );
      }
      uncertain = stale.length > 0;
      metrics.loadMembers.set({ identity }, members.length);
      foldIdle();
    });

    /**
     * Folds every replica's busy periods into the idle-time histograms, up to the oldest live member's
     * report (a member never read: not at all, its requests may fill any gap).
     */
    const foldIdle = () => {
      let horizon = now();
      for (const m of members) {
        const r = reports.get(m.identity);
        if (!r) return;
        horizon = Math.min(horizon, r.report.at);
      }
      const sources = new Map<string, { name: string; namespace: string; busy: BusyPeriods[] }>();
      const add = (name: string, namespace: string, busy: BusyPeriods) => {
        const k = `${name}.${namespace}`;
        const s = sources.get(k);
        if (s) s.busy.push(busy);
        else sources.set(k, { name, namespace, busy: [busy] });
      };
      for (const b of invocations.busy()) add(b.name, b.namespace, b);
      const gone = (r: LoadReport) => (f: FunctionReport) =>
        // A member gone with requests in flight was busy until its last report.
        add(f.name, f.namespace, {
          periods: [...(f.periods ?? []), ...(f.since ? [[f.since, r.at] as const] : [])],
          since: 0,
        });
      for (const r of departedReports) r.functions.forEach(gone(r));
      for (const { report } of reports.values()) {
        for (const f of report.functions) {
          add(f.name, f.namespace, { periods: f.periods ?? [], since: f.since ?? 0 });
        }
      }
      for (const s of sources.values()) {
        invocations.observeIdle(s.name, s.namespace, s.busy, horizon);
      }
      if (departedReports.length) departedReports = departedReports.filter((r) => r.at > horizon);
    };

    const reportsOf = (fn: string, ns: string) => {
      const out: FunctionReport[] = [];
      for (const { report } of reports.values()) {
        for (const f of report.functions) if (f.name === fn && f.namespace === ns) out.push(f);
      }
      return out;
    };

    return ClusterLoad.of({
      token,
      refresh,
      rate: (fn, ns, windowMs) => {
        const local = invocations.rate(fn, ns, windowMs);
        if (reports.size === 0) return local;
        const from = Math.floor((now() - windowMs) / 1000);
        return reportsOf(fn, ns).reduce((n, f) => n + rateOf(f, from), local);
      },
      activity: (fn, ns) => {
        const local = invocations.load(fn, ns);
        const others = reports.size === 0 ? [] : reportsOf(fn, ns);
        const gone = departed.size === 0 ? undefined : departed.get(`${fn}.${ns}`);
        if (others.length === 0 && gone === undefined) return local;
        let inFlight = local?.inFlight ?? 0;
        let lastStarted = Math.max(local?.lastStarted ?? 0, gone?.lastStarted ?? 0);
        let lastEnded = Math.max(local?.lastEnded ?? 0, gone?.lastEnded ?? 0);
        for (const f of others) {
          inFlight += f.inFlight;
          lastStarted = Math.max(lastStarted, f.lastStarted);
          lastEnded = Math.max(lastEnded, f.lastEnded);
        }
        return { inFlight, lastStarted, lastEnded };
      },
      uncertain: () => uncertain,
    });
  });
