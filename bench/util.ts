/** Helpers shared by the human-run benchmark scripts: flags, percentiles, the result table. */
export { percentile } from "../sim/trace/stats.ts";

/** `--name=<positive number>` from the command line, or `fallback`. */
export const arg = (name: string, fallback: number, args: readonly string[] = Deno.args): number => {
  const raw = args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};

/** A plain-text table: the header, a rule, the rows; columns left-aligned and padded to fit. */
export const formatTable = (header: readonly string[], rows: readonly (readonly string[])[]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
};
