/**
 * The chaos runner's report: a summary table, and the same table as a self-contained HTML page (inline SVG
 * and CSS, nothing fetched) with a timeline per seed: fault windows as bands, the workload (invocations and
 * failed invocations per minute, operations), replicas of a few functions, the invariant checks, and the
 * first violation marked.
 */
import type { ChaosResult } from "./run.ts";
import { encodeSchedule } from "./schedule.ts";

const row = (r: ChaosResult) => [
  String(r.seed),
  String(r.hours),
  String(r.invocations),
  String(r.ops),
  String(r.faults.length),
  String(r.violations.length),
  r.digest.slice(0, 16),
  `${(r.wallMs / 1000).toFixed(1)} s`,
];
const header = ["seed", "hours", "invocations", "ops", "faults", "violations", "digest", "wall"];

export const summaryTable = (results: readonly ChaosResult[]): string => {
  const rows = [header, ...results.map(row)];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c === 6 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
};

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const kindColour: Record<string, string> = {
  "api-errors": "#e4572e",
  "conflicts": "#f3a712",
  "watch-drops": "#a8c686",
  "compaction": "#669bbc",
  "api-latency": "#8e7dbe",
  "partition": "#c1121f",
  "pause": "#6c757d",
  "crash": "#000000",
};
const lineColours = ["#1b998b", "#2e294e", "#f46036", "#c5d86d"];

const timelineSvg = (r: ChaosResult): string => {
  const width = 960, left = 110, plot = width - left - 10;
  const durationMs = r.hours * 3_600_000;
  const x = (ms: number) => left + (Math.min(ms, durationMs) / durationMs) * plot;
  const kinds = [...new Set(r.faults.map((w) => w.kind))].sort();
  const parts: string[] = [];
  let y = 10;
  // Fault bands, one row per kind.
  for (const kind of kinds) {
    parts.push(`<text x="4" y="${y + 10}" class="l">${escape(kind)}</text>`);
    for (const w of r.faults.filter((w) => w.kind === kind)) {
      const title = `${w.kind}${w.target !== undefined ? ` replica ${w.target}` : ""}${
        w.level !== undefined ? ` level ${w.level}` : ""
      }: ${w.at / 1000}s +${w.ms / 1000}s`;
      parts.push(
        `<rect x="${x(w.at).toFixed(1)}" y="${y}" width="${
          Math.max(1, x(w.at + w.ms) - x(w.at)).toFixed(1)
        }" height="12" fill="${kindColour[w.kind] ?? "#999"}" opacity="0.8"><title>${
          escape(title)
        }</title></rect>`,
      );
    }
    y += 16;
  }
  // Workload: invocations per minute (grey), failed (red), operations (blue ticks).
  const maxInv = Math.max(1, ...r.timeline.map((m) => m.invocations));
  const h = 60, base = y + h;
  parts.push(`<text x="4" y="${y + 12}" class="l">invocations/min</text>`);
  parts.push(`<text x="4" y="${y + 26}" class="l">(max ${maxInv})</text>`);
  const mw = plot / Math.max(1, r.timeline.length);
  r.timeline.forEach((m, i) => {
    const bx = left + i * mw;
    const ih = (m.invocations / maxInv) * h, fh = (m.failed / maxInv) * h;
    if (ih > 0) {
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${(base - ih).toFixed(1)}" width="${mw.toFixed(2)}" height="${
          ih.toFixed(1)
        }" fill="#bbb"/>`,
      );
    }
    if (fh > 0) {
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${(base - fh).toFixed(1)}" width="${mw.toFixed(2)}" height="${
          fh.toFixed(1)
        }" fill="#e4572e"/>`,
      );
    }
    if (m.ops > 0) {
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${base + 2}" width="${mw.toFixed(2)}" height="${
          Math.min(8, 2 * m.ops)
        }" fill="#277da1"><title>${m.ops} operations</title></rect>`,
      );
    }
  });
  y = base + 14;
  // Replicas of the charted functions (step lines; absent drawn as a gap).
  const maxR = Math.max(1, ...r.timeline.flatMap((m) => m.replicas));
  const rh = 50, rbase = y + rh;
  parts.push(`<text x="4" y="${y + 12}" class="l">replicas (max ${maxR})</text>`);
  r.chartedFunctions.forEach((fn, k) => {
    let d = "";
    r.timeline.forEach((m, i) => {
      const v = m.replicas[k];
      if (v === undefined || v < 0) return;
      const py = rbase - (v / maxR) * rh;
      d += `${d === "" || r.timeline[i - 1]?.replicas[k] < 0 ? "M" : "L"}${(left + i * mw).toFixed(1)},${
        py.toFixed(1)
      }H${(left + (i + 1) * mw).toFixed(1)}`;
    });
    if (d) {
      parts.push(
        `<path d="${d}" fill="none" stroke="${
          lineColours[k % 4]
        }" stroke-width="1.5"><title>${fn}</title></path>`,
      );
    }
    parts.push(
      `<text x="${left + 60 * k}" y="${rbase + 12}" class="l" fill="${lineColours[k % 4]}">${fn}</text>`,
    );
  });
  y = rbase + 20;
  // Invariant checks: one tick a minute, green; the first violation in red.
  parts.push(`<text x="4" y="${y + 9}" class="l">checks</text>`);
  const first = r.violations[0];
  const checkedMinutes = first
    ? Math.min(r.timeline.length, Math.floor(first.at / 60_000) + 1)
    : r.timeline.length;
  parts.push(
    `<rect x="${left}" y="${y}" width="${(checkedMinutes * mw).toFixed(1)}" height="10" fill="#90be6d"/>`,
  );
  if (first) {
    const vx = x(first.at);
    parts.push(`<line x1="${vx}" x2="${vx}" y1="4" y2="${y + 12}" stroke="#d00" stroke-width="2"/>`);
    parts.push(
      `<text x="${Math.min(vx + 4, width - 200)}" y="${y + 24}" class="v">${escape(first.invariant)} at ${
        (first.at / 1000).toFixed(0)
      } s</text>`,
    );
    y += 14;
  }
  y += 18;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">${
    parts.join("")
  }</svg>`;
};

export const htmlReport = (results: readonly ChaosResult[]): string => {
  const rows = results.map((r) =>
    `<tr class="${r.violations.length ? "bad" : ""}">${
      row(r).map((v) => `<td>${escape(v)}</td>`).join("")
    }</tr>`
  ).join("");
  const seeds = results.map((r) => {
    const v = r.violations.map((v) =>
      `<li><b>${escape(v.invariant)}</b> at ${(v.at / 1000).toFixed(0)} s: ${escape(v.detail)}</li>`
    ).join("");
    return `<section><h2>seed ${r.seed}${r.violations.length ? ' <span class="v">violation</span>' : ""}</h2>
<p class="s">schedule: <code>${escape(encodeSchedule(r.schedule))}</code><br>digest ${r.digest}</p>
${timelineSvg(r)}${v ? `<ul>${v}</ul>` : ""}</section>`;
  }).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>chaos report</title><style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}table{border-collapse:collapse}
td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}tr.bad td{background:#fde2e2}
.l{font-size:10px;fill:#444}.v{color:#d00;fill:#d00;font-weight:bold;font-size:11px}.s{font-size:11px;color:#555;word-break:break-all}
section{margin-top:18px;border-top:1px solid #ccc}</style></head><body>
<h1>Chaos runs</h1><table><tr>${header.map((h) => `<th>${h}</th>`).join("")}</tr>${rows}</table>
${seeds}</body></html>\n`;
};
