/**
 * The import rules of the code base, read from the source: a pure check over an import graph, so a test can
 * run it on the real tree and on fixtures that break each rule.
 *
 * Layers, from the bottom (imports only point down):
 *   src/lib -> src/domain -> src/metrics -> src/config -> src/kube -> src/cluster (leader election among
 *   replicas) -> {src/provider, src/invoke, src/scaling} -> src/http -> src/app.ts -> main.ts
 * provider, invoke and scaling are siblings: none imports another. The simulator (sim/) uses the project only
 * through src/lib, src/domain and the seams it implements; its trace replay and chaos runner build the
 * provider through src/app.ts.
 * No import cycles, in src/ or sim/.
 */

/** A file's imports of other project files, as paths relative to the project root. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

export interface Violation {
  readonly file: string;
  readonly imports: string;
  readonly rule: string;
}

const ranks: readonly (readonly [RegExp, string, number])[] = [
  [/^src\/lib\//, "lib", 0],
  [/^src\/domain\//, "domain", 1],
  [/^src\/metrics\//, "metrics", 2],
  [/^src\/config\//, "config", 3],
  [/^src\/kube\//, "kube", 4],
  // Leadership among the provider's replicas: built on kube, read by scaling (and the composition root).
  [/^src\/cluster\//, "cluster", 5],
  [/^src\/provider\//, "provider", 6],
  [/^src\/invoke\//, "invoke", 6],
  [/^src\/scaling\//, "scaling", 6],
  [/^src\/http\//, "http", 7],
  [/^src\/app\.ts$/, "app", 8],
  [/^main\.ts$/, "main", 9],
];

/** The seams the simulator implements: the only src/ modules outside src/domain it may import. */
export const seams: readonly string[] = [
  "src/kube/api.ts",
  "src/invoke/upstream.ts",
  "src/provider/imagecheck.ts",
];

const layerOf = (file: string) => ranks.find(([re]) => re.test(file));

/** Every import that breaks a rule, and every cycle. */
export const violations = (graph: ImportGraph): Violation[] => {
  const out: Violation[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file);
    for (const target of imports) {
      if (file.startsWith("sim/")) {
        if (!target.startsWith("src/")) continue;
        const ok = target.startsWith("src/domain/") || target.startsWith("src/lib/") ||
          seams.includes(target) ||
          ((file.startsWith("sim/trace/") || file.startsWith("sim/chaos/")) && target === "src/app.ts");
        if (!ok) {
          out.push({
            file,
            imports: target,
            rule: "sim/ uses only src/lib, src/domain and the seams it implements (" + seams.join(", ") + ")",
          });
        }
        continue;
      }
      if (!from) continue;
      if (target.startsWith("sim/") && from[1] !== "main") {
        out.push({ file, imports: target, rule: "src/ never imports sim/ (main.ts chooses the backend)" });
        continue;
      }
      const to = layerOf(target);
      if (!to) {
        if (target.startsWith("src/")) {
          out.push({ file, imports: target, rule: "every src/ module belongs to a layer" });
        }
        continue;
      }
      if (to[2] > from[2]) {
        out.push({ file, imports: target, rule: `${from[1]} must not import ${to[1]} (a layer above it)` });
      } else if (to[2] === from[2] && to[1] !== from[1]) {
        out.push({
          file,
          imports: target,
          rule: `${from[1]} and ${to[1]} are siblings: neither imports the other`,
        });
      }
    }
  }
  for (const cycle of cycles(graph)) {
    out.push({ file: cycle[0], imports: cycle[1], rule: `import cycle: ${cycle.join(" -> ")}` });
  }
  return out;
};

/** One cycle per strongly connected component of more than one file (or a file importing itself). */
export const cycles = (graph: ImportGraph): string[][] => {
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(pathThrough(graph, component));
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
};

/** A closed path through the files of one component, starting and ending at its first file (sorted). */
const pathThrough = (graph: ImportGraph, component: string[]): string[] => {
  const members = new Set(component);
  const start = [...component].sort()[0];
  // Breadth-first from start back to start, inside the component.
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x: string | undefined = v; x !== undefined && x !== start; x = prev.get(x)) {
          path.splice(1, 0, x);
        }
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
};
