/**
 * What a simulated container sees of its surroundings, and small helpers that
 * reproduce Go's log and duration formats for the images' log lines.
 */

export interface ContainerContext {
  readonly podName: string;
  readonly namespace: string;
  readonly functionName: string;
  /** Container environment (`fprocess`, the function's envVars, ...), in order. */
  readonly env: Readonly<Record<string, string>>;
  /** Mounted files, e.g. `/var/openfaas/secrets/api-key` -> bytes. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Current time in milliseconds (virtual time in the simulator). */
  readonly now: () => number;
  /**
   * Sleeps `ms` of (virtual) time. Implementations should settle early, or drop
   * the timer, once `signal` aborts: the images abort the sleeps they no longer
   * need (an exec_timeout timer after the process finished, a sleeping process
   * after it was killed, a stream the client cancelled).
   */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Writes one line to the container's stdout/stderr log. */
  readonly log: (line: string) => void;
}

/** Thrown by `handle` for a container that does not serve HTTP (connection refused). */
export class ContainerUnreachableError extends Error {
  constructor(readonly podName: string, readonly reason: string) {
    super(`dial tcp ${podName}:8080: connect: connection refused (${reason})`);
    this.name = "ContainerUnreachableError";
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Go's standard `log` prefix: `2006/01/02 15:04:05 ` (UTC). */
const goLogPrefix = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} `;
};

/** A line as Go's `log.Printf` writes it (prefix, no trailing newline). */
export const goLog = (ctx: Pick<ContainerContext, "now">, message: string): string =>
  goLogPrefix(ctx.now()) + message.replace(/\n$/, "");

/** Go's `time.Duration.String()` for a duration in milliseconds: `10s`, `1m30s`, `500ms`, `0s`. */
export const goDurationString = (ms: number): string => {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const sign = ns < 0 ? "-" : "";
  ns = Math.abs(ns);
  const trim = (s: string) => s.replace(/\.?0+$/, "");
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${trim((ns / 1e3).toFixed(3))}µs`;
  if (ns < 1e9) return `${sign}${trim((ns / 1e6).toFixed(6))}ms`;
  const h = Math.floor(ns / 3.6e12);
  const m = Math.floor((ns % 3.6e12) / 6e10);
  const s = trim(((ns % 6e10) / 1e9).toFixed(9));
  return sign + (h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`);
};

/** `github.com/docker/go-units` `HumanSize`: decimal units, 4 significant digits (`335B`, `1.024kB`). */
export const humanSize = (size: number): string => {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
  let i = 0;
  let s = size;
  while (s >= 1000 && i < units.length - 1) {
    s /= 1000;
    i++;
  }
  return `${Number(s.toPrecision(4))}${units[i]}`;
};

/** Go's `%f`: six decimals. */
export const goFloat = (x: number, digits = 6): string => x.toFixed(digits);

/** Go's `http.StatusText`-style status line (`200 OK`) for the codes the images produce. */
export const statusLine = (status: number): string => {
  const text: Record<number, string> = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    500: "Internal Server Error",
    502: "Bad Gateway",
  };
  return `${status} ${text[status] ?? ""}`.trimEnd();
};

/** Reads the request body (empty for none). */
export const readBody = async (req: Request): Promise<Uint8Array> =>
  req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array();

/**
 * The environment a process in the container starts with, as a container
 * runtime builds it: `PATH` and `HOSTNAME` first, then the container's env,
 * then the image's `HOME` (functions run as user `app`).
 */
export const processEnvironment = (ctx: ContainerContext): Map<string, string> => {
  const env = new Map<string, string>([
    ["PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    ["HOSTNAME", ctx.podName],
  ]);
  for (const [k, v] of Object.entries(ctx.env)) {
    env.delete(k);
    env.set(k, v);
  }
  if (!env.has("HOME")) env.set("HOME", "/home/app");
  return env;
};
