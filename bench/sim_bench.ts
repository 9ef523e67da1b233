/**
 * `deno task bench:sim`: the simulator at scale. One process holds a cluster of `--nodes` simulated
 * nodes with `--functions` functions (a Deployment and a Service each, as the provider makes them:
 * src/provider/translate.ts) of `--pods-per-function` pods; then, over HTTP as a client sees it
 * (serveSim on 127.0.0.1), it measures:
 *
 * - get: one pod, one Deployment (p50/p99);
 * - list: one function's pods by label selector (`labelSelector=faas_function=fn-N`) in its namespace;
 * - watch: the time from a write (a PATCH, sent over HTTP) to its event on an open watch, for a watch
 *   of every Deployment in the namespace and for a label-selected watch of one function's pods;
 * - sustained pod creation: `--rate` pods/s (functions scaled up by one through the `scale`
 *   subresource) for `--sustain-s` seconds of wall time, with the cluster's clock kept in step with
 *   the wall clock: create-to-Ready latency, and the backlog (pods created but not Ready at the end,
 *   and still not Ready `settle` seconds later);
 * - memory: RSS and V8 heap, heap bytes per stored object, and what the watch history holds.
 *
 * The population is built in process (SimApiServer.handle, no HTTP) in virtual time (TestClock):
 * the controllers schedule and start the pods as virtual time is advanced, which takes little wall
 * time. Targets (issue 10, point 7): get and list p99 < 10 ms, watch p99 < 10 ms, no backlog.
 *
 * Options: --functions N (10000), --pods-per-function N (10), --nodes N (1000), --samples N (1000),
 * --rate N (20), --sustain-s S (20), --quiet.
 */
import { defaultConfig } from "../src/app.ts";
import { parseArgs } from "node:util";
import { Effect, Layer, ManagedRuntime } from "effect";
import { TestClock } from "effect/testing";
import { SimCluster, type SimClusterShape } from "../sim/cluster.ts";
import { serveSim } from "../sim/serve.ts";
import { Kinds, type KObj } from "../sim/kinds.ts";
import { isPodReady } from "../sim/controllers/deployment.ts";
import { toKubernetes, type TranslateConfig } from "../src/provider/translate.ts";
import { formatTable, percentile } from "./util.ts";

export interface SimBenchOptions {
  readonly functions: number;
  readonly podsPerFunction: number;
  readonly nodes: number;
  /** Requests per read measurement (and writes per watch measurement: a tenth of them). */
  readonly samples: number;
  /** Pods per second in the sustained phase. */
  readonly rate: number;
  readonly sustainSeconds: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** p50 and p99 of a measurement, in milliseconds. */
export interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
}

export interface SimBenchResult {
  readonly population: {
    readonly functions: number;
    readonly pods: number;
    readonly readyPods: number;
    readonly nodes: number;
    /** Stored objects by kind. */
    readonly objects: Readonly<Record<string, number>>;
    readonly buildSeconds: number;
  };
  readonly latency: {
    readonly getPod: Latency;
    readonly getDeployment: Latency;
    readonly listByLabel: Latency;
    readonly watchDeployments: Latency;
    readonly watchPodsByLabel: Latency;
  };
  readonly sustained: {
    readonly targetRate: number;
    readonly achievedRate: number;
    readonly created: number;
    readonly readyLatency: Latency;
    /** Created but not Ready when the phase ended. */
    readonly notReadyAtEnd: number;
    /** Still not Ready `settleSeconds` after it ended. */
    readonly backlog: number;
    readonly settleSeconds: number;
  };
  readonly memory: {
    readonly rssBytes: number;
    readonly heapUsedBytes: number;
    /** Heap growth from the empty cluster to the built one, per stored object. */
    readonly heapBytesPerObject: number;
    readonly historyEvents: number;
    /** Heap the watch history held (measured by dropping it at the end). */
    readonly historyHeapBytes: number;
  };
  /** Rows of the printed table. */
  readonly table: string;
}

