/**
 * Human-run throughput check of the invoke proxy (not part of CI): POSTs through the provider's
 * `/function/<name>` to a real echo server on 127.0.0.1, against the bare Deno proxy (`Deno.serve` handing
 * the request to `fetch`, the floor for one extra hop: see proxy_setup.ts) and against the echo server
 * directly, in the same run, for a small body (64 B) and a 1 MiB body.
 *
 * The load comes from `wrk -t2 -c16` (an external load generator) when it is installed
 * (`apt-get install wrk`), else from fetch on this process's main thread. Each case first checks one echoed
 * request per path, warms up, then runs rounds that turn the order of the paths (ABBA), so drift and
 * machine noise hit every path. Then the latency at half of the bare proxy's capacity: the provider and
 * the bare proxy paced at that rate (wrk: a Lua `delay()`, see wrk.ts; fetch: requests started on a
 * schedule), and the p50/p99 the provider adds per request.
 *
 * By default the upstream, the provider and the bare proxy each run in their own Web Worker, like separate
 * processes; `--inline` puts them on the main thread (for `--cpu-prof`; with the fetch generator the load
 * shares that thread too). Exits 1 when the provider's throughput is below the target share of the bare
 * proxy's: 0.85 for small bodies, 0.95 for 1 MiB.
 *
 *   deno task bench:proxy [--seconds=3] [--rounds=4] [--paced-seconds=5] [--connections=16] [--threads=2]
 *                         [--small-target=0.85] [--large-target=0.95] [--fetch] [--inline]
 *   with --fetch (or without wrk): [--small=5000] [--large=300] (requests per path and case)
 */
import {
  FUNCTION_NAME,
  type Running,
  startBareProxy,
  startEchoUpstream,
  startInWorker,
  startProxyProvider,
} from "./proxy_setup.ts";
import { arg, formatTable, percentile } from "./util.ts";
import { runWrk, wrkAvailable } from "./wrk.ts";

interface Case {
  readonly name: string;
  readonly bytes: number;
  /** fetch generator: requests per path, and untimed requests first. */
  readonly requests: number;
  readonly warmUp: number;
  /** The provider's throughput over the bare proxy's, at least. */
  readonly target: number;
}

/** direct: the upstream itself; proxied: through the provider; bare: through the bare Deno proxy. */
type Path = "direct" | "proxied" | "bare";
const paths: readonly Path[] = ["bare", "proxied", "direct"];
const pathNames: Record<Path, string> = {
  direct: "direct (no proxy)",
  proxied: "provider proxy",
  bare: "bare Deno proxy",
};

/** What a path did over all its rounds. */
interface Summary {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

/** Loads one path for one round (or paced at `rate`), returning requests, seconds and latency. */
interface Generator {
  readonly name: string;
  round(url: string, c: Case, rate?: number): Promise<Round>;
  warmUp(url: string, c: Case): Promise<void>;
}
interface Round {
  readonly requests: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  /** The latencies (ms), where the generator has them each (fetch); wrk gives percentiles. */
  readonly latencies?: number[];
}

/** Payload of `size` bytes, printable, the pattern wrk.ts sends too. */
const payload = (size: number): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = 97 + (i % 26);
  return out;
};

const sameBytes = (a: Uint8Array, b: Uint8Array) => {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i += 4093) if (a[i] !== b[i]) return false;
  return a[a.byteLength - 1] === b[b.byteLength - 1];
};

