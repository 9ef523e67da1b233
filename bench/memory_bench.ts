/**
 * `deno task bench:memory`: the provider's memory and start-up, each in its own process.
 *
 * - baseline: a bare `Deno.serve` process (RSS after a few hundred requests);
 * - the simulator backend (`deno task start`'s default): process start -> /healthz 200, and its RSS;
 * - the Kubernetes backend, against `deno task sim` in another process: for each population
 *   (`--populations`, default 100,1000,10000 functions, one ready replica each), the functions are
 *   deployed through a builder provider (POST /system/functions, what a gateway does), then a fresh
 *   provider is started and timed from process start to /healthz 200 and to every function listed;
 *   after a load run (status, list and invocations over a sample of functions) its RSS, V8 heap used
 *   and external memory (from its /metrics) are printed, then RSS and heap after a full garbage
 *   collection (what it keeps, without the load run's garbage; bench/gc_hook.ts, preloaded, collects on
 *   SIGUSR2); with the growth per function between populations;
 * - `--soak MINUTES`: on the largest population, steady invocations and a redeploy of a few functions
 *   every 30 s, RSS and heap after a full collection sampled each minute; flat when no sample exceeds
 *   the first by more than 10%.
 *
 * Options: --populations LIST, --requests N (status requests and invocations per load run, 2000),
 * --concurrency N (16), --startup-runs N (3), --soak MINUTES (0), --provider-v8-flags FLAGS (V8 flags of
 * the measured providers on the Kubernetes backend, e.g. --max-semi-space-size=2).
 */
import { parseArgs } from "node:util";
import { mainArgs, spawn, startProviderProcess, startSimTask } from "../tests/support/processes.ts";
import { formatTable, percentile } from "./util.ts";
import {
  call,
  collectGarbage,
  deployFunctions,
  freePort,
  functionName,
  gcHookArgs,
  pool,
  type ProcessMemory,
  readRss,
  scrapeMemory,
  waitReady,
} from "./memory_setup.ts";

const mib = (n: number | undefined) => (n === undefined ? "?" : `${(n / 2 ** 20).toFixed(1)} MiB`);
const ms = (n: number) => `${n.toFixed(0)} ms`;
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

/** Polls `url` until it answers 200; the milliseconds since `t0` (performance.now()) when it did. */
const until200 = async (url: string, t0: number, timeoutMs = 600_000): Promise<number> => {
  while (performance.now() - t0 < timeoutMs) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200) return performance.now() - t0;
    } catch { /* not listening yet */ }
    await sleep(10);
  }
  throw new Error(`${url}: no 200 within ${timeoutMs} ms`);
};

/** A bare Deno.serve process answering "ok": its RSS after `requests` requests. */
const bareBaseline = async (requests: number): Promise<number | undefined> => {
  const port = freePort();
  const code =
    `Deno.serve({ hostname: "127.0.0.1", port: ${port}, onListen() {} }, () => new Response("ok"));`;
  const child = spawn(Deno.execPath(), ["eval", code]);
  try {
    await until200(`http://127.0.0.1:${port}/`, performance.now(), 30_000);
    await pool(requests, 16, async () => void await call(`http://127.0.0.1:${port}/`));
    return await readRss(child.pid);
  } finally {
    await child.stop();
  }
};

interface Started {
  readonly url: string;
  readonly pid: number;
  readonly healthzMs: number;
  /** A full garbage collection (bench/gc_hook.ts), then the memory /metrics reports. */
  collect(): Promise<ProcessMemory>;
  stop(): Promise<unknown>;
}

/**
 * The provider (main.ts) with `env` (and `args`), timed from process start to /healthz 200; with
 * bench/gc_hook.ts preloaded, so that `collect` can ask it for a full garbage collection.
 */
