/**
 * Pods on the host's network (the "loopback" pod network, sim/controllers/kubelet/podips.ts): while a
 * pod's container is up, a real socket listens on the pod's IP (127.10.x.y) and each TCP port its
 * container declares (8080, the watchdog's port, when it declares none), and the pod's image answers
 * there exactly as through the in-process network (./exchange.ts). So `curl http://<podIP>:8080/`
 * works, and so does any provider proxying to pod IPs from the EndpointSlices.
 *
 * The sockets follow the pod: they open when its container starts and close (requests in flight are
 * cut, new connections refused) when the container stops (crash, OOM, liveness kill, the end of a
 * deletion's grace period), the pod is deleted or its node is; a restarted container listens again.
 * An address whose previous socket is still closing is bound once it has closed. A port that cannot
 * be bound (taken by another process, no file descriptors left) fails that pod only: a Warning event
 * `FailedListen`, the condition `sim.faas-deno.dev/Listening` False on the pod, a line in its container
 * log and one on stderr; binding is tried again at the pod's next change and whenever another pod's
 * socket closes. The pods hold at most the sockets the open-file limit allows less a reserve for the
 * API server and connections (./budget.ts): past that, pods fail to bind as with no descriptors left.
 */
import { rfc3339, type SimClock } from "../clock.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { StoreEvent } from "../watch.ts";
import { type Controller, nsName, splitKey } from "../controllers/hub.ts";
import { recordEvent } from "../controllers/events.ts";
import { goLog } from "../images/context.ts";
import { exchange, listeningImage, type PodRuntime, podServes } from "./exchange.ts";
import { onTheWire } from "./streams.ts";
import { reservedDescriptors, type SocketBudget, socketBudget } from "./budget.ts";

/** The pod condition that reports whether the pod's sockets could be bound (only once one could not). */
export const listeningCondition = "sim.faas-deno.dev/Listening";

/** The watchdog's port: where an image listens when its container declares no port. */
const defaultPort = 8080;

/** One run of a pod's container on the host network. */
interface PodSockets {
  readonly key: string;
  readonly uid: string;
  readonly ip: string;
  /** Changes with each start of the container. */
  readonly containerID: string;
  readonly container: string;
  readonly node: string;
  readonly ports: readonly number[];
  /** Aborted when the container stops: requests in flight end. */
  readonly kill: AbortController;
  readonly servers: Map<number, Deno.HttpServer>;
  /** Ports waiting for the previous socket on their address to close. */
  readonly waiting: Set<number>;
  /** Ports that could not be bound, with the reason. */
  readonly failed: Map<number, string>;
}

export interface PodListenersOptions {
  /** Told why a port could not be bound (default: a line on stderr). */
  readonly onBindError?: (message: string) => void;
  /** How many sockets the pods may hold (default: from the open-file limit, ./budget.ts). */
  readonly budget?: SocketBudget;
}

/** What a bind beyond the budget fails with. */
class OverBudget extends Error {}

/** A bind error as Go's net package words it (what the watchdog would log before exiting). */
const listenError = (ip: string, port: number, e: unknown): string => {
  const what = e instanceof Deno.errors.AddrInUse
    ? "bind: address already in use"
    : e instanceof Deno.errors.AddrNotAvailable
    ? "bind: cannot assign requested address"
    : e instanceof OverBudget || /os error 24\b/.test(String((e as Error)?.message))
    ? "socket: too many open files"
    : (e as Error)?.message ?? String(e);
  return `listen tcp ${ip}:${port}: ${what}`;
};

/** The TCP ports the pod's (first, the simulated) container declares, or the watchdog's. */
const portsOf = (pod: KObj): number[] => {
  const ports = new Set<number>();
  for (const p of pod.spec?.containers?.[0]?.ports ?? []) {
    if ((p.protocol ?? "TCP") === "TCP" && Number.isInteger(p.containerPort)) ports.add(p.containerPort);
  }
  return ports.size > 0 ? [...ports].sort((a, b) => a - b) : [defaultPort];
};

/** A response whose body breaks at once. */
const cut = () =>
  new Response(
    new ReadableStream({ pull: (c) => c.error(new Error("the container stopped")) }),
    { status: 502 },
  );

export class PodListeners implements Controller {
  readonly name = "podnet";
  private readonly pods = new Map<string, PodSockets>();
  /** Sockets being closed, by `ip:port`. */
  private readonly closing = new Map<string, Promise<void>>();
  private closed = false;
  private readonly onBindError: (message: string) => void;
  /** Sockets the pods may hold, and the open-file limit that says so (./budget.ts). */
  private budget: SocketBudget;
  /** Sockets open or closing (closing ones still hold their descriptor). */
  private held = 0;
  /** Runs with ports that could not be bound. */
  private readonly failing = new Set<PodSockets>();