/** One POST, its echo checked; resolves with its latency (ms). */
const post = async (url: string, body: Uint8Array<ArrayBuffer>, deadline: AbortSignal): Promise<number> => {
  const started = performance.now();
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: { "Content-Type": "application/octet-stream" },
    signal: AbortSignal.any([deadline, AbortSignal.timeout(30_000)]),
  });
  const echoed = new Uint8Array(await res.arrayBuffer());
  const ms = performance.now() - started;
  if (res.status !== 200 || !sameBytes(echoed, body)) {
    throw new Error(`POST ${url}: ${res.status}, ${echoed.byteLength} of ${body.byteLength} bytes echoed`);
  }
  return ms;
};

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** The fetch generator: `concurrency` requests in flight, or requests started on a schedule when paced. */
const fetchGenerator = (concurrency: number, rounds: number, deadline: AbortSignal): Generator => ({
  name: `fetch on the main thread, ${concurrency} in flight`,
  warmUp: async (url, c) => {
    const body = payload(c.bytes);
    let left = c.warmUp;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await post(url, body, deadline);
    }));
  },
  round: async (url, c, rate) => {
    const body = payload(c.bytes);
    const latencies: number[] = [];
    const n = Math.ceil(c.requests / rounds);
    const started = performance.now();
    if (rate === undefined) {
      let left = n;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (left-- > 0) latencies.push(await post(url, body, deadline));
      }));
    } else {
      // Open model: the k-th request starts at k / rate, whether or not earlier ones have answered.
      const pending: Promise<void>[] = [];
      for (let sent = 0; sent < n;) {
        const due = Math.min(n, Math.floor((performance.now() - started) * rate / 1000) + 1);
        for (; sent < due; sent++) {
          pending.push(post(url, body, deadline).then((ms) => void latencies.push(ms)));
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(pending);
    }
    const s = sorted(latencies);
    return {
      requests: n,
      seconds: (performance.now() - started) / 1000,
      p50: percentile(s, 0.5),
      p99: percentile(s, 0.99),
      latencies,
    };
  },
});

const wrkGenerator = (
  threads: number,
  connections: number,
  seconds: number,
  pacedSeconds: number,
): Generator => {
  const run = async (url: string, c: Case, seconds: number, rate?: number): Promise<Round> => {
    const r = await runWrk({ url, threads, connections, seconds, bodyBytes: c.bytes, rate });
    if (r.errors > 0) throw new Error(`wrk ${url}: ${r.errors} errors or non-2xx answers`);
    return { requests: r.requests, seconds: r.seconds, p50: r.p50Ms, p99: r.p99Ms };
  };
  return {
    name: `wrk -t${threads} -c${connections}, ${seconds} s per round`,
    warmUp: async (url, c) => void await run(url, c, 1),
    round: (url, c, rate) => run(url, c, rate === undefined ? seconds : pacedSeconds, rate),
  };
};

/** Rounds of every path in turning order; percentiles over all latencies (fetch) or the rounds' median (wrk). */
const summarise = (rounds: Round[]): Summary => {
  const requests = rounds.reduce((a, r) => a + r.requests, 0);
  const seconds = rounds.reduce((a, r) => a + r.seconds, 0);
  if (rounds.every((r) => r.latencies)) {
    const all = sorted(rounds.flatMap((r) => r.latencies!));
    return { rps: requests / seconds, p50: percentile(all, 0.5), p99: percentile(all, 0.99) };
  }
  const median = (xs: number[]) => percentile(sorted(xs), 0.5);
  return {
    rps: requests / seconds,
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
  };
};

const inTurns = async <P>(
  ps: readonly P[],
  rounds: number,
  one: (p: P) => Promise<Round>,
): Promise<Map<P, Round[]>> => {
  const out = new Map<P, Round[]>(ps.map((p) => [p, []]));
  for (let r = 0; r < rounds; r++) {
    // ABBA for two paths; with three, the order also rotates, so no path always runs first.
    const order = r % 2 === 0 ? [...ps] : [...ps].reverse();
    const k = (r >> 1) % ps.length;
    for (const p of ps.length === 2 ? order : [...order.slice(k), ...order.slice(0, k)]) {
      out.get(p)!.push(await one(p));
    }
  }
  return out;
};