const startTimed = async (env: Record<string, string>, args: string[] = []): Promise<Started> => {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const [run, ...rest] = mainArgs;
  const t0 = performance.now();
  const child = spawn(Deno.execPath(), [run, ...gcHookArgs, ...rest, ...args], {
    env: { port: String(port), host: "127.0.0.1", ...env },
  });
  let collections = 0;
  try {
    const healthzMs = await until200(`${url}/healthz`, t0);
    return {
      url,
      pid: child.pid,
      healthzMs,
      collect: async () => {
        await collectGarbage(child, ++collections);
        return await scrapeMemory(url);
      },
      stop: () => child.stop(),
    };
  } catch (e) {
    await child.stop();
    throw new Error(`${(e as Error).message}\nstderr:\n${child.stderr.text}`);
  }
};

/**
 * `count` function names spread evenly over a population of `n`, among those that answer invocations
 * (bench/setup.ts gives every fifth function `node index.js` as its process, which the simulated
 * watchdog's shell does not have).
 */
const sample = (n: number, count: number) => {
  const step = Math.max(1, Math.floor(n / count));
  const names: string[] = [];
  for (let i = 0; i < n && names.length < count; i += step) if (i % 5 !== 4) names.push(functionName(i));
  return names;
};

/** Status requests and invocations (`requests` each) and a few lists, over a sample of 100 functions. */
const loadRun = async (url: string, n: number, requests: number, concurrency: number) => {
  const names = sample(n, 100);
  const lists = Math.max(5, Math.round(20_000 / n));
  await pool(requests, concurrency, async (i) => {
    await call(`${url}/system/function/${names[i % names.length]}`);
  });
  await pool(lists, Math.min(concurrency, 4), async () => void await call(`${url}/system/functions`));
  await pool(requests, concurrency, async (i) => {
    await call(`${url}/function/${names[i % names.length]}`, { method: "POST", body: `{"n":${i}}` });
  });
};

interface PopulationResult {
  readonly functions: number;
  readonly healthzMs: number;
  readonly listedMs: number;
  readonly idle: ProcessMemory;
  readonly afterLoad: ProcessMemory;
  /** After a full garbage collection that followed the load run: what the provider keeps. */
  readonly afterGc: ProcessMemory;
}

/** A fresh provider on the cluster of `kubeconfig` holding `n` functions: start-up, load run, memory. */
const measure = async (
  kubeconfig: string,
  n: number,
  requests: number,
  concurrency: number,
  env: Record<string, string>,
  keep = false,
): Promise<{ result: PopulationResult; provider: Started }> => {
  const t0 = performance.now();
  const provider = await startTimed(env, ["--kubeconfig", kubeconfig]);
  const listedMs = await untilListed(provider.url, n, t0);
  const idle = await scrapeMemory(provider.url);
  log(
    `  ${n} functions: /healthz 200 after ${ms(provider.healthzMs)}, all listed after ${
      ms(listedMs)
    }; load run`,
  );
  await loadRun(provider.url, n, requests, concurrency);
  const afterLoad = await scrapeMemory(provider.url);
  const afterGc = await provider.collect();
  if (!keep) await provider.stop();
  return {
    result: { functions: n, healthzMs: provider.healthzMs, listedMs, idle, afterLoad, afterGc },
    provider,
  };
};

/** Polls the list until it has `n` functions; milliseconds since `t0` (performance.now()). */
const untilListed = async (url: string, n: number, t0: number): Promise<number> => {
  while (true) {
    const listed = (JSON.parse(await call(`${url}/system/functions`)) as unknown[]).length;
    if (listed >= n) return performance.now() - t0;
    await sleep(10);
  }
};

/**
 * Steady invocations and periodic redeploys for `minutes`; each minute the RSS, then the heap a full
 * garbage collection leaves (a leak shows there first; RSS also moves with V8's young generation).
 */
