/**
 * The world a chaos run drives: one simulated cluster and one or more provider replicas, each the real
 * provider built by src/app.ts on its own KubeApi client behind a {@link Link}, all in one virtual time
 * (TestClock). Invocations and API calls go to a replica's HTTP handler directly (no sockets). A replica
 * can crash (its runtime scope closes without a word to the API server) and restart (a new runtime on the
 * same cluster: its state is rebuilt from the cluster).
 */
import { Effect, Exit, Layer, Logger, ManagedRuntime, References, Scope } from "effect";
import { TestClock } from "effect/testing";
import { defaultConfig, inProcessPeers, makeProvider, PeerRegistry } from "../../src/app.ts";
import { SimCluster, type SimClusterShape } from "../cluster.ts";
import { simReplicaBackend } from "../layer.ts";
import { seededEffectRandom } from "../clock.ts";
import { type FaultConfig, Faults, installFaults } from "../faults.ts";
import { Link } from "./link.ts";
import { Disruptions, Partition, partitionKubeApi } from "../disruptions.ts";

export type Handler = (req: Request) => Response | Promise<Response>;
type Provider = ReturnType<typeof makeProvider>;
type ProviderConfig = ReturnType<typeof defaultConfig>;
export type ProviderOptions = NonNullable<Parameters<typeof makeProvider>[1]>;
type CachesView = Effect.Success<Provider["caches"]>;
type DecisionsView = Effect.Success<Provider["decisions"]>;

export interface ChaosReplica {
  readonly identity: string;
  readonly link: Link;
  /** Its link to the API server cut with timeouts (sim/disruptions), beside `link`'s refusals and pauses. */
  readonly apiCut: Partition;
  /** Its link to the function pods (sim/disruptions). */
  readonly podLink: Partition;
  /** The HTTP handler while the replica runs (undefined while it is down or starting). */
  handler?: Handler;
  caches?: CachesView;
  decisions?: DecisionsView;
  /** Times this replica was started (1 for the first start). */
  starts: number;
  /** Down by a crash, not yet restarted. */
  down: boolean;
}

export interface WorldOptions {
  readonly seed: number;
  readonly replicas: number;
  /** Provider configuration overrides (scaling on by default). */
  readonly config?: Partial<ProviderConfig>;
  /** Test-only replacements passed to the composition root (a planted bug goes here). */
  readonly provider?: Omit<ProviderOptions, "loadPeers">;
  /** Every log line of every replica, as it is written. */
  readonly onLog?: (line: string) => void;
}

export const startInstant = Date.parse("2026-01-01T00:00:00Z");
const virtualClock = Layer.effectDiscard(TestClock.setTime(startInstant)).pipe(
  Layer.provideMerge(TestClock.layer({ warningDelay: "1 hour" })),
);

const render = (message: unknown): string =>
  Array.isArray(message)
    ? message.map(render).join(" ")
    : typeof message === "string"
    ? message
    : message instanceof Error
    ? message.message
    : JSON.stringify(message) ?? String(message);

export class World {
  readonly replicas: ChaosReplica[] = [];
  private readonly peers = new PeerRegistry();
  private readonly scopes = new Map<string, Scope.Closeable>();
  private closed = false;

  private constructor(
    readonly runtime: ManagedRuntime.ManagedRuntime<SimCluster, never>,
    readonly cluster: SimClusterShape,
    readonly config: ProviderConfig,
    /** API server faults: the config object is read on every request, so a schedule switches it live. */
    readonly faultConfig: { -readonly [K in keyof FaultConfig]: FaultConfig[K] },
    private readonly options: WorldOptions,
  ) {}

  static async start(options: WorldOptions): Promise<World> {
    const config = defaultConfig({
      scaling: true,
      simSeed: options.seed,
      simNodes: 3,
      simNodeCpu: "16",
      simNodeMemory: "64Gi",
      leaderElect: options.replicas > 1,
      ...options.config,
    });
    const logger = Logger.make((o) => options.onLog?.(`${o.logLevel} ${render(o.message)}`));
    const runtime = ManagedRuntime.make(
      SimCluster.layer({
        seed: config.simSeed,
        nodes: config.simNodes,
        nodeCpu: config.simNodeCpu,
        nodeMemory: config.simNodeMemory,
        functionNamespace: config.functionNamespace,
      }).pipe(
        Layer.provideMerge(virtualClock),
        Layer.provideMerge(Logger.layer([logger])),
        Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Info")),
        // Retry jitter and the proxy's picks draw from Effect's Random: seeded, they replay.
        Layer.provideMerge(seededEffectRandom(options.seed)),
      ),
    );
    const cluster = await runtime.runPromise(Effect.service(SimCluster));
    const faultConfig = { seed: options.seed * 7919 + 1, rate: 0, watchDropRate: 0, compactRate: 0 };
    installFaults(cluster.api, new Faults(faultConfig));
    const world = new World(runtime, cluster, config, faultConfig, options);
    for (let i = 0; i < options.replicas; i++) {
      world.replicas.push({
        identity: `replica-${i}`,
        link: new Link(),
        apiCut: new Partition(),
        podLink: new Partition(),
        starts: 0,
        down: false,
      });
    }
    for (const r of world.replicas) await world.bootNow(r);
    return world;
  }

