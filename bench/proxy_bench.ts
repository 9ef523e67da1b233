/**
 * Human-run throughput check of the invoke proxy (not part of CI): requests per
 * second and p50/p99 latency of POSTs through the provider's
 * `/function/<name>` to a real echo server on 127.0.0.1, against POSTing to
 * that echo server directly, in the same run, for a small body (64 B) and a
 * 1 MiB body (both echoed back and checked).
 *
 * A fixed number of requests is kept in flight with fetch; after a warm-up the
 * fixed request count per case is split into rounds that alternate direct and
 * proxied (ABBA order), so drift and machine noise hit both sides. By default
 * the upstream and the provider each run in their own Web Worker, like the pod
 * and the provider being separate processes, and the load generator on the
 * main thread; `--inline` puts all three on one thread (for `--cpu-prof`).
 *
 * Prints case, rps, p50, p99 and the proxied/direct rps ratio; exits 1 when the
 * proxied throughput is below 0.5x direct for small bodies or 0.7x for 1 MiB.
 *
 *   deno task bench:proxy [--small=5000] [--large=300] [--concurrency=16] [--rounds=10]
 *                         [--small-target=0.5] [--large-target=0.7] [--inline] [--max-seconds=300]
 */
import {
  FUNCTION_NAME,
  type Running,
  startBareProxy,
  startEchoUpstream,
  startInWorker,
  startProxyProvider,
} from "./proxy_setup.ts";
import { arg, formatTable } from "./util.ts";
import { percentile } from "../sim/trace/stats.ts";

interface Case {
  readonly name: string;
  readonly bytes: number;
  readonly requests: number;
  readonly warmUp: number;
  readonly target: number;
}

interface Side {
  readonly latencies: number[];
  elapsedMs: number;
}

/** direct: the upstream itself; proxied: through the provider; bare: through the reference proxy. */
type Path = "direct" | "proxied" | "bare";
type Result = Partial<Record<Path, Side>>;

/** Payload of `size` bytes, printable so a mismatch is easy to read. */
const payload = (size: number): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = 97 + (i % 26);
  return out;
};

const sameBytes = (a: Uint8Array<ArrayBuffer>, b: Uint8Array<ArrayBuffer>) => {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i += 4093) if (a[i] !== b[i]) return false;
  return a[a.byteLength - 1] === b[b.byteLength - 1];
};

/**
 * POSTs `body` to `url` `n` times with `concurrency` requests in flight; checks
 * every response (200, body echoed) and records each request's latency.
 */
const round = async (
  url: string,
  body: Uint8Array<ArrayBuffer>,
  n: number,
  concurrency: number,
  deadline: AbortSignal,
  into?: Side,
): Promise<void> => {
  let next = 0;
  const client = async () => {
    while (next < n) {
      next++;
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
        throw new Error(
          `POST ${url}: ${res.status}, ${echoed.byteLength} of ${body.byteLength} bytes echoed`,
        );
      }
      into?.latencies.push(ms);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, client));
  if (into) into.elapsedMs += performance.now() - started;
};

const measure = async (
  c: Case,
  urls: Partial<Record<Path, string>>,
  concurrency: number,
  rounds: number,
  deadline: AbortSignal,
): Promise<Result> => {
  const body = payload(c.bytes);
  const paths = Object.keys(urls) as Path[];
  const result: Result = {};
  for (const p of paths) {
    await round(urls[p]!, body, c.warmUp, concurrency, deadline);
    result[p] = { latencies: [], elapsedMs: 0 };
  }
  const perRound = Math.ceil(c.requests / rounds);
  for (let r = 0, done = 0; done < c.requests; r++, done += perRound) {
    const n = Math.min(perRound, c.requests - done);
    // The order turns every round (two paths: ABBA), so no path always runs first.
    const order = r % 2 === 0 ? [...paths] : [...paths].reverse();
    const turned = [...order.slice((r >> 1) % paths.length), ...order.slice(0, (r >> 1) % paths.length)];
    for (const p of paths.length === 2 ? order : turned) {
      await round(urls[p]!, body, n, concurrency, deadline, result[p]);
    }
  }
  return result;
};

const main = async () => {
  const concurrency = arg("concurrency", 16);
  const rounds = arg("rounds", 10);
  const maxSeconds = arg("max-seconds", 300);
  const inline = Deno.args.includes("--inline");
  const reference = !Deno.args.includes("--no-reference");
  const cases: Case[] = [
    { name: "64 B", bytes: 64, requests: arg("small", 5_000), warmUp: 500, target: arg("small-target", 0.5) },
    {
      name: "1 MiB",
      bytes: 1 << 20,
      requests: arg("large", 300),
      warmUp: 48,
      target: arg("large-target", 0.7),
    },
  ];

  const deadline = AbortSignal.timeout(maxSeconds * 1000);
  console.log(
    `setting up: echo upstream and provider on 127.0.0.1 ` +
      `(${inline ? "all on one thread" : "upstream and provider each in a worker"}), ` +
      `${concurrency} in flight ...`,
  );
  const started: Running[] = [];
  let failed = false;
  const rows: string[][] = [];
  try {
    const upstream = inline ? startEchoUpstream() : await startInWorker({ role: "upstream" });
    started.push(upstream);
    const upstreamPort = Number(new URL(upstream.url).port);
    const provider = inline
      ? await startProxyProvider(upstreamPort)
      : await startInWorker({ role: "provider", upstreamPort });
    started.push(provider);
    const urls: Partial<Record<Path, string>> = {
      direct: `${upstream.url}/`,
      proxied: `${provider.url}/function/${FUNCTION_NAME}`,
    };
    if (reference) {
      const bare = inline
        ? startBareProxy(upstreamPort)
        : await startInWorker({ role: "bare", upstreamPort });
      started.push(bare);
      urls.bare = `${bare.url}/`;
    }

    for (const c of cases) {
      const t = performance.now();
      const r = await measure(c, urls, concurrency, rounds, deadline);
      const rps = (s: Side) => s.latencies.length / (s.elapsedMs / 1000);
      const ratio = (p: Path) => rps(r[p]!) / rps(r.direct!);
      const ok = ratio("proxied") >= c.target;
      if (!ok) failed = true;
      for (const p of ["direct", "proxied", "bare"] as const) {
        if (!r[p]) continue;
        const s = [...r[p].latencies].sort((a, b) => a - b);
        rows.push([
          `${c.name} x${c.requests}`,
          { direct: "direct", proxied: "provider proxy", bare: "bare proxy (reference)" }[p],
          rps(r[p]).toFixed(0),
          percentile(s, 0.5).toFixed(3),
          percentile(s, 0.99).toFixed(3),
          p === "direct" ? "" : ratio(p).toFixed(2),
          p === "proxied" ? (ok ? `ok (>= ${c.target}x)` : `FAIL (< ${c.target}x)`) : "",
        ]);
      }
      console.log(`  ${c.name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const s of started.reverse()) await s.close();
  }

  console.log();
  console.log(formatTable(["case", "path", "rps", "p50 ms", "p99 ms", "rps / direct", "result"], rows));
  console.log();
  console.log(
    failed ? "FAIL: proxied throughput below target" : "ok: proxied throughput within target for every case",
  );
  return failed ? 1 : 0;
};

// A plain script: `deno bench bench/` also loads this module, and must not run it.
if (import.meta.main) Deno.exit(await main());
