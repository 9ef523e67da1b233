/**
 * `deno task bench:sim` on a tiny population, so that it keeps working: the structure of its result
 * and the sanity of its figures (every pod built and Ready, label-selected lists of one function's
 * pods, watches that saw their writes, sustained creation with no backlog). No timings are asserted.
 */
import assert from "node:assert/strict";
import { runSimBench } from "../../bench/sim_bench.ts";

Deno.test("bench:sim: a tiny run builds its population, measures every figure and prints the table", async () => {
  const lines: string[] = [];
  const result = await runSimBench({
    functions: 12,
    podsPerFunction: 3,
    nodes: 4,
    samples: 20,
    rate: 20,
    sustainSeconds: 1,
    log: (l) => lines.push(l),
  });
  const { population, latency, sustained, memory, table } = result;
  assert.equal(population.functions, 12);
  assert.equal(population.pods, 36);
  assert.equal(population.readyPods, 36);
  assert.equal(population.objects.Deployment, 12);
  assert.equal(population.objects.Service, 12 + 1, "one per function and default/kubernetes");
  assert.equal(population.objects.Pod, 36);
  assert.equal(population.objects.Node, 4);
  for (const l of Object.values(latency)) {
    assert.ok(l.samples > 0);
    assert.ok(l.p50 > 0 && l.p50 <= l.p99, JSON.stringify(l));
  }
  assert.equal(latency.getPod.samples, 20);
  assert.equal(latency.listByLabel.samples, 20);
  assert.equal(latency.watchDeployments.samples, 10);
  // About a second at 20 pods/s: every pod it asked for was made and became Ready.
  assert.ok(sustained.created >= 10 && sustained.created <= 30, `${sustained.created} created`);
  assert.equal(sustained.backlog, 0);
  assert.ok(sustained.readyLatency.samples > 0);
  assert.ok(sustained.readyLatency.p50 > 0);
  assert.ok(memory.rssBytes > memory.heapUsedBytes && memory.heapUsedBytes > 0);
  assert.ok(memory.heapBytesPerObject > 0);
  assert.ok(memory.historyEvents > 36, `${memory.historyEvents} events`);
  for (
    const row of [
      "get pod",
      "get deployment",
      "list pods by label",
      "watch deployments",
      "watch pods by label",
      "achieved rate",
      "backlog",
      "heap per stored object",
      "watch history",
    ]
  ) {
    assert.match(table, new RegExp(row), row);
  }
  // Progress while it builds: counts and elapsed time.
  assert.ok(
    lines.some((l) => /functions 12\/12, pods \d+, ready \d+ +\(\d+\.\d s\)/.test(l)),
    lines.join("\n"),
  );
  assert.ok(lines.some((l) => /pods 36\/36, ready 36/.test(l)), lines.join("\n"));
});
