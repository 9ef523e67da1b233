/**
 * The pieces of `deno task bench:memory` (bench/memory_setup.ts): reading a process's RSS and the
 * provider's memory gauges, the request pool, a garbage collection on request, and the
 * population builder against a provider on the simulator.
 */
import assert from "node:assert/strict";
import {
  collectGarbage,
  countReady,
  deployFunctions,
  gcHookArgs,
  parseMemoryMetrics,
  parseVmRss,
  pool,
  readRss,
  scrapeMemory,
} from "../../bench/memory_setup.ts";
import { registry } from "../../src/metrics/registry.ts";
import { withProvider } from "../support/harness.ts";
import { spawn } from "../support/processes.ts";

Deno.test("bench:memory: RSS from /proc or ps, and the memory gauges of /metrics", async () => {
  assert.equal(
    parseVmRss("Name:\tdeno\nVmHWM:\t  51200 kB\nVmRSS:\t   40960 kB\nRssAnon:\t 1 kB\n"),
    40 * 2 ** 20,
  );
  assert.equal(parseVmRss("Name:\tdeno\n"), undefined);
  const rss = await readRss(Deno.pid);
  assert.ok(rss !== undefined && rss > 10 * 2 ** 20, `RSS of this process: ${rss}`);
  const m = parseMemoryMetrics(registry.expose());
  assert.ok(m.rss > 10 * 2 ** 20 && m.heapUsed > 0 && m.heapTotal >= m.heapUsed && m.external >= 0);
  assert.throws(() => parseMemoryMetrics("# nothing\n"), /process_resident_memory_bytes/);
});

Deno.test("bench:memory: the pool runs every task, never more than its concurrency at once", async () => {
  let running = 0, most = 0;
  const seen: number[] = [];
  await pool(25, 4, async (i) => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 1));
    seen.push(i);
    running--;
  });
  assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i));
  assert.equal(most, 4);
  await assert.rejects(() => pool(3, 2, () => Promise.reject(new Error("boom"))), /boom/);
});

Deno.test("bench:memory: a full garbage collection on SIGUSR2 in a process with the preloaded hook", async () => {
  const child = spawn(Deno.execPath(), [
    "eval",
    ...gcHookArgs,
    "console.log('ready'); setInterval(() => {}, 1000);",
  ]);
  try {
    await child.stdout.until(/^ready$/m, 30_000, "the child");
    await collectGarbage(child, 1);
    await collectGarbage(child, 2);
    assert.match(child.stdout.text, /bench:memory gc 1\nbench:memory gc 2\n/);
  } finally {
    await child.stop();
  }
});

Deno.test("bench:memory: the population builder deploys functions through the provider's API", () =>
  withProvider(async (h) => {
    const progress: number[] = [];
    await deployFunctions(h.url, 0, 3, { concurrency: 2, progress: (n) => progress.push(n) });
    await deployFunctions(h.url, 3, 4);
    await h.advance(60_000);
    assert.deepEqual(await countReady(h.url), { listed: 4, ready: 4 });
    const names = (JSON.parse(await (await fetch(`${h.url}/system/functions`)).text()) as { name: string }[])
      .map((f) => f.name).sort();
    assert.deepEqual(names, ["fn-0000", "fn-0001", "fn-0002", "fn-0003"]);
    const m = await scrapeMemory(h.url);
    assert.ok(m.rss > 0 && m.heapUsed > 0);
  }));