const soak = async (provider: Started, n: number, minutes: number) => {
  const names = sample(n, 100);
  const samples: number[] = [];
  const heaps: number[] = [];
  const end = Date.now() + minutes * 60_000;
  let invocations = 0, redeploys = 0, stop = false;
  const invoker = (async () => {
    while (!stop) {
      const started = Date.now();
      await pool(20, 4, async (i) => {
        await call(`${provider.url}/function/${names[(invocations + i) % names.length]}`, {
          method: "POST",
          body: "soak",
        });
      });
      invocations += 20;
      await sleep(Math.max(0, 1_000 - (Date.now() - started)));
    }
  })();
  const { functionRequest } = await import("./setup.ts");
  let nextRedeploy = Date.now() + 30_000, nextSample = Date.now() + 60_000;
  while (Date.now() < end) {
    await sleep(1_000);
    if (Date.now() >= nextRedeploy) {
      nextRedeploy += 30_000;
      for (let k = 0; k < 5; k++) {
        const { req } = functionRequest((redeploys * 5 + k) % n);
        const body = { ...req, envVars: { ...(req.envVars as object), SOAK_GENERATION: String(redeploys) } };
        await call(`${provider.url}/system/functions`, { method: "PUT", body: JSON.stringify(body) }, [202]);
      }
      redeploys++;
    }
    if (Date.now() >= nextSample) {
      nextSample += 60_000;
      const rss = (await readRss(provider.pid)) ?? (await scrapeMemory(provider.url)).rss;
      const heap = (await provider.collect()).heapUsed;
      samples.push(rss);
      heaps.push(heap);
      log(
        `  soak minute ${samples.length}: RSS ${mib(rss)}, heap after GC ${mib(heap)} (${invocations} ` +
          `invocations, ${redeploys * 5} redeploys)`,
      );
    }
  }
  stop = true;
  await invoker;
  return { samples, heaps, invocations, redeploys: redeploys * 5 };
};

