/**
 * The invariants checked once the faults have stopped: within a bounded virtual time every replica's
 * caches equal the cluster, every function reaches its desired replicas, `/healthz` answers 200, and a
 * request to every function (at zero replicas or not) is served; and the sizes of what the replicas hold,
 * which must not grow with the number of past events.
 */
import { Kinds, type KObj } from "../kinds.ts";
import type { Model, Violation } from "./model.ts";
import { functionNamespace } from "./workload.ts";
import type { World } from "./world.ts";

export type Sizes = Record<string, number>;

const live = (objects: Iterable<KObj>) =>
  [...objects].filter((o) => o.metadata.namespace === functionNamespace && !o.metadata.deletionTimestamp);

/** Objects each replica's caches hold and the decisions it keeps: bounded by the functions, not by time. */
export const resourceSizes = (world: World): Sizes => {
  const sizes: Sizes = {};
  for (const r of world.replicas) {
    if (!r.caches) continue;
    sizes[`${r.identity} cached deployments`] = r.caches.deployments.list().length;
    sizes[`${r.identity} cached pods`] = r.caches.pods.list().length;
    sizes[`${r.identity} cached endpointslices`] = r.caches.endpointSlices.list().length;
    sizes[`${r.identity} cached secrets`] = r.caches.secrets.list().length;
    sizes[`${r.identity} decisions kept`] = r.decisions?.().length ?? 0;
  }
  return sizes;
};

/** Series /metrics exposes (the registry is the process's: bounded by the function names, not by time). */
export const metricsSeries = async (world: World): Promise<number> => {
  const handler = world.replicas.find((r) => r.handler)?.handler;
  if (!handler) return 0;
  const text = await settleWithin(
    world,
    Promise.resolve(handler(new Request("http://provider/metrics"))).then((res) => res.text()),
    10_000,
  );
  return (text ?? "").split("\n").filter((l) => l !== "" && !l.startsWith("#")).length;
};

/** Where a replica's caches differ from the cluster (names and resourceVersions), or undefined. */
const cacheDrift = (world: World): string | undefined => {
  const truth = (kind: typeof Kinds.Deployment) =>
    new Map(live(world.cluster.store.scan(kind)).map((o) => [o.metadata.name, o.metadata.resourceVersion]));
  const deployments = truth(Kinds.Deployment);
  const secrets = new Map(
    live(world.cluster.store.scan(Kinds.Secret)).filter((s) =>
      s.metadata.labels?.["app.kubernetes.io/managed-by"] === "openfaas"
    ).map((o) => [o.metadata.name, o.metadata.resourceVersion]),
  );
  for (const r of world.replicas) {
    if (!r.caches) return `${r.identity} is not serving`;
    const pairs: [
      string,
      Map<string | undefined, string | undefined>,
      {
        metadata?: {
          name?: string;
          namespace?: string;
          resourceVersion?: string;
          deletionTimestamp?: string;
        };
      }[],
    ][] = [
      ["deployments", deployments, r.caches.deployments.list()],
      ["secrets", secrets, r.caches.secrets.list()],
    ];
    for (const [what, want, cached] of pairs) {
      const have = new Map(
        cached.filter((o) => o.metadata?.namespace === functionNamespace).map((o) => [
          o.metadata?.name,
          o.metadata?.resourceVersion,
        ]),
      );
      for (const [name, rv] of want) {
        if (have.get(name) !== rv) {
          return `${r.identity} caches ${what}/${name} at ${
            have.get(name) ?? "nothing"
          }, the cluster has ${rv}`;
        }
      }
      for (const name of have.keys()) {
        if (!want.has(name)) return `${r.identity} caches ${what}/${name}, which the cluster no longer has`;
      }
    }
  }
  return undefined;
};

const notAtDesired = (world: World): string | undefined => {
  for (const d of live(world.cluster.store.scan(Kinds.Deployment))) {
    const want = d.spec?.replicas ?? 1;
    const ready = d.status?.readyReplicas ?? 0;
    if (ready !== want) return `function ${d.metadata.name}: ${ready} of ${want} replicas ready`;
  }
  return undefined;
};

/** Runs virtual time in steps until `pending` settles (at most `maxMs`); undefined if it did not. */
export const settleWithin = async <T>(world: World, pending: Promise<T>, maxMs: number, stepMs = 1_000) => {
  let done = false, value: T | undefined;
  pending.then((v) => {
    done = true;
    value = v;
  }, () => (done = true));
  // Work that needs no virtual time settles without moving the clock.
  for (let i = 0; i < 3 && !done; i++) await new Promise((r) => setTimeout(r, 0));
  for (let t = 0; t < maxMs && !done; t += stepMs) await world.advance(stepMs);
  return done ? value : undefined;
};

export const checkLiveness = async (
  world: World,
  _model: Model,
  options: { withinMs: number; invoke: (fn: string) => Promise<number | undefined> },
): Promise<{ violations: Violation[]; checks: number }> => {
  const violations: Violation[] = [];
  const started = world.now();
  let checks = 0;
  const healthz = async (): Promise<string | undefined> => {
    for (const r of world.replicas) {
      if (!r.handler) return `${r.identity} is not serving`;
      const status = await settleWithin(
        world,
        Promise.resolve(r.handler(new Request("http://provider/healthz"))).then(async (res) => {
          await res.body?.cancel();
          return res.status;
        }),
        10_000,
      );
      if (status !== 200) return `${r.identity} /healthz answered ${status ?? "nothing"}`;
    }
    return undefined;
  };
  let problems: [string, string | undefined][] = [];
  for (let t = 0; t <= options.withinMs; t += 30_000) {
    checks++;
    problems = [
      ["caches-equal-cluster", cacheDrift(world)],
      ["desired-replicas", notAtDesired(world)],
      ["healthz", await healthz()],
    ];
    if (problems.every(([, p]) => p === undefined)) break;
    await world.advance(30_000);
  }
  const at = world.now() - started;
  for (const [invariant, problem] of problems) {
    if (problem) {
      violations.push({
        at,
        invariant,
        detail: `${options.withinMs / 60_000} min after the faults stopped: ${problem}`,
      });
    }
  }
  // Every function serves a request, coming up from zero where it is at zero.
  for (const d of live(world.cluster.store.scan(Kinds.Deployment))) {
    checks++;
    const fn = d.metadata.name ?? "";
    const atZero = (d.spec?.replicas ?? 1) === 0;
    const status = await settleWithin(world, options.invoke(fn), 180_000);
    if (status !== 200) {
      violations.push({
        at: world.now() - started,
        invariant: atZero ? "served-from-zero" : "served-after-faults",
        detail: `function ${fn}${atZero ? " (at zero replicas)" : ""}: a request after the faults got ${
          status ?? "no answer within 3 min"
        }`,
      });
    }
  }
  return { violations, checks };
};
