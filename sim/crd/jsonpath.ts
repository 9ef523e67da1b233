/**
 * The simple JSONPath of a CRD's `additionalPrinterColumns` (`.spec.replicas`,
 * `.status.conditions[0].type`, `.metadata.labels.app\.kubernetes\.io/name`, `.items[*].name`,
 * `.status.conditions[?(@.type=="Ready")].status`), evaluated to the first value it finds.
 */

type Step =
  | { readonly field: string }
  | { readonly index: number | "*" }
  | { readonly filter: { readonly path: string[]; readonly value: string } };

/** The steps of a path, or undefined when it is not one we can read. */
export const parseJsonPath = (path: string): Step[] | undefined => {
  let p = path.trim();
  if (p.startsWith("{") && p.endsWith("}")) p = p.slice(1, -1);
  if (!p.startsWith(".")) return undefined;
  const steps: Step[] = [];
  let i = 0;
  while (i < p.length) {
    if (p[i] === ".") {
      i++;
      let name = "";
      while (i < p.length && p[i] !== "." && p[i] !== "[") {
        if (p[i] === "\\" && i + 1 < p.length) i++;
        name += p[i++];
      }
      if (name === "") return undefined;
      steps.push({ field: name });
    } else if (p[i] === "[") {
      const end = p.indexOf("]", i);
      if (end < 0) return undefined;
      const inner = p.slice(i + 1, end).trim();
      i = end + 1;
      const filter = /^\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*==\s*(?:"([^"]*)"|'([^']*)')\)$/.exec(inner);
      const quoted = /^'([^']*)'$|^"([^"]*)"$/.exec(inner);
      if (filter) {
        steps.push({ filter: { path: filter[1].slice(1).split("."), value: filter[2] ?? filter[3] } });
      } else if (quoted) steps.push({ field: quoted[1] ?? quoted[2] });
      else if (inner === "*") steps.push({ index: "*" });
      else if (/^-?\d+$/.test(inner)) steps.push({ index: Number(inner) });
      else return undefined;
    } else return undefined;
  }
  return steps;
};

const at = (value: unknown, path: readonly string[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    value,
  );

/** The values `steps` reach from `root` (several through `[*]` or a filter). */
const walk = (roots: unknown[], steps: readonly Step[]): unknown[] => {
  let values = roots;
  for (const step of steps) {
    const next: unknown[] = [];
    for (const v of values) {
      if ("field" in step) {
        if (v && typeof v === "object" && !Array.isArray(v) && step.field in v) {
          next.push((v as Record<string, unknown>)[step.field]);
        }
      } else if (!Array.isArray(v)) continue;
      else if ("index" in step) {
        if (step.index === "*") next.push(...v);
        else {
          const i = step.index < 0 ? v.length + step.index : step.index;
          if (i >= 0 && i < v.length) next.push(v[i]);
        }
      } else {
        next.push(...v.filter((item) => String(at(item, step.filter.path)) === step.filter.value));
      }
    }
    values = next;
  }
  return values;
};

/** The first value `path` finds in `object`, or undefined (also for a path we cannot read). */
export const firstValue = (object: unknown, path: string): unknown => {
  const steps = parseJsonPath(path);
  return steps ? walk([object], steps)[0] : undefined;
};
