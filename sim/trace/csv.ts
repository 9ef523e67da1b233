/**
 * Trace files: CSV, one invocation per line, `timestamp,function,duration_ms`.
 *
 * - Blank lines and lines starting with `#` are ignored. An optional header
 *   line names the columns: `timestamp,function,duration_ms` (timestamps in
 *   seconds) or `timestamp_ms,function,duration_ms` (timestamps in ms).
 * - `timestamp`: time from the start of the trace, a number in seconds (or ms
 *   under a `timestamp_ms` header, or `--time-unit ms`), optionally with an
 *   explicit unit suffix (`1.5s`, `1500ms`); or an RFC 3339 date-time
 *   (`2026-01-01T08:00:00.250Z`), taken relative to the earliest one in the
 *   file. A file uses either relative numbers or RFC 3339, not both.
 * - `function`: a function name (lower-case DNS-1123 label, at most 63 characters).
 * - `duration_ms`: execution time in milliseconds, a non-negative number.
 * Lines need not be sorted. Errors name the line (1-based).
 */
import type { Trace, TraceEvent } from "./types.ts";

export class TraceParseError extends Error {
  constructor(readonly errors: readonly { line: number; message: string }[]) {
    super(
      errors.slice(0, 20).map((e) => `line ${e.line}: ${e.message}`).join("\n") +
        (errors.length > 20 ? `\n... and ${errors.length - 20} more` : ""),
    );
    this.name = "TraceParseError";
  }
}

const nameRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const numberRe = /^\d+(\.\d+)?$/;
const withUnitRe = /^(\d+(?:\.\d+)?)(ms|s)$/;
const rfc3339Re = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export interface ParseOptions {
  /** Unit of bare numeric timestamps (default "s", or "ms" under a `timestamp_ms` header). */
  readonly timeUnit?: "s" | "ms";
}

export const parseTrace = (text: string, options: ParseOptions = {}): Trace => {
  const errors: { line: number; message: string }[] = [];
  const rows: { line: number; rel?: number; abs?: number; fn: string; durationMs: number }[] = [];
  let unit = options.timeUnit;
  let sawHeader = false, sawData = false;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    const raw = lines[n].trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const cols = raw.split(",").map((c) => c.trim());
    if (!sawHeader && !sawData && /^timestamp(_ms)?$/i.test(cols[0])) {
      sawHeader = true;
      if (
        cols.length !== 3 || cols[1].toLowerCase() !== "function" || cols[2].toLowerCase() !== "duration_ms"
      ) {
        errors.push({ line, message: `header must be timestamp,function,duration_ms (got "${raw}")` });
      }
      if (cols[0].toLowerCase() === "timestamp_ms") unit ??= "ms";
      continue;
    }
    sawData = true;
    if (cols.length !== 3) {
      errors.push({
        line,
        message: `expected 3 fields (timestamp,function,duration_ms), got ${cols.length}`,
      });
      continue;
    }
    const [ts, fn, dur] = cols;
    let rel: number | undefined, abs: number | undefined;
    const u = withUnitRe.exec(ts);
    if (numberRe.test(ts)) rel = Number(ts) * ((unit ?? "s") === "s" ? 1000 : 1);
    else if (u) rel = Number(u[1]) * (u[2] === "s" ? 1000 : 1);
    else if (rfc3339Re.test(ts) && Number.isFinite(Date.parse(ts))) abs = Date.parse(ts);
    else {
      errors.push({
        line,
        message: `timestamp "${ts}" is neither a non-negative number (seconds or ms from start) nor RFC 3339`,
      });
      continue;
    }
    if (!nameRe.test(fn) || fn.length > 63) {
      errors.push({
        line,
        message: `function "${fn}" is not a valid function name (lower-case DNS-1123 label)`,
      });
      continue;
    }
    if (!numberRe.test(dur)) {
      errors.push({ line, message: `duration_ms "${dur}" is not a non-negative number` });
      continue;
    }
    rows.push({ line, rel, abs, fn, durationMs: Number(dur) });
  }
  const relative = rows.filter((r) => r.rel !== undefined),
    absolute = rows.filter((r) => r.abs !== undefined);
  if (relative.length && absolute.length) {
    const minority = relative.length < absolute.length ? relative[0] : absolute[0];
    errors.push({
      line: minority.line,
      message: "mixes relative and RFC 3339 timestamps; use one kind per file",
    });
  }
  if (errors.length) throw new TraceParseError(errors.sort((a, b) => a.line - b.line));
  if (rows.length === 0) throw new TraceParseError([{ line: lines.length, message: "no invocations" }]);
  const origin = absolute.length ? Math.min(...absolute.map((r) => r.abs!)) : 0;
  const events: TraceEvent[] = rows.map((r) => ({
    t: Math.round(r.rel ?? r.abs! - origin),
    fn: r.fn,
    durationMs: r.durationMs,
  }));
  events.sort((a, b) => a.t - b.t);
  const functions: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) if (!seen.has(r.fn)) seen.add(r.fn), functions.push(r.fn);
  const last = events[events.length - 1];
  // A little time after the last invocation so it completes inside the trace.
  return { events, functions, durationMs: last.t + Math.max(60_000, Math.ceil(last.durationMs) + 1_000) };
};

/** The CSV text of a trace (timestamps in seconds, millisecond precision). */
export const formatTrace = (trace: Trace): string =>
  "timestamp,function,duration_ms\n" +
  trace.events.map((e) => `${(e.t / 1000).toFixed(3)},${e.fn},${e.durationMs}`).join("\n") + "\n";
