/**
 * Cluster-level fault kinds for the chaos schedule, on the simulator's Disruptions (sim/disruptions.ts):
 * the API server restarting (watches end, history compacted, a short outage), a node failing (NotReady,
 * its pods evicted after their toleration and rescheduled), a kubelet restart, an image registry outage,
 * function pods crashing or slow, and one replica cut from its pods or from the API server by timeouts.
 */
import { Disruptions } from "../disruptions.ts";
import { Kinds } from "../kinds.ts";
import type { FaultKind, FaultWindow } from "./fault.ts";
import type { World } from "./world.ts";
import { functionNamespace } from "./workload.ts";

const of = (world: World) => Disruptions.of(world.cluster);

/** The simulated nodes by name, in a stable order (a window's target is an index into it). */
const nodeName = (world: World, i: number): string =>
  [...world.cluster.store.scan(Kinds.Node)].map((n) => n.metadata.name ?? "").sort()[i] ?? "";

/** Function pods of `fn<i>`. */
const podsOf = (world: World, i: number) =>
  [...world.cluster.store.scan(Kinds.Pod)].filter((p) =>
    p.metadata.namespace === functionNamespace && p.metadata.labels?.faas_function === `fn${i}`
  );

const stillOpen = (active: readonly FaultWindow[], kind: string, target?: number) =>
  active.some((w) => w.kind === kind && w.target === target);

/** Removers of slow-pod rules, by window. */
const slowRules = new WeakMap<FaultWindow, () => void>();

export const clusterFaultKinds: readonly FaultKind[] = [
  {
    name: "api-restart",
    // Seconds the restarted API server answers 503.
    level: (r) => Math.round(r() * 30),
    apply: (world, w) => void of(world).restartApiServer({ unavailableMs: (w.level ?? 0) * 1000 }),
    revert: () => {},
  },
  {
    name: "node-failure",
    targets: "node",
    apply: (world, w) => of(world).failNode(nodeName(world, w.target ?? 0)),
    revert: (world, w, active) => {
      if (!stillOpen(active, "node-failure", w.target)) of(world).recoverNode(nodeName(world, w.target ?? 0));
    },
  },
  {
    name: "kubelet-restart",
    targets: "node",
    apply: (world, w) => {
      const name = nodeName(world, w.target ?? 0);
      // A failed node's kubelet is not there to restart.
      try {
        of(world).restartKubelet(name);
      } catch { /* no such node */ }
    },
    revert: () => {},
  },
  {
    name: "registry-outage",
    apply: (world) => of(world).registryOutage(true),
    revert: (world, _w, active) => {
      if (!stillOpen(active, "registry-outage")) of(world).registryOutage(false);
    },
  },
  {
    name: "pod-crash",
    targets: "function",
    apply: (world, w) => {
      for (const pod of podsOf(world, w.target ?? 0)) {
        of(world).crashPod(pod.metadata.namespace ?? functionNamespace, pod.metadata.name ?? "");
      }
    },
    revert: () => {},
  },
  {
    name: "slow-pods",
    targets: "function",
    level: (r) => Math.round(200 + r() * 5_000),
    apply: (world, w) => {
      slowRules.set(w, of(world).slowPods(`faas_function=fn${w.target ?? 0}`, w.level ?? 1_000));
    },
    revert: (_world, w) => {
      slowRules.get(w)?.();
      slowRules.delete(w);
    },
  },
  {
    name: "pod-partition",
    targets: "replica",
    apply: (world, w) => world.replicas[w.target ?? 0].podLink.partition({ mode: "timeout" }),
    revert: (world, w, active) => {
      if (!stillOpen(active, "pod-partition", w.target)) world.replicas[w.target ?? 0].podLink.heal();
    },
  },
  {
    name: "api-timeouts",
    targets: "replica",
    apply: (world, w) => world.replicas[w.target ?? 0].apiCut.partition({ mode: "timeout" }),
    revert: (world, w, active) => {
      if (!stillOpen(active, "api-timeouts", w.target)) world.replicas[w.target ?? 0].apiCut.heal();
    },
  },
];
