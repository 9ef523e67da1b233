/**
 * Pieces of `deno task bench:memory` (bench/memory_bench.ts): a process's resident memory from /proc,
 * the provider's memory gauges from its /metrics, a free port, a pool of concurrent requests, and the
 * population builder (functions deployed through a provider's API until `n` exist and are ready).
 */
import { functionRequest } from "./setup.ts";
import type { ChildProcess } from "../tests/support/processes.ts";

/**
 * A process's resident memory in bytes: VmRSS of /proc/<pid>/status (Deno lets only --allow-all read
 * /proc), else `ps -o rss=` (--allow-run); undefined when neither answers.
 */
export const readRss = async (pid: number): Promise<number | undefined> => {
  try {
    return parseVmRss(await Deno.readTextFile(`/proc/${pid}/status`));
  } catch { /* no /proc, or not readable without --allow-all */ }
  try {
    const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)], stderr: "null" })
      .output();
    const kib = Number(new TextDecoder().decode(out.stdout).trim());
    return out.success && Number.isFinite(kib) && kib > 0 ? kib * 1024 : undefined;
  } catch {
    return undefined;
  }
};

/** The VmRSS line of a /proc/<pid>/status text, in bytes. */
export const parseVmRss = (status: string): number | undefined => {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
};

export interface ProcessMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

/** The memory gauges of a Prometheus text exposition (the provider's /metrics). */
export const parseMemoryMetrics = (text: string): ProcessMemory => {
  const value = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    if (!m) throw new Error(`no ${name} in the metrics`);
    return Number(m[1]);
  };
  return {
    rss: value("process_resident_memory_bytes"),
    heapUsed: value("nodejs_heap_size_used_bytes"),
    heapTotal: value("nodejs_heap_size_total_bytes"),
    external: value("nodejs_external_memory_bytes"),
  };
};

/** The provider's memory as its /metrics reports it. */
export const scrapeMemory = async (url: string): Promise<ProcessMemory> => {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}/metrics: ${res.status}`);
  return parseMemoryMetrics(text);
};

/** A port on 127.0.0.1 that was free a moment ago. */
export const freePort = (): number => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
};

/** Runs `task(i)` for i in [0, n) with at most `concurrency` at once; the first failure is thrown. */
export const pool = async (n: number, concurrency: number, task: (i: number) => Promise<void>) => {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
};

/** A request that must answer `expect`; the body is read (and returned) so the connection is reused. */
export const call = async (
  url: string,
  init: RequestInit = {},
  expect: readonly number[] = [200],
): Promise<string> => {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!expect.includes(res.status)) {
    throw new Error(`${init.method ?? "GET"} ${url}: ${res.status} ${text.slice(0, 200)}`);
  }
  return text;
};

/** The name of the i-th function of a population (bench/setup.ts's realistic requests). */
export const functionName = (i: number) => functionRequest(i).name;

/**
 * Deploys functions [from, to) through the provider at `url` (POST /system/functions), `concurrency` at a
 * time, calling `progress(done)` now and then.
 */
export const deployFunctions = async (
  url: string,
  from: number,
  to: number,
  options: { concurrency?: number; progress?: (done: number) => void } = {},
) => {
  let done = 0;
  let reported = Date.now();
  await pool(to - from, options.concurrency ?? 16, async (k) => {
    const { req } = functionRequest(from + k);
    await call(`${url}/system/functions`, { method: "POST", body: JSON.stringify(req) }, [202]);
    done++;
    if (Date.now() - reported >= 2_000) {
      reported = Date.now();
      options.progress?.(from + done);
    }
  });
};

/** Functions listed by the provider at `url`, and how many have a ready replica. */
export const countReady = async (url: string): Promise<{ listed: number; ready: number }> => {
  const items = JSON.parse(await call(`${url}/system/functions`)) as { availableReplicas?: number }[];
  return { listed: items.length, ready: items.filter((f) => (f.availableReplicas ?? 0) >= 1).length };
};

/** Polls until `n` functions are listed and ready (real time), or fails after `timeoutMs`. */
export const waitReady = async (
  url: string,
  n: number,
  options: { timeoutMs?: number; progress?: (ready: number) => void } = {},
) => {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let reported = 0;
  while (true) {
    const { listed, ready } = await countReady(url);
    if (listed >= n && ready >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${ready} of ${n} functions ready (${listed} listed)`);
    if (Date.now() - reported >= 2_000) {
      reported = Date.now();
      options.progress?.(ready);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
};

/** bench/gc_hook.ts, and the flags that load it into a `deno run` (before the main module). */
export const gcHook = new URL("./gc_hook.ts", import.meta.url).pathname;
export const gcHookArgs = ["--v8-flags=--expose-gc", `--preload=${gcHook}`];

/**
 * A full garbage collection in a process started with `gcHookArgs`: SIGUSR2, then its `bench:memory gc
 * <count>` line (`count`: the collections asked of it so far, this one included).
 */
export const collectGarbage = async (child: ChildProcess, count: number): Promise<void> => {
  Deno.kill(child.pid, "SIGUSR2");
  await child.stdout.until(new RegExp(`^bench:memory gc ${count}$`, "m"), 30_000, "garbage collection");
};
