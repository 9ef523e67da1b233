/**
 * The simulator as a Kubernetes API server over plain HTTP, for kubectl and any
 * client-go style client: `serveSim` puts the facade (`sim/serve/handler.ts`) on a
 * socket, `kubeconfigFor` points kubectl at it, and `deno task sim` runs it from the
 * command line, optionally faster than real time and with seeded fault injection
 * (`sim/faults.ts`).
 *
 *   deno task sim --port 6443 --write-kubeconfig /tmp/sim.kubeconfig
 *   kubectl --kubeconfig /tmp/sim.kubeconfig get pods -A
 *   kubectl --kubeconfig /tmp/sim.kubeconfig top pods -n openfaas-fn
 *   curl http://<podIP>:8080/     (pods listen on loopback addresses, sim/podnet/listeners.ts)
 */
import { shutdownOnSignals } from "../src/lib/shutdown.ts";
import { Clock, Duration, Effect, Layer, ManagedRuntime } from "effect";
import YAML from "yaml";
import { SimCluster, type SimClusterShape, type SimOptions } from "./cluster.ts";
import type { KObj } from "./kinds.ts";
import { Faults, installFaults, parseFaultFlags } from "./faults.ts";
import { defaultPodCidr, parsePodCidr } from "./controllers/kubelet/podips.ts";
import { makeHandler } from "./serve/handler.ts";
import { ensureKubernetesService } from "./kubernetesservice.ts";

interface ServeOptions {
  readonly port?: number;
  readonly hostname?: string;
  /** Fault injection, installed on the cluster's API server while serving. */
  readonly faults?: Faults;
  /** Called once listening (default: silent). */
  readonly onListen?: (url: string) => void;
}

export interface SimServer {
  readonly url: string;
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  /** Ends open watch and log streams, then stops the server (and uninstalls faults). */
  close(): Promise<void>;
}

/** Serves the cluster over HTTP (port 0 picks a free port). */
export const serveSim = (cluster: SimClusterShape, options: ServeOptions = {}): SimServer => {
  const streams = new Set<() => void>();
  const uninstall = options.faults ? installFaults(cluster.api, options.faults) : undefined;
  const handler = makeHandler(cluster, { faults: options.faults, streams });
  const hostname = options.hostname ?? "127.0.0.1";
  const server = Deno.serve({ port: options.port ?? 0, hostname, onListen: () => {} }, handler);
  const host = server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname;
  const url = `http://${host}:${server.addr.port}`;
  // The `kubernetes` Service's endpoints name the address clients reach this server on.
  const unspecified = ["0.0.0.0", "::", ""].includes(server.addr.hostname);
  ensureKubernetesService(cluster.store, {
    ip: unspecified ? "127.0.0.1" : server.addr.hostname,
    port: server.addr.port,
  });
  options.onListen?.(url);
  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    close: () =>
      closing ??= (async () => {
        for (const end of [...streams]) end();
        uninstall?.();
        await server.shutdown();
      })(),
  };
};

/** A kubeconfig (YAML) whose current context points at `url`, without credentials. */
export const kubeconfigFor = (url: string, opts: { name?: string; namespace?: string } = {}): string => {
  const name = opts.name ?? "faas-deno-sim";
  return YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: url } }],
    users: [{ name, user: {} }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: opts.namespace ?? "default" } }],
    "current-context": name,
    preferences: {},
  });
};

// ---------------------------------------------------------------------------
// Time faster than real time

/** A Clock whose time runs `speed` times faster than the wall clock (sleeps are shortened to match). */
const scaledClock = (speed: number, start = Date.now()): Clock.Clock => {
  const now = () => start + (Date.now() - start) * speed;
  const sleep = (millis: number): Effect.Effect<void> =>
    millis <= 0 ? Effect.yieldNow : Effect.callback<void>((resume) => {
      const handle = setTimeout(() => resume(Effect.void), Math.min(millis / speed, 2 ** 31 - 1));
      return Effect.sync(() => clearTimeout(handle));
    });
  return {
    currentTimeMillisUnsafe: () => Math.floor(now()),
    currentTimeMillis: Effect.sync(() => Math.floor(now())),
    currentTimeNanosUnsafe: () => BigInt(Math.floor(now() * 1e6)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.floor(now() * 1e6))),
    monotonicTimeNanosUnsafe: () => BigInt(Math.floor(performance.now() * speed * 1e6)),
    monotonicTimeNanos: Effect.sync(() => BigInt(Math.floor(performance.now() * speed * 1e6))),
    sleep: (d) => sleep(Duration.toMillis(d)),
  };
};

