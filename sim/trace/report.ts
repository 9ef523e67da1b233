/** The text table and the self-contained HTML report (inline SVG, no external JS or CSS) of a replay. */
import type { PolicyResult, Trace } from "./types.ts";

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const tableRows = (results: readonly PolicyResult[]): string[][] => [
  [
    "policy",
    "invocations",
    "cold starts",
    "added p50 ms",
    "added p99 ms",
    "replica-seconds",
    "scale events",
    "errors",
    "wall s",
  ],
  ...results.map((r) => [
    r.policy,
    fmt(r.invocations),
    fmt(r.coldStarts),
    fmt(r.addedLatencyP50),
    fmt(r.addedLatencyP99),
    fmt(r.replicaSeconds),
    fmt(r.scaleEvents),
    fmt(r.errors),
    fmt(r.wallMs / 1000, 1),
  ]),
];

export const renderTable = (results: readonly PolicyResult[]): string => {
  const rows = tableRows(results);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
};

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Averages `xs` into at most `n` buckets (keeps charts small for long traces). */
const downsample = (xs: readonly number[], n: number): number[] => {
  if (xs.length <= n) return [...xs];
  const size = Math.ceil(xs.length / n);
  const out: number[] = [];
  for (let i = 0; i < xs.length; i += size) {
    const part = xs.slice(i, i + size);
    out.push(part.reduce((a, b) => a + b, 0) / part.length);
  }
  return out;
};

const polyline = (ys: readonly number[], max: number, x0: number, y0: number, w: number, h: number) =>
  ys.map((y, i) =>
    `${(x0 + (ys.length <= 1 ? 0 : (i / (ys.length - 1)) * w)).toFixed(1)},${
      (y0 + h - (max ? y / max : 0) * h).toFixed(1)
    }`
  ).join(" ");

/** One SVG: load (requests per minute) and total replicas over the trace's minutes. */
export const chartSvg = (r: PolicyResult): string => {
  const W = 900, H = 260, left = 56, right = 56, top = 30, bottom = 34;
  const w = W - left - right, h = H - top - bottom;
  const load = downsample(r.loadPerMinute, 720);
  const replicas = downsample(r.replicasPerMinute, 720);
  const maxLoad = Math.max(1, ...load), maxRep = Math.max(1, ...replicas);
  const hours = r.loadPerMinute.length / 60;
  const ticks: string[] = [];
  const every = hours > 48 ? 12 : hours > 12 ? 2 : hours > 3 ? 1 : 0.25;
  for (let t = 0; t <= hours + 1e-9; t += every) {
    const x = left + (hours ? (t / hours) * w : 0);
    ticks.push(
      `<line x1="${x.toFixed(1)}" y1="${top + h}" x2="${x.toFixed(1)}" y2="${top + h + 4}" stroke="#555"/>` +
        `<text x="${x.toFixed(1)}" y="${top + h + 16}" font-size="10" text-anchor="middle">${
          every < 1 ? `${Math.round(t * 60)}m` : `${t}h`
        }</text>`,
    );
  }
  return `<svg class="chart" data-policy="${
    esc(r.policy)
  }" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${
    esc(r.policy)
  }: load and replicas over time">
<title>${esc(r.policy)}: load (req/min) and replicas over time</title>
<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="#fafafa" stroke="#ccc"/>
<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(r.policy)}</text>
<text x="${left + 160}" y="18" font-size="11" fill="#1f77b4">— load, req/min (max ${fmt(maxLoad, 1)})</text>
<text x="${left + 400}" y="18" font-size="11" fill="#d62728">— replicas, total (max ${fmt(maxRep, 1)})</text>
<text x="${left - 6}" y="${top + 10}" font-size="10" text-anchor="end" fill="#1f77b4">${
    fmt(maxLoad, 0)
  }</text>
<text x="${left - 6}" y="${top + h}" font-size="10" text-anchor="end" fill="#1f77b4">0</text>
<text x="${left + w + 6}" y="${top + 10}" font-size="10" fill="#d62728">${fmt(maxRep, 0)}</text>
<text x="${left + w + 6}" y="${top + h}" font-size="10" fill="#d62728">0</text>
${ticks.join("\n")}
<polyline fill="none" stroke="#1f77b4" stroke-width="1" points="${polyline(load, maxLoad, left, top, w, h)}"/>
<polyline fill="none" stroke="#d62728" stroke-width="1.5" points="${
    polyline(replicas, maxRep, left, top, w, h)
  }"/>
</svg>`;
};

export const renderHtml = (
  trace: Trace,
  results: readonly PolicyResult[],
  title = "faas-deno trace replay",
): string => {
  const rows = tableRows(results);
  const table = `<table><thead><tr>${rows[0].map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${
    rows.slice(1).map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("")
  }</tbody></table>`;
  const perFunction = trace.functions.slice(0, 200).map((f) =>
    `<tr><td>${esc(f)}</td><td>${esc(trace.kinds?.[f] ?? "")}</td>${
      results.map((r) => {
        const p = r.perFunction[f];
        return `<td>${p ? `${fmt(p.coldStarts)} / ${fmt(p.replicaSeconds)}` : ""}</td>`;
      }).join("")
    }</tr>`
  ).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chart { display: block; margin: 1em 0; }
</style></head><body>
<h1>${esc(title)}</h1>
<p>${fmt(trace.events.length)} invocations of ${fmt(trace.functions.length)} functions over ${
    fmt(trace.durationMs / 3_600_000, 2)
  } hours of virtual time, replayed through the provider (invoke proxy, Scaler, simulator) once per policy.
Added latency is response time minus duration_ms; replica-seconds integrate spec.replicas.</p>
${table}
<h2>Load and replicas over time</h2>
${results.map(chartSvg).join("\n")}
<h2>Per function: cold starts / replica-seconds</h2>
<table><thead><tr><th>function</th><th>traffic</th>${
    results.map((r) => `<th>${esc(r.policy)}</th>`).join("")
  }</tr></thead><tbody>${perFunction}</tbody></table>
</body></html>
`;
};
