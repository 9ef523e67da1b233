/**
 * Human-run latency check (not part of CI): the provider with 1,000 ready
 * functions against a bare Hono baseline serving precomputed JSON of the same
 * size, over real HTTP on 127.0.0.1. Prints p50, p99, mean and the ratio to the
 * baseline, and exits 1 if a ratio at p50 or of the mean is above its target: 1.2x for a function's
 * status, 1.1x for the list.
 *
 *   deno task bench:check [--status=2000] [--list=200] [--status-target=1.2] [--list-target=1.1]
 */
import { get, quietly, setUpProvider, startBaseline } from "./setup.ts";
import { arg, formatTable } from "./util.ts";
import { percentile } from "../sim/trace/stats.ts";

const statusRequests = arg("status", 2_000);
const listRequests = arg("list", 200);
const statusTarget = arg("status-target", 1.2);
const listTarget = arg("list-target", 1.1);

interface Stats {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

const stats = (samples: number[]): Stats => {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
};

/**
 * Times `n` requests of each side, alternating provider and baseline request by
 * request so both see the same GC, JIT and machine state; `warmUp` untimed first.
 */
const measure = async (
  n: number,
  warmUp: number,
  provider: (i: number) => Promise<unknown>,
  baseline: (i: number) => Promise<unknown>,
): Promise<{ provider: Stats; baseline: Stats }> => {
  for (let i = 0; i < warmUp; i++) {
    await provider(i);
    await baseline(i);
  }
  const p: number[] = [], b: number[] = [];
  for (let i = 0; i < n; i++) {
    const [first, second, a, z] = i % 2 === 0 ? [provider, baseline, p, b] : [baseline, provider, b, p];
    let t = performance.now();
    await first(i);
    a.push(performance.now() - t);
    t = performance.now();
    await second(i);
    z.push(performance.now() - t);
  }
  return { provider: stats(p), baseline: stats(b) };
};

console.log("setting up: deploying 1,000 functions on the simulator ...");
const started = performance.now();
const setup = await quietly(() => setUpProvider());
const { provider, names } = setup;
const baseline = startBaseline(setup.statusBytes, setup.listBytes);
console.log(
  `ready in ${((performance.now() - started) / 1000).toFixed(1)} s: ${names.length} functions; ` +
    `status body ${setup.statusBytes} B, list body ${setup.listBytes} B`,
);

let failed = false;
const rows: string[][] = [];
const ms = (x: number) => x.toFixed(3);
const report = (group: string, target: number, r: { provider: Stats; baseline: Stats }) => {
  const ratio = (k: keyof Stats) => r.provider[k] / r.baseline[k];
  // The target is on typical latency (p50) and on the mean; p99 is shown for information.
  const over = ratio("p50") > target || ratio("mean") > target;
  if (over) failed = true;
  rows.push([group, "baseline", ms(r.baseline.p50), ms(r.baseline.p99), ms(r.baseline.mean), "", ""]);
  rows.push([
    group,
    "provider",
    ms(r.provider.p50),
    ms(r.provider.p99),
    ms(r.provider.mean),
    `${ratio("p50").toFixed(2)} / ${ratio("p99").toFixed(2)} / ${ratio("mean").toFixed(2)}`,
    over ? `FAIL (> ${target}x)` : "ok",
  ]);
};

try {
  report(
    `status x${statusRequests}`,
    statusTarget,
    await measure(
      statusRequests,
      200,
      (i) => get(`${provider.url}/system/function/${names[i % names.length]}`),
      () => get(`${baseline.url}/status`),
    ),
  );
  report(
    `list x${listRequests}`,
    listTarget,
    await measure(
      listRequests,
      20,
      () => get(`${provider.url}/system/functions`),
      () => get(`${baseline.url}/list`),
    ),
  );
} finally {
  await baseline.close();
  await provider.close();
}

console.log();
console.log(
  formatTable(["group", "server", "p50 ms", "p99 ms", "mean ms", "ratio p50/p99/mean", "result"], rows),
);
console.log();
console.log(
  failed
    ? "FAIL: the provider is slower than its target share of the baseline"
    : `ok: status within ${statusTarget}x, list within ${listTarget}x of the baseline`,
);
Deno.exit(failed ? 1 : 0);