// ---------------------------------------------------------------------------
// CLI

const simHelp = `deno task sim [flags]: the cluster simulator as a Kubernetes API server (plain HTTP)

  --port N                  port on 127.0.0.1 (default 6443; 0 picks a free one)
  --host H                  address to listen on (default 127.0.0.1)
  --write-kubeconfig PATH   write a kubeconfig for kubectl pointing at the server
  --seed N                  simulator seed (default 1)
  --nodes N                 simulated nodes (default 3)
  --node-cpu Q, --node-memory Q   node capacity (default 4, 16Gi)
  --function-namespace NS   namespace labelled openfaas=1 at start (default openfaas-fn)
  --profile-crd BOOL        install OpenFaaS's Profile CRD at start (default true; false: a bare cluster)
  --pod-network MODE        loopback (default): pod IPs in 127.10.0.0/16 and every running pod listens
                            there on real sockets (curl http://<podIP>:8080/); virtual: pod IPs in
                            10.244.0.0/16 that nothing outside the simulator can reach
  --pod-cidr A.B.0.0/16     where pod IPs start (default 127.10.0.0/16 loopback, 10.244.0.0/16 virtual);
                            node n gets A.(B+n/256).(n%256).0/24. Two simulators with loopback pods on one
                            host need different ones (e.g. --pod-cidr 127.60.0.0/16)
  --speed X                 simulated time runs X times faster than real time (default 1)
  --fault-rate R | VERB=R,...   injected error probability (verbs: get list watch create update patch delete, *)
  --fault-status LIST       statuses to inject (default 500,503,429,409; 409 only on update/patch)
  --fault-latency MS|MIN-MAX   added latency per request
  --fault-watch-drop R[:MIN-MAX]   probability a watch ends early (after MIN..MAX events)
  --fault-compact R         probability per request that watch history is compacted (resumes get 410)
  --fault-retry-after S     Retry-After seconds on 429/503 (default 1)
  --fault-seed N            seed of the fault generator (default: --seed)
`;

const parseSimArgs = (args: readonly string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (a === "--help" || a === "-h") out.help = "true";
    else {
      const v = args[i + 1];
      if (v === undefined) throw new Error(`${a} needs a value`);
      out[a.slice(2)] = v;
      i++;
    }
  }
  return out;
};

const known = new Set([
  "help",
  "port",
  "host",
  "write-kubeconfig",
  "seed",
  "nodes",
  "node-cpu",
  "node-memory",
  "function-namespace",
  "profile-crd",
  "pod-network",
  "pod-cidr",
  "speed",
  "fault-rate",
  "fault-status",
  "fault-latency",
  "fault-watch-drop",
  "fault-compact",
  "fault-retry-after",
  "fault-seed",
]);

/** What simulated containers write to their log when they start (classic and of-watchdog style). */
const watchdogLog = (image: { repository?: string }, _pod: KObj, c: KObj): string[] => {
  const fprocess = (c.env ?? []).find((e: { name: string }) => e.name === "fprocess")?.value;
  return [
    `Version: 0.9.x-sim\tSHA: faas-deno-sim`,
    ...(fprocess ? [`Forking - ${fprocess} []`] : []),
    `Listening on port: 8080`,
    `Writing lock-file to: /tmp/.lock`,
    `Metrics listening on port: 8081`,
    ...(image.repository ? [`Image: ${image.repository}`] : []),
  ];
};

/** Whether this host routes loopback addresses beyond 127.0.0.1 (Linux does; macOS needs `ifconfig lo0 alias`). */
const loopbackUsable = (ip: string): boolean => {
  try {
    Deno.listen({ hostname: ip, port: 0 }).close();
    return true;
  } catch {
    return false;
  }
};