const ns = "openfaas-fn";
const translateConfig: TranslateConfig = defaultConfig({ imagePullPolicy: "IfNotPresent" });

const fnName = (i: number) => `fn-${i}`;

const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** The 1-minute load average, when the process may read it (`--allow-sys=loadavg`). */
const loadAverage = (): string => {
  try {
    return Deno.loadavg()[0].toFixed(1);
  } catch {
    return "unknown";
  }
};

const latency = (samples: number[]): Latency => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), samples: sorted.length };
};

const ms = (n: number) => n.toFixed(2);
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/** A deterministic PRNG (xorshift) for picking objects to read. */
const picker = (seed: number) => {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
};

const check = (res: { status: number; body: unknown }, what: string) => {
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as KObj;
};

/** Counts Ready pods as the store changes (and when each pod was created and became Ready). */
const readiness = (cluster: SimClusterShape) => {
  const state = { ready: 0, pods: 0, createdAt: new Map<string, number>(), readyAfter: [] as number[] };
  const unsubscribe = cluster.store.subscribe((e) => {
    if (e.kind !== Kinds.Pod) return;
    const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
    const was = e.old ? isPodReady(e.old) : false;
    const is = e.type !== "DELETED" && isPodReady(e.object);
    if (e.type === "ADDED") state.pods++;
    if (e.type === "DELETED") state.pods--;
    if (is && !was) {
      state.ready++;
      const at = state.createdAt.get(key);
      if (at !== undefined) {
        state.readyAfter.push(cluster.clock.now() - at);
        state.createdAt.delete(key);
      }
    } else if (was && !is) state.ready--;
  });
  return { state, unsubscribe };
};

/** An open watch over HTTP: resolves `waitFor(predicate)` when a matching event arrives. */
const openWatch = async (url: string) => {
  const abort = new AbortController();
  const res = await fetch(url, { signal: abort.signal });
  if (!res.ok || !res.body) throw new Error(`watch ${url}: ${res.status}`);
  const waiters: { match: (e: { type: string; object: KObj }) => boolean; resolve: () => void }[] = [];
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const pump = (async () => {
    let buffered = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffered += value;
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const event = JSON.parse(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
          for (let i = waiters.length - 1; i >= 0; i--) {
            if (waiters[i].match(event)) waiters.splice(i, 1)[0].resolve();
          }
        }
      }
    } catch { /* closed */ }
  })();
  return {
    /** Resolves on the first event that matches (rejects after 30 s without one). */
    waitFor: (match: (e: { type: string; object: KObj }) => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no watch event for ${what} in 30 s`)), 30_000);
        waiters.push({ match, resolve: () => (clearTimeout(timer), resolve()) });
      }),
    close: async () => {
      await reader.cancel().catch(() => {});
      abort.abort();
      await pump;
    },
  };
};

/** A JSON merge patch over HTTP that must succeed. */
const mergePatch = async (url: string, patch: unknown) => {
  const res = await fetch(url, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify(patch),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`PATCH ${url}: ${res.status} ${body.slice(0, 300)}`);
};

/** Times `n` requests made one after the other (ms each). */
const timeRequests = async (n: number, request: (i: number) => Promise<void>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await request(i);
    out.push(performance.now() - t);
  }
  return out;
};

const getOk = async (url: string) => {
  const res = await fetch(url);
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 200)}`);
  return body;
};

