/** The import rules of src/ and sim/, checked on the real tree and on graphs that break each rule. */
import assert from "node:assert/strict";
import { cycles, type ImportGraph, violations } from "./support/architecture.ts";

const root = new URL("../", import.meta.url);

/** Relative imports of every .ts file under src/, sim/ and main.ts, as project-relative paths. */
const readGraph = async (): Promise<Map<string, string[]>> => {
  const graph = new Map<string, string[]>();
  const visit = async (dir: string) => {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}${e.name}`;
      if (e.isDirectory) await visit(`${path}/`);
      else if (e.name.endsWith(".ts")) {
        graph.set(path, importsOf(path, await Deno.readTextFile(new URL(path, root))));
      }
    }
  };
  await visit("src/");
  await visit("sim/");
  graph.set("main.ts", importsOf("main.ts", await Deno.readTextFile(new URL("main.ts", root))));
  return graph;
};

const importsOf = (file: string, text: string): string[] => {
  const out: string[] = [];
  for (
    const m of text.matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s*"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g,
    )
  ) {
    const spec = m[1] ?? m[2];
    const parts = file.split("/").slice(0, -1);
    for (const p of spec.split("/")) {
      if (p === "..") parts.pop();
      else if (p !== ".") parts.push(p);
    }
    out.push(parts.join("/"));
  }
  return out;
};

Deno.test("architecture: src/ and sim/ keep their import rules (no upward, sibling or cyclic imports)", async () => {
  const graph = await readGraph();
  assert.ok(graph.size > 50 && graph.has("src/app.ts"), "read the tree");
  const found = violations(graph);
  assert.deepEqual(found.map((v) => `${v.file} imports ${v.imports}: ${v.rule}`), []);
});

const graphOf = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

Deno.test("architecture: an upward import is named with its file, its import and the rule", () => {
  const found = violations(graphOf({ "src/domain/types.ts": ["src/kube/api.ts"], "src/kube/api.ts": [] }));
  assert.deepEqual(found, [{
    file: "src/domain/types.ts",
    imports: "src/kube/api.ts",
    rule: "domain must not import kube (a layer above it)",
  }]);
});

Deno.test("architecture: siblings, sim reaching past the seams, src reaching into sim, and cycles all fail", () => {
  const rules = (edges: Record<string, string[]>) => violations(graphOf(edges)).map((v) => v.rule);
  assert.match(rules({ "src/invoke/proxy.ts": ["src/scaling/scaler.ts"] })[0], /siblings/);
  assert.match(rules({ "src/scaling/scaler.ts": ["src/provider/functions.ts"] })[0], /siblings/);
  assert.match(rules({ "sim/layer.ts": ["src/kube/http.ts"] })[0], /sim\/ uses only/);
  assert.match(rules({ "sim/trace/replay.ts": ["src/http/app.ts"] })[0], /sim\/ uses only/);
  assert.deepEqual(
    rules({ "sim/trace/replay.ts": ["src/app.ts"], "sim/network.ts": ["src/invoke/upstream.ts"] }),
    [],
  );
  assert.match(rules({ "src/kube/http.ts": ["sim/serve.ts"] })[0], /never imports sim/);
  assert.deepEqual(rules({ "main.ts": ["sim/layer.ts", "src/app.ts"] }), []);
  assert.match(rules({ "src/stray.ts": [], "src/app.ts": ["src/stray.ts"] })[0], /belongs to a layer/);
  const loop = rules({ "sim/a.ts": ["sim/b.ts"], "sim/b.ts": ["sim/c.ts"], "sim/c.ts": ["sim/a.ts"] });
  assert.deepEqual(loop, ["import cycle: sim/a.ts -> sim/b.ts -> sim/c.ts -> sim/a.ts"]);
});

Deno.test("architecture: leadership (src/cluster) sits between kube and the scaler, provider and proxy", () => {
  const rules = (edges: Record<string, string[]>) => violations(graphOf(edges)).map((v) => v.rule);
  assert.deepEqual(rules({ "src/scaling/scaler.ts": ["src/cluster/leader.ts"] }), []);
  assert.deepEqual(rules({ "src/cluster/leader.ts": ["src/kube/api.ts", "src/metrics/registry.ts"] }), []);
  assert.match(
    rules({ "src/cluster/leader.ts": ["src/scaling/scaler.ts"] })[0],
    /cluster must not import scaling/,
  );
  assert.match(
    rules({ "src/kube/replicas.ts": ["src/cluster/leader.ts"] })[0],
    /kube must not import cluster/,
  );
  assert.match(rules({ "sim/layer.ts": ["src/cluster/leader.ts"] })[0], /sim\/ uses only/);
});

Deno.test("architecture: cycles are found once per strongly connected group, self-imports too", () => {
  assert.deepEqual(cycles(graphOf({ "a": ["b"], "b": ["a"], "c": ["c"], "d": ["a"] })).length, 2);
  assert.deepEqual(cycles(graphOf({ "a": ["b"], "b": ["c"], "c": [] })), []);
});

Deno.test("architecture: no source file under src/ or sim/ (or main.ts) is longer than 500 lines", async () => {
  const long: string[] = [];
  for (const path of (await readGraph()).keys()) {
    const lines = (await Deno.readTextFile(new URL(path, root))).split("\n").length - 1;
    if (lines > 500) long.push(`${path}: ${lines} lines`);
  }
  assert.deepEqual(long, [], "split these by responsibility");
});
