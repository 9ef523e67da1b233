/**
 * Several provider replicas on one simulated cluster, in one virtual time (TestClock): each replica is the
 * provider built by src/app.ts with its own KubeApi client (so a partition or a pause hits one replica),
 * its own caches, scaler and leader election, and its own HTTP server on 127.0.0.1.
 */
import { Effect, Exit, Layer, ManagedRuntime, Scope } from "effect";
import { TestClock } from "effect/testing";
import { makeProvider } from "../../src/app.ts";
import type { ProviderConfig } from "../../src/config/config.ts";
import { Link, type LinkState } from "../../sim/chaos/link.ts";
import { Caches } from "../../src/kube/caches.ts";
import { Leadership } from "../../src/cluster/leader.ts";
import { LoadPeers, PeerRegistry } from "../../src/cluster/loadshare.ts";
import { Invocations } from "../../src/metrics/invocations.ts";
import type { Decision } from "../../src/scaling/scaler.ts";
import { SimCluster, type SimClusterShape } from "../../sim/cluster.ts";
import { simReplicaBackend } from "../../sim/layer.ts";
import { testConfig, virtualClock } from "./harness.ts";

export { Link, type LinkState };

export interface Replica {
  readonly identity: string;
  readonly url: string;
  readonly link: Link;
  /** The requests this replica proxied (record some to give it traffic without an upstream). */
  readonly invocations: Invocations["Service"];
  /** A partition between this replica and the others (its API server link stays as it is). */
  setReachable(reachable: boolean): void;
  isLeader(): boolean;
  decisions(): Promise<readonly Decision[]>;
  call(method: string, path: string, body?: string): Promise<{ status: number; text: string }>;
  /** Clean shutdown: the HTTP server stops and the runtime closes (the leader releases its Lease). */
  stop(): Promise<void>;
  /** A crash: the replica vanishes without a word to the API server (no release). */
  kill(): Promise<void>;
  readonly stopped: boolean;
}

export interface Replicas {
  readonly cluster: SimClusterShape;
  readonly replicas: Replica[];
  /** Starts one more replica (identity `replica-N`). */
  start(): Promise<Replica>;
  advance(ms: number): Promise<void>;
  /** Advances virtual time in steps until `pending` settles (at most `maxMs`). */
  advanceUntil<T>(pending: Promise<T>, stepMs?: number, maxMs?: number): Promise<T>;
  now(): Promise<number>;
  close(): Promise<void>;
}

export const startReplicas = async (
  count: number,
  overrides: Partial<ProviderConfig> = {},
): Promise<Replicas> => {
  const base = testConfig(overrides);
  const runtime = ManagedRuntime.make(
    SimCluster.layer({
      seed: base.simSeed,
      nodes: base.simNodes,
      nodeCpu: base.simNodeCpu,
      nodeMemory: base.simNodeMemory,
      functionNamespace: base.functionNamespace,
    }).pipe(Layer.provideMerge(virtualClock)),
  );
  const cluster = await runtime.runPromise(Effect.service(SimCluster));
  const replicas: Replica[] = [];
  // The leader reads the others' load in process, in virtual time (no HTTP between replicas).
  const peers = new PeerRegistry();
  const advance = async (ms: number) => {
    await runtime.runPromise(TestClock.adjust(ms));
    for (let i = 0; i < 5; i++) await runtime.runPromise(Effect.yieldNow);
  };
  const advanceUntil = async <T>(pending: Promise<T>, stepMs = 100, maxMs = 120_000): Promise<T> => {
    let settled = false;
    pending.then(() => (settled = true), () => (settled = true));
    for (let t = 0; t < maxMs && !settled; t += stepMs) {
      await new Promise((r) => setTimeout(r, 1));
      if (!settled) await advance(stepMs);
    }
    await new Promise((r) => setTimeout(r, 1));
    if (!settled) throw new Error(`did not settle within ${maxMs} ms of virtual time`);
    return await pending;
  };

  const start = async (): Promise<Replica> => {
    const identity = `replica-${replicas.length}`;
    const config: ProviderConfig = { ...base, identity };
    const link = new Link();
    const provider = makeProvider(config, { loadPeers: LoadPeers.inProcess(peers) });
    const layer = provider.layer.pipe(
      Layer.provideMerge(simReplicaBackend(config, { wrapKubeApi: link.wrap })),
    );
    const scope = await runtime.runPromise(Scope.make());
    const context = await runtime.runPromise(Layer.buildWithScope(layer, scope));
    // deno-lint-ignore no-explicit-any
    const run = <A>(effect: Effect.Effect<A, any, any>) =>
      runtime.runPromise(Effect.provideContext(effect, context) as Effect.Effect<A>);
    await advanceUntil(run(Effect.flatMap(Effect.service(Caches), (c) => c.synced)), 100, 60_000);
    const leadership = await run(Effect.service(Leadership));
    const invocations = await run(Effect.service(Invocations));
    peers.register(identity, () => invocations.report(60_000));
    const handler = await run(provider.handler);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
    const url = `http://127.0.0.1:${server.addr.port}`;
    let stopped = false;
    const shutdown = async () => {
      if (stopped) return;
      stopped = true;
      peers.unregister(identity);
      await server.shutdown();
      await runtime.runPromise(Scope.close(scope, Exit.void));
    };
    const replica: Replica = {
      identity,
      url,
      link,
      invocations,
      setReachable: (reachable) => peers.setReachable(identity, reachable),
      isLeader: () => !stopped && leadership.isLeader(),
      decisions: () => run(provider.decisions).then((d) => d()),
      call: async (method, path, body) => {
        const res = await fetch(`${url}${path}`, { method, body });
        return { status: res.status, text: await res.text() };
      },
      stop: shutdown,
      kill: async () => {
        // Its last words never reach the API server.
        link.set("partitioned");
        await shutdown();
      },
      get stopped() {
        return stopped;
      },
    };
    replicas.push(replica);
    return replica;
  };

  for (let i = 0; i < count; i++) await start();
  return {
    cluster,
    replicas,
    start,
    advance,
    advanceUntil,
    now: () => runtime.runPromise(Effect.clockWith((c) => c.currentTimeMillis)),
    close: async () => {
      for (const r of replicas) {
        r.link.set("up");
        await r.stop();
      }
      await runtime.dispose();
    },
  };
};