export const runSimBench = async (opts: SimBenchOptions): Promise<SimBenchResult> => {
  const log = opts.log ?? (() => {});
  const rt = ManagedRuntime.make(
    SimCluster.layer({ nodes: opts.nodes, nodeMemory: "64Gi", functionNamespace: ns }).pipe(
      Layer.provideMerge(TestClock.layer({ warningDelay: "1 hour" })),
    ),
  );
  const advance = (millis: number) => rt.runPromise(TestClock.adjust(millis));
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    gc();
    const heapBefore = Deno.memoryUsage().heapUsed;
    const started = performance.now();
    const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
    const { state, unsubscribe } = readiness(cluster);
    const wanted = opts.functions * opts.podsPerFunction;

    // Build in process: the functions, then virtual time until every pod is Ready.
    const chunk = Math.max(1, Math.min(1_000, Math.ceil(opts.functions / 10)));
    for (let i = 0; i < opts.functions; i++) {
      const { deployment, service } = toKubernetes(
        { service: fnName(i), image: "functions/alpine:latest", labels: { "com.openfaas.scale.min": "1" } },
        ns,
        [],
        translateConfig,
      );
      deployment.spec!.replicas = opts.podsPerFunction;
      check(
        cluster.api.handle({
          method: "POST",
          path: `/apis/apps/v1/namespaces/${ns}/deployments`,
          body: deployment,
        }),
        "create deployment",
      );
      check(
        cluster.api.handle({ method: "POST", path: `/api/v1/namespaces/${ns}/services`, body: service }),
        "create service",
      );
      if ((i + 1) % chunk === 0 || i + 1 === opts.functions) {
        // A little virtual time lets the controllers take each chunk's pods through their steps.
        await advance(100);
        log(
          `  functions ${i + 1}/${opts.functions}, pods ${state.pods}, ready ${state.ready}  (${elapsed()})`,
        );
      }
    }
    for (let t = 0; state.ready < wanted && t < 600; t++) {
      await advance(1_000);
      if (t % 5 === 4 || state.ready >= wanted) {
        log(`  pods ${state.pods}/${wanted}, ready ${state.ready}  (${elapsed()}, +${t + 1} s cluster time)`);
      }
    }
    const buildSeconds = (performance.now() - started) / 1000;
    const objects: Record<string, number> = {};
    let totalObjects = 0;
    for (const kind of Object.values(Kinds)) {
      const n = [...cluster.store.scan(kind)].length;
      if (n > 0) objects[kind.kind] = n;
      totalObjects += n;
    }
    gc();
    const mem = Deno.memoryUsage();
    const population = {
      functions: opts.functions,
      pods: state.pods,
      readyPods: state.ready,
      nodes: opts.nodes,
      objects,
      buildSeconds,
    };
    log(`  built: ${totalObjects} objects, heap ${mib(mem.heapUsed)}, rss ${mib(mem.rss)}  (${elapsed()})`);

    // Reads over HTTP.
    const server = serveSim(cluster, { port: 0 });
    try {
      const base = `${server.url}/api/v1/namespaces/${ns}/pods`;
      const deployments = `${server.url}/apis/apps/v1/namespaces/${ns}/deployments`;
      const podNames = [...cluster.store.scan(Kinds.Pod, ns)].map((p) => p.metadata.name!);
      const pick = picker(7);
      // Latencies on a busy machine measure the machine: say how busy it was.
      const host = `${navigator.hardwareConcurrency} CPUs, load average ${loadAverage()} when measuring`;
      // Warm-up: connections and code paths.
      for (let i = 0; i < 50; i++) await getOk(`${base}/${podNames[pick(podNames.length)]}`);
      const getPod = await timeRequests(opts.samples, async () => {
        await getOk(`${base}/${podNames[pick(podNames.length)]}`);
      });
      const getDeployment = await timeRequests(opts.samples, async () => {
        await getOk(`${deployments}/${fnName(pick(opts.functions))}`);
      });
      let listed = 0;
      const listByLabel = await timeRequests(opts.samples, async () => {
        const body = await getOk(`${base}?labelSelector=faas_function%3D${fnName(pick(opts.functions))}`);
        listed += JSON.parse(body).items.length;
      });
      if (listed !== opts.samples * opts.podsPerFunction) {
        throw new Error(
          `label-selected lists returned ${listed} pods, not ${opts.samples * opts.podsPerFunction}`,
        );
      }
      log(`  reads measured  (${elapsed()})`);

      // Watches: a write over HTTP, then its event on an open watch.
      const writes = Math.max(10, Math.ceil(opts.samples / 10));
      const rv = String(cluster.store.resourceVersion);
      const watchAll = await openWatch(`${deployments}?watch=1&resourceVersion=${rv}`);
      const watchDeployments = await timeRequests(writes, async (i) => {
        const name = fnName(pick(opts.functions));
        const seen = watchAll.waitFor(
          (e) =>
            e.object.metadata?.name === name && e.object.metadata.annotations?.["bench/mark"] === `d${i}`,
          `deployment ${name}`,
        );
        await mergePatch(`${deployments}/${name}`, { metadata: { annotations: { "bench/mark": `d${i}` } } });
        await seen;
      });
      await watchAll.close();
      const fn = fnName(pick(opts.functions));
      const fnPods = cluster.store.select(Kinds.Pod, ns, [{ key: "faas_function", op: "=", value: fn }])
        .map((p) => p.metadata.name!);
      const watchFn = await openWatch(
        `${base}?watch=1&labelSelector=faas_function%3D${fn}&resourceVersion=${cluster.store.resourceVersion}`,
      );
      const watchPodsByLabel = await timeRequests(writes, async (i) => {
        const name = fnPods[i % fnPods.length];
        const seen = watchFn.waitFor(
          (e) =>
            e.object.metadata?.name === name && e.object.metadata.annotations?.["bench/mark"] === `p${i}`,
          `pod ${name}`,
        );
        await mergePatch(`${base}/${name}`, { metadata: { annotations: { "bench/mark": `p${i}` } } });
        await seen;
      });
      await watchFn.close();
      log(`  watches measured  (${elapsed()})`);

      // Sustained creation: scale functions up by one, `rate` a second, the cluster clock in step with
      // the wall clock (ticks of 1000/rate ms: each tick a scale over HTTP and the time since the last).
      const tickMs = 1000 / opts.rate;
      const scaleStarted = performance.now();
      const clockStarted = cluster.clock.now();
      const createdAt = state.createdAt;
      const stopCreated = cluster.store.subscribe((e) => {
        if (e.kind === Kinds.Pod && e.type === "ADDED") {
          createdAt.set(`${e.object.metadata.namespace}/${e.object.metadata.name}`, cluster.clock.now());
        }
      });
      let created = 0, nextFn = 0;
      const replicas = new Map<string, number>();
      while (performance.now() - scaleStarted < opts.sustainSeconds * 1000) {
        const due = scaleStarted + created * tickMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const name = fnName(nextFn++ % opts.functions);
        const want = (replicas.get(name) ?? opts.podsPerFunction) + 1;
        replicas.set(name, want);
        await mergePatch(`${deployments}/${name}/scale`, { spec: { replicas: want } });
        created++;
        const lag = performance.now() - scaleStarted - (cluster.clock.now() - clockStarted);
        if (lag > 0) await advance(lag);
        if (created % (opts.rate * 5) === 0) {
          log(`  sustained: ${created} scaled up, ${createdAt.size} not yet Ready  (${elapsed()})`);
        }
      }
      const wallSeconds = (performance.now() - scaleStarted) / 1000;
      stopCreated();
      const notReadyAtEnd = createdAt.size;
      const settleSeconds = 10;
      await advance(settleSeconds * 1000);
      const backlog = createdAt.size;
      const sustained = {
        targetRate: opts.rate,
        achievedRate: created / wallSeconds,
        created,
        // Of every pod created in the phase, once Ready (also those that became Ready while settling).
        readyLatency: latency(state.readyAfter),
        notReadyAtEnd,
        backlog,
        settleSeconds,
      };
      unsubscribe();

      // Memory: the watch history's share, measured by dropping it.
      gc();
      const withHistory = Deno.memoryUsage().heapUsed;
      const historyEvents = cluster.store.historyLength;
      cluster.store.compact();
      gc();
      const historyHeapBytes = Math.max(0, withHistory - Deno.memoryUsage().heapUsed);
      const memory = {
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        heapBytesPerObject: (mem.heapUsed - heapBefore) / Math.max(1, totalObjects),
        historyEvents,
        historyHeapBytes,
      };
      const lat = {
        getPod: latency(getPod),
        getDeployment: latency(getDeployment),
        listByLabel: latency(listByLabel),
        watchDeployments: latency(watchDeployments),
        watchPodsByLabel: latency(watchPodsByLabel),
      };
      const under10 = (l: Latency) => (l.p99 < 10 ? "yes" : "NO");
      const row = (what: string, l: Latency): string[] => [
        what,
        ms(l.p50),
        ms(l.p99),
        String(l.samples),
        under10(l),
      ];
      const table = [
        `population: ${opts.functions} functions, ${population.pods} pods (${population.readyPods} ready) on ${opts.nodes} nodes; ${totalObjects} objects (${
          Object.entries(objects).map(([k, n]) => `${k} ${n}`).join(", ")
        }); built in ${buildSeconds.toFixed(1)} s`,
        `host: ${host}`,
        "",
        formatTable(["over HTTP", "p50 ms", "p99 ms", "samples", "p99 < 10 ms"], [
          row("get pod", lat.getPod),
          row("get deployment", lat.getDeployment),
          row("list pods by label (one function)", lat.listByLabel),
          row("watch deployments: write -> event", lat.watchDeployments),
          row("watch pods by label: write -> event", lat.watchPodsByLabel),
        ]),
        "",
        formatTable(["sustained creation", "value"], [
          ["target rate", `${opts.rate} pods/s for ${opts.sustainSeconds} s`],
          ["achieved rate", `${sustained.achievedRate.toFixed(1)} pods/s (${created} pods)`],
          [
            "create -> Ready (cluster time)",
            `p50 ${sustained.readyLatency.p50.toFixed(0)} ms, p99 ${
              sustained.readyLatency.p99.toFixed(0)
            } ms`,
          ],
          ["not Ready at the end", String(notReadyAtEnd)],
          [`backlog (${settleSeconds} s later)`, String(backlog)],
        ]),
        "",
        formatTable(["memory", "value"], [
          ["rss", mib(memory.rssBytes)],
          ["heap used", mib(memory.heapUsedBytes)],
          ["heap per stored object", `${memory.heapBytesPerObject.toFixed(0)} B`],
          ["watch history", `${historyEvents} events, ${mib(historyHeapBytes)} of heap`],
        ]),
      ].join("\n");
      return { population, latency: lat, sustained, memory, table };
    } finally {
      await server.close();
    }
  } finally {
    await rt.dispose();
  }
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      functions: { type: "string", default: "10000" },
      "pods-per-function": { type: "string", default: "10" },
      nodes: { type: "string", default: "1000" },
      samples: { type: "string", default: "1000" },
      rate: { type: "string", default: "20" },
      "sustain-s": { type: "string", default: "20" },
      quiet: { type: "boolean", default: false },
    },
  });
  const num = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n <= 0) {
      console.error(`--${name} must be a positive whole number`);
      Deno.exit(2);
    }
    return n;
  };
  const opts: SimBenchOptions = {
    functions: num("functions"),
    podsPerFunction: num("pods-per-function"),
    nodes: num("nodes"),
    samples: num("samples"),
    rate: num("rate"),
    sustainSeconds: num("sustain-s"),
    log: values.quiet ? undefined : (line) => console.error(line),
  };
  console.error(
    `bench:sim: ${opts.functions} functions x ${opts.podsPerFunction} pods on ${opts.nodes} nodes`,
  );
  const result = await runSimBench(opts);
  console.log(result.table);
}