const main = async (args: readonly string[]) => {
  let flags: Record<string, string>;
  let faults: Faults | undefined;
  let simOptions: SimOptions;
  let speed: number;
  try {
    flags = parseSimArgs(args);
    for (const k of Object.keys(flags)) if (!known.has(k)) throw new Error(`unknown flag --${k}`);
    if (flags.help) {
      console.log(simHelp);
      return;
    }
    const int = (name: string, fallback: number) => {
      const v = flags[name] === undefined ? fallback : Number(flags[name]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`--${name}: expected a non-negative integer`);
      return v;
    };
    const bool = (name: string, fallback: boolean) => {
      const v = flags[name];
      if (v === undefined) return fallback;
      if (v !== "true" && v !== "false") throw new Error(`--${name}: expected true or false`);
      return v === "true";
    };
    speed = flags.speed === undefined ? 1 : Number(flags.speed);
    if (!Number.isFinite(speed) || speed <= 0) throw new Error("--speed: expected a positive number");
    const seed = int("seed", 1);
    const podNetwork = flags["pod-network"] ?? "loopback";
    if (podNetwork !== "loopback" && podNetwork !== "virtual") {
      throw new Error(`--pod-network: expected loopback or virtual, not "${podNetwork}"`);
    }
    const podCidr = flags["pod-cidr"];
    if (podCidr !== undefined) {
      try {
        parsePodCidr(podNetwork, podCidr);
      } catch (e) {
        throw new Error(`--pod-cidr: ${(e as Error).message}`);
      }
    }
    simOptions = {
      seed,
      nodes: int("nodes", 3),
      nodeCpu: flags["node-cpu"],
      nodeMemory: flags["node-memory"],
      functionNamespace: flags["function-namespace"],
      profileCrd: bool("profile-crd", true),
      kubelet: { startupLog: watchdogLog },
      podNetwork,
      podCidr,
    };
    const faultFlags = {
      seed: flags["fault-seed"] ?? seed,
      rate: flags["fault-rate"],
      statuses: flags["fault-status"],
      latency: flags["fault-latency"],
      watchDrop: flags["fault-watch-drop"],
      compact: flags["fault-compact"],
      retryAfter: flags["fault-retry-after"],
    };
    if (Object.entries(faultFlags).some(([k, v]) => k !== "seed" && v !== undefined)) {
      faults = new Faults(parseFaultFlags(faultFlags));
    }
    int("port", 6443);
  } catch (e) {
    console.error(`sim: ${(e as Error).message}\n\n${simHelp}`);
    Deno.exit(2);
  }
  const podCidr = simOptions.podCidr ?? defaultPodCidr(simOptions.podNetwork ?? "virtual");
  // The range's first address (A.B.0.1 of A.B.0.0/16) stands for the rest.
  const first = podCidr.replace(/\.0\/16$/, ".1");
  if (simOptions.podNetwork === "loopback" && !loopbackUsable(first)) {
    const why = `cannot listen on ${first} (on macOS: sudo ifconfig lo0 alias <podIP> for each address)`;
    if (flags["pod-network"] || flags["pod-cidr"]) {
      console.error(`sim: --pod-network loopback: ${why}`);
      Deno.exit(2);
    }
    console.error(`sim: ${why}; pods use the virtual network (--pod-network virtual)`);
    simOptions = { ...simOptions, podNetwork: "virtual", podCidr: undefined };
  }
  const clusterLayer = SimCluster.layer(simOptions);
  const runtime = ManagedRuntime.make(
    speed === 1
      ? clusterLayer
      : clusterLayer.pipe(Layer.provide(Layer.succeed(Clock.Clock, scaledClock(speed)))),
  );
  const cluster = await runtime.runPromise(Effect.service(SimCluster));
  const sim = serveSim(cluster, {
    port: Number(flags.port ?? 6443),
    hostname: flags.host ?? "127.0.0.1",
    faults,
  });
  console.log(
    `faas-deno simulator: Kubernetes API on ${sim.url} (seed ${cluster.options.seed}, ${cluster.options.nodes} nodes${
      speed !== 1 ? `, ${speed}x speed` : ""
    }${faults ? ", faults on" : ""})`,
  );
  console.log(
    simOptions.podNetwork === "loopback"
      ? `pods: listening on their IPs in ${podCidr} (curl http://<podIP>:8080/)`
      : `pods: virtual IPs in ${
        simOptions.podCidr ?? defaultPodCidr("virtual")
      }, not reachable from the host`,
  );
  if (flags["write-kubeconfig"]) {
    await Deno.writeTextFile(flags["write-kubeconfig"], kubeconfigFor(sim.url));
    console.log(
      `kubeconfig: ${flags["write-kubeconfig"]} (kubectl --kubeconfig ${
        flags["write-kubeconfig"]
      } get pods -A)`,
    );
  }
  shutdownOnSignals(async () => {
    await sim.close();
    await runtime.dispose();
  });
  await sim.server.finished;
};

if (import.meta.main) await main(Deno.args);