  now(): number {
    return this.cluster.clock.now();
  }

  /** Advances virtual time by `ms`, then lets work that the last timers started settle. */
  async advance(ms: number): Promise<void> {
    await this.runtime.runPromise(TestClock.adjust(ms));
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
  }

  /**
   * Builds a replica's runtime on the cluster. Resolves when its caches have synced, which may take
   * virtual time (its first lists can fail under faults): the caller keeps the clock moving meanwhile,
   * or, at start-up, this advances it.
   */
  private boot(replica: ChaosReplica): Promise<void> {
    const identity = replica.identity;
    const replicaConfig: ProviderConfig = { ...this.config, identity };
    const provider = makeProvider(replicaConfig, {
      ...this.options.provider,
      loadPeers: inProcessPeers(this.peers),
    });
    const layer = provider.layer.pipe(
      Layer.provideMerge(simReplicaBackend(replicaConfig, {
        wrapKubeApi: (api) => replica.link.wrap(partitionKubeApi(api, replica.apiCut)),
        wrapUpstream: (upstream, cluster) => ({
          ...upstream,
          ...Disruptions.of(cluster).upstream(upstream, replica.podLink),
        }),
      })),
    );
    replica.starts++;
    const generation = replica.starts;
    const build = async () => {
      const stale = () => replica.down || replica.starts !== generation || this.closed;
      const scope = await this.runtime.runPromise(Scope.make());
      if (stale()) return await this.runtime.runPromise(Scope.close(scope, Exit.void));
      this.scopes.set(identity, scope);
      const context = await this.runtime.runPromise(Layer.buildWithScope(layer, scope));
      // deno-lint-ignore no-explicit-any
      const run = <A>(effect: Effect.Effect<A, any, any>) =>
        this.runtime.runPromise(Effect.provideContext(effect, context) as Effect.Effect<A>);
      await run(provider.synced);
      if (stale()) {
        // Crashed while starting: this runtime must not live on beside the next one.
        if (this.scopes.get(identity) === scope) this.scopes.delete(identity);
        return await this.runtime.runPromise(Scope.close(scope, Exit.void));
      }
      const report = await run(provider.loadReport);
      this.peers.register(identity, report);
      replica.caches = await run(provider.caches);
      replica.decisions = await run(provider.decisions);
      replica.handler = await run(provider.handler);
    };
    return build();
  }

  /** Starts a replica and advances virtual time until it serves (start-up, with the clock stopped). */
  private async bootNow(replica: ChaosReplica): Promise<void> {
    let done = false, failed: unknown;
    this.boot(replica).then(() => (done = true), (e) => {
      done = true;
      failed = e;
    });
    for (let k = 0; k < 600 && !done; k++) await this.advance(100);
    if (failed) throw failed;
    if (!done) throw new Error(`${replica.identity} did not start within 60 s of virtual time`);
  }

  /** A crash: the replica vanishes without a word to the API server (its Lease is not released). */
  async crash(i: number): Promise<void> {
    const replica = this.replicas[i];
    if (replica.down) return;
    replica.down = true;
    replica.handler = undefined;
    replica.caches = undefined;
    replica.decisions = undefined;
    this.peers.unregister(replica.identity);
    const link = replica.link.state;
    replica.link.set("partitioned");
    const scope = this.scopes.get(replica.identity);
    this.scopes.delete(replica.identity);
    if (scope) await this.runtime.runPromise(Scope.close(scope, Exit.void));
    replica.link.set(link);
  }

  /** Restarts a crashed replica; it serves once its caches have synced (in virtual time, asynchronously). */
  restart(i: number): Promise<void> {
    const replica = this.replicas[i];
    if (!replica.down) return Promise.resolve();
    replica.down = false;
    return this.boot(replica).catch(() => {});
  }

  /** Every replica up and linked, waiting (in virtual time) until each serves. */
  async healAll(): Promise<void> {
    for (const r of this.replicas) {
      r.link.set("up");
      r.link.latencyMs = 0;
      r.apiCut.heal();
      r.podLink.heal();
    }
    for (let i = 0; i < this.replicas.length; i++) {
      const r = this.replicas[i];
      if (r.down) {
        r.down = false;
        await this.bootNow(r);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.replicas) r.link.set("up");
    for (const [id, scope] of [...this.scopes].reverse()) {
      this.scopes.delete(id);
      await this.runtime.runPromise(Scope.close(scope, Exit.void));
    }
    await this.runtime.dispose();
  }
}