const main = async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      populations: { type: "string", default: "100,1000,10000" },
      requests: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "16" },
      "startup-runs": { type: "string", default: "3" },
      "provider-v8-flags": { type: "string", default: "" },
      soak: { type: "string", default: "0" },
    },
  });
  const positive = (name: string, v: string, allowZero = false) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
      throw new Error(`--${name}: expected a whole number`);
    }
    return n;
  };
  const populations = values.populations.split(",").map((p) => positive("populations", p.trim()))
    .sort((a, b) => a - b);
  const requests = positive("requests", values.requests);
  const concurrency = positive("concurrency", values.concurrency);
  const startupRuns = positive("startup-runs", values["startup-runs"]);
  const soakMinutes = positive("soak", values.soak, true);
  // V8 flags of the measured providers (e.g. --max-semi-space-size=2), as DENO_V8_FLAGS.
  const providerEnv: Record<string, string> = values["provider-v8-flags"]
    ? { DENO_V8_FLAGS: values["provider-v8-flags"] }
    : {};
  log(
    `load average: ${
      Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
    } (${navigator.hardwareConcurrency} CPUs)`,
  );

  const bare = await bareBaseline(500);
  log(`bare Deno.serve process: RSS ${mib(bare)}`);

  // The simulator backend: start-up to /healthz 200 and RSS then.
  const simStarts: number[] = [];
  let simRss: number | undefined;
  for (let r = 0; r < startupRuns; r++) {
    const p = await startTimed({ scaling: "true" });
    simStarts.push(p.healthzMs);
    simRss = await readRss(p.pid);
    await p.stop();
  }
  simStarts.sort((a, b) => a - b);
  log(
    `simulator backend: /healthz 200 after ${
      ms(percentile(simStarts, 0.5))
    } (median of ${startupRuns}), RSS ${mib(simRss)}`,
  );

  const dir = await Deno.makeTempDir({ prefix: "faas-deno-memory-" });
  const kubeconfig = `${dir}/kubeconfig`;
  const largest = populations[populations.length - 1];
  const sim = await startSimTask(kubeconfig, [
    // Pod IPs clear of the default range, so a test suite running beside the benchmark keeps its own.
    "--pod-cidr",
    "127.60.0.0/16",
    "--nodes",
    String(Math.ceil(largest / 100) + 1),
    "--node-cpu",
    "8",
  ]);
  log(`simulator in its own process at ${sim.url}`);
  const builder = await startProviderProcess(kubeconfig, { scaling: "false" });
  const results: PopulationResult[] = [];
  let soakResult: Awaited<ReturnType<typeof soak>> | undefined;
  try {
    let built = 0;
    for (const n of populations) {
      log(`building ${n} functions (${n - built} to deploy through ${builder.url})`);
      const t = performance.now();
      await deployFunctions(builder.url, built, n, {
        concurrency,
        progress: (done) => log(`  deployed ${done} of ${n}`),
      });
      built = n;
      await waitReady(builder.url, n, { progress: (ready) => log(`  ${ready} of ${n} ready`) });
      log(`  ${n} functions deployed and ready in ${ms(performance.now() - t)}`);
      const last = n === largest && soakMinutes > 0;
      const { result, provider } = await measure(kubeconfig, n, requests, concurrency, providerEnv, last);
      results.push(result);
      log(
        `  RSS ${mib(result.afterLoad.rss)}, heap used ${mib(result.afterLoad.heapUsed)}, external ${
          mib(result.afterLoad.external)
        }`,
      );
      if (last) {
        log(`soak: ${soakMinutes} minutes on ${n} functions`);
        try {
          soakResult = await soak(provider, n, soakMinutes);
        } finally {
          await provider.stop();
        }
      }
    }
  } finally {
    await builder.stop();
    await sim.stop();
    await Deno.remove(dir, { recursive: true });
  }

  console.log("\nKubernetes backend (provider and simulator in separate processes):");
  console.log(formatTable(
    [
      "functions",
      "start->healthz",
      "start->listed",
      "RSS idle",
      "RSS after load",
      "heap used",
      "heap total",
      "external",
      "after GC: RSS",
      "heap used",
    ],
    results.map((r) => [
      String(r.functions),
      ms(r.healthzMs),
      ms(r.listedMs),
      mib(r.idle.rss),
      mib(r.afterLoad.rss),
      mib(r.afterLoad.heapUsed),
      mib(r.afterLoad.heapTotal),
      mib(r.afterLoad.external),
      mib(r.afterGc.rss),
      mib(r.afterGc.heapUsed),
    ]),
  ));
  for (let i = 1; i < results.length; i++) {
    const a = results[i - 1], b = results[i];
    const per = (x: number, y: number) => `${((y - x) / (b.functions - a.functions) / 1024).toFixed(1)} KiB`;
    console.log(
      `growth per function ${a.functions} -> ${b.functions}: RSS ${per(a.afterLoad.rss, b.afterLoad.rss)} ` +
        `after load, heap ${per(a.afterGc.heapUsed, b.afterGc.heapUsed)} after GC`,
    );
  }
  console.log(`baseline: bare Deno.serve RSS ${mib(bare)}`);
  console.log(
    `simulator backend: start->healthz ${ms(percentile(simStarts, 0.5))} (median of ${startupRuns}), RSS ${
      mib(simRss)
    }`,
  );
  if (soakResult && soakResult.samples.length > 0) {
    const trend = (what: string, xs: number[]) => {
      const first = xs[0], max = Math.max(...xs), last = xs[xs.length - 1];
      return `${what} first ${mib(first)}, max ${mib(max)}, last ${mib(last)}: ${
        max <= first * 1.1 ? "flat within 10%" : `grew ${(((max / first) - 1) * 100).toFixed(0)}%`
      }`;
    };
    console.log(
      `soak ${soakMinutes} min (${soakResult.invocations} invocations, ${soakResult.redeploys} redeploys): ` +
        `${trend("RSS", soakResult.samples)}; ${trend("heap after GC", soakResult.heaps)}`,
    );
  }
};

if (import.meta.main) await main();