const main = async () => {
  const connections = arg("connections", arg("concurrency", 16));
  const threads = arg("threads", 2);
  const rounds = arg("rounds", 4);
  const seconds = arg("seconds", 3);
  const pacedSeconds = arg("paced-seconds", 5);
  const maxSeconds = arg("max-seconds", 600);
  const inline = Deno.args.includes("--inline");
  const cases: Case[] = [
    {
      name: "64 B",
      bytes: 64,
      requests: arg("small", 5_000),
      warmUp: 500,
      target: arg("small-target", 0.85),
    },
    {
      name: "1 MiB",
      bytes: 1 << 20,
      requests: arg("large", 300),
      warmUp: 48,
      target: arg("large-target", 0.95),
    },
  ];
  const deadline = AbortSignal.timeout(maxSeconds * 1000);
  const useWrk = !Deno.args.includes("--fetch") && await wrkAvailable();
  const generator = useWrk
    ? wrkGenerator(threads, connections, seconds, pacedSeconds)
    : fetchGenerator(connections, rounds, deadline);
  console.log(
    `setting up: echo upstream, provider and bare proxy on 127.0.0.1 ` +
      `(${inline ? "all on the main thread" : "each in a worker"}); load: ${generator.name}` +
      (useWrk || Deno.args.includes("--fetch") ? "" : " (wrk is not installed: apt-get install wrk)"),
  );

  const started: Running[] = [];
  let failed = false;
  const rows: string[][] = [];
  const pacedRows: string[][] = [];
  try {
    const upstream = inline ? startEchoUpstream() : await startInWorker({ role: "upstream" });
    started.push(upstream);
    const upstreamPort = Number(new URL(upstream.url).port);
    const provider = inline
      ? await startProxyProvider(upstreamPort)
      : await startInWorker({ role: "provider", upstreamPort });
    started.push(provider);
    const bare = inline ? startBareProxy(upstreamPort) : await startInWorker({ role: "bare", upstreamPort });
    started.push(bare);
    const urls: Record<Path, string> = {
      direct: `${upstream.url}/`,
      proxied: `${provider.url}/function/${FUNCTION_NAME}`,
      bare: `${bare.url}/`,
    };

    for (const c of cases) {
      const t = performance.now();
      for (const p of paths) {
        await post(urls[p], payload(c.bytes), deadline);
        await generator.warmUp(urls[p], c);
      }
      const byPath = await inTurns(paths, rounds, (p) => generator.round(urls[p], c));
      const s = Object.fromEntries(paths.map((p) => [p, summarise(byPath.get(p)!)])) as Record<Path, Summary>;
      const ratio = s.proxied.rps / s.bare.rps;
      const ok = ratio >= c.target;
      if (!ok) failed = true;
      for (const p of paths) {
        rows.push([
          c.name,
          pathNames[p],
          s[p].rps.toFixed(0),
          s[p].p50.toFixed(3),
          s[p].p99.toFixed(3),
          (s[p].rps / s.bare.rps).toFixed(2),
          p === "proxied" ? (ok ? `ok (>= ${c.target}x)` : `FAIL (< ${c.target}x)`) : "",
        ]);
      }

      // Latency at half the bare proxy's capacity: both proxies paced at the same rate.
      const rate = s.bare.rps / 2;
      const paced = await inTurns(["bare", "proxied"] as const, 2, (p) => generator.round(urls[p], c, rate));
      const ps = { bare: summarise(paced.get("bare")!), proxied: summarise(paced.get("proxied")!) };
      pacedRows.push([
        c.name,
        `${rate.toFixed(0)} (reached ${ps.bare.rps.toFixed(0)} / ${ps.proxied.rps.toFixed(0)})`,
        `${ps.bare.p50.toFixed(3)} / ${ps.bare.p99.toFixed(3)}`,
        `${ps.proxied.p50.toFixed(3)} / ${ps.proxied.p99.toFixed(3)}`,
        `${(ps.proxied.p50 - ps.bare.p50).toFixed(3)} / ${(ps.proxied.p99 - ps.bare.p99).toFixed(3)}`,
      ]);
      console.log(`  ${c.name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const s of started.reverse()) await s.close();
  }

  console.log();
  console.log(formatTable(["case", "path", "rps", "p50 ms", "p99 ms", "rps / bare", "result"], rows));
  console.log();
  console.log("latency at half of the bare proxy's capacity (p50 / p99 ms; rate in requests per second):");
  console.log(
    formatTable(
      ["case", "rate (bare / provider)", "bare proxy", "provider proxy", "added by the provider"],
      pacedRows,
    ),
  );
  console.log();
  console.log(
    failed
      ? "FAIL: the provider's throughput is below its target share of the bare proxy's"
      : "ok: the provider's throughput is within target of the bare proxy's for every case",
  );
  return failed ? 1 : 0;
};

// A plain script: `deno bench bench/` also loads this module, and must not run it.
if (import.meta.main) Deno.exit(await main());