  constructor(
    private readonly host: PodRuntime & { readonly clock: SimClock },
    options: PodListenersOptions = {},
  ) {
    this.onBindError = options.onBindError ?? ((m) => console.error(`sim: ${m}`));
    this.budget = options.budget ?? socketBudget();
  }

  /** Sockets listening now. */
  get listening(): number {
    let n = 0;
    for (const p of this.pods.values()) n += p.servers.size;
    return n;
  }

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Pod) return [nsName(e.object)];
    if (e.kind === Kinds.Node && e.type === "DELETED") {
      return [...this.pods.values()].filter((p) => p.node === e.object.metadata.name).map((p) => p.key);
    }
    return [];
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const pod = this.host.store.peek(Kinds.Pod, ns, name);
    const want = pod && !this.closed ? this.wanted(key, pod) : undefined;
    const have = this.pods.get(key);
    if (
      have &&
      (!want || want.uid !== have.uid || want.ip !== have.ip || want.containerID !== have.containerID ||
        want.ports.join() !== have.ports.join())
    ) {
      this.pods.delete(key);
      this.stop(have);
    }
    if (!want) return;
    let run = this.pods.get(key);
    if (!run) this.pods.set(key, run = want);
    for (const port of run.ports) {
      if (!run.servers.has(port) && !run.waiting.has(port)) this.listen(run, port);
    }
  }

  /** Stops every socket and waits until all are closed (the cluster's shutdown). */
  async closeAll(): Promise<void> {
    this.closed = true;
    for (const run of this.pods.values()) this.stop(run);
    this.pods.clear();
    while (this.closing.size > 0) await Promise.all(this.closing.values());
  }

  /** The sockets the pod should have now, or undefined when nothing of it listens. */
  private wanted(key: string, pod: KObj): PodSockets | undefined {
    const ip = pod.status?.podIP;
    if (!ip || !podServes(this.host, pod) || !listeningImage(this.host.catalog, pod)) return undefined;
    return {
      key,
      uid: pod.metadata.uid,
      ip,
      containerID: pod.status.containerStatuses?.[0]?.containerID ?? "",
      container: pod.spec.containers[0].name,
      node: pod.spec.nodeName ?? "",
      ports: portsOf(pod),
      kill: new AbortController(),
      servers: new Map(),
      waiting: new Set(),
      failed: new Map(),
    };
  }

  private listen(run: PodSockets, port: number) {
    const before = this.closing.get(`${run.ip}:${port}`);
    if (!before) return this.bind(run, port);
    run.waiting.add(port);
    before.then(() => {
      run.waiting.delete(port);
      if (this.pods.get(run.key) === run) this.listen(run, port);
    });
  }

  private bind(run: PodSockets, port: number) {
    try {
      if (this.held >= this.budget.sockets) throw this.overBudget();
      const server = Deno.serve({
        hostname: run.ip,
        port,
        onListen: () => {},
        onError: (e) => new Response(`${(e as Error)?.message ?? e}\n`, { status: 500 }),
      }, (req) => this.serve(run, req));
      run.servers.set(port, server);
      this.held++;
      run.failed.delete(port);
      // All bound: a condition left False (by this run, or the container's previous one) turns True.
      if (run.failed.size === 0) {
        this.failing.delete(run);
        if (this.conditionOf(run)?.status === "False") {
          this.setCondition(run, "True", "Listening", `listening on ${run.ip}:${run.ports.join(",")}`);
        }
      }
    } catch (e) {
      this.fail(run, port, e);
      if (!(e instanceof OverBudget) && listenError(run.ip, port, e).endsWith("too many open files")) {
        this.outOfDescriptors();
      }
    }
  }

  private overBudget() {
    const limit = this.budget.limit === undefined ? "" : ` of ${this.budget.limit}`;
    return new OverBudget(
      `${this.held} pod sockets open, the most the open-file limit${limit} allows ` +
        `(the simulator keeps the rest for its API server and connections)`,
    );
  }

  /**
   * The process ran out of file descriptors (its limit was unknown): from now on the pods hold that
   * many sockets less the reserve, and the newest sockets close at once (their pods fail to listen and
   * are bound again when sockets free up), so that the API server can accept connections again.
   */
  private outOfDescriptors() {
    const shed = Math.min(reservedDescriptors, Math.floor(this.held / 2));
    this.budget = { sockets: this.held - shed, limit: this.budget.limit };
    this.onBindError(
      `out of file descriptors with ${this.held} pod sockets: the pods now hold at most ` +
        `${this.budget.sockets}, and the newest ${shed} close (raise ulimit -n for more)`,
    );
    const error = this.overBudget();
    let left = shed;
    for (const run of [...this.pods.values()].reverse()) {
      for (const [port, server] of run.servers) {
        if (left-- <= 0) return;
        run.servers.delete(port);
        this.closeServer(`${run.ip}:${port}`, server);
        this.fail(run, port, error, true);
      }
    }
  }

  /** The port could not be bound: reported once per reason (event, condition, container log, stderr). */
  private fail(run: PodSockets, port: number, e: unknown, quiet = false) {
    const message = listenError(run.ip, port, e);
    if (run.failed.get(port) === message) return;
    run.failed.set(port, message);
    this.failing.add(run);
    const [ns, name] = splitKey(run.key);
    const pod = this.host.store.peek(Kinds.Pod, ns, name);
    if (pod) {
      recordEvent(this.host.store, this.host.clock, pod, "Warning", "FailedListen", message, "kubelet");
    }
    this.host.logs.append(ns, name, run.container, this.host.clock.now(), goLog(this.host.clock, message));
    if (!quiet) {
      this.onBindError(
        `pod ${run.key} cannot listen on the host: ${message} (${(e as Error)?.message ?? e})`,
      );
    }
    this.setCondition(run, "False", "BindFailed", [...run.failed.values()].join("; "));
  }

  /** A socket was freed: pods that could not bind try again (one that fails the same way stays quiet). */
  private retryFailed() {
    if (this.closed) return;
    for (const run of this.failing) {
      for (const port of run.failed.keys()) {
        if (this.held >= this.budget.sockets) return;
        if (!run.servers.has(port) && !run.waiting.has(port)) this.listen(run, port);
      }
    }
  }

  /** The pod's listening condition, if it has one. */
  private conditionOf(run: PodSockets): KObj | undefined {
    const [ns, name] = splitKey(run.key);
    const pod = this.host.store.peek(Kinds.Pod, ns, name);
    if (pod?.metadata.uid !== run.uid) return undefined;
    return (pod.status?.conditions ?? []).find((c: KObj) => c.type === listeningCondition);
  }

  private setCondition(run: PodSockets, status: "True" | "False", reason: string, message: string) {
    const [ns, name] = splitKey(run.key);
    const pod = this.host.store.peek(Kinds.Pod, ns, name);
    if (pod?.metadata.uid !== run.uid) return;
    const before = this.conditionOf(run);
    if (before?.status === status && before.reason === reason && before.message === message) return;
    this.host.store.mutate(Kinds.Pod, ns, name, (o) => {
      const now = rfc3339(this.host.clock.now());
      const others = (o.status.conditions ?? []).filter((c: KObj) => c.type !== listeningCondition);
      o.status.conditions = [...others, {
        type: listeningCondition,
        status,
        lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
        reason,
        message,
      }];
    });
  }

  private stop(run: PodSockets) {
    run.kill.abort();
    this.failing.delete(run);
    for (const [port, server] of run.servers) this.closeServer(`${run.ip}:${port}`, server);
    run.servers.clear();
  }

  private closeServer(address: string, server: Deno.HttpServer) {
    const done: Promise<void> = server.shutdown().catch(() => {}).then(() => {
      if (this.closing.get(address) === done) this.closing.delete(address);
      this.held--;
      this.retryFailed();
    });
    this.closing.set(address, done);
  }

  private async serve(run: PodSockets, req: Request): Promise<Response> {
    const [ns, name] = splitKey(run.key);
    const pod = this.host.store.peek(Kinds.Pod, ns, name);
    const image = pod && pod.metadata.uid === run.uid && podServes(this.host, pod)
      ? listeningImage(this.host.catalog, pod)
      : undefined;
    if (!pod || !image || run.kill.signal.aborted) {
      // The container has just stopped; its socket is closing.
      return new Response("the container has stopped\n", { status: 503 });
    }
    const signal = AbortSignal.any([req.signal, run.kill.signal]);
    try {
      const res = await exchange(this.host, pod, image, new Request(req, { signal }));
      return await onTheWire(res, run.kill.signal);
    } catch (e) {
      // A stopped container answers nothing: the connection breaks (a body that fails, as close as
      // Deno.serve comes to a reset).
      if (run.kill.signal.aborted) return cut();
      return new Response(`${(e as Error).message}\n`, { status: 502 });
    }
  }
}
