/**
 * Driving `wrk` (an external HTTP load generator, `apt-get install wrk`) from the benchmarks: whether it is
 * installed, the Lua script for a POST of a given body (optionally paced to a fixed rate), one run, and
 * the parsing of the result line the script's `done` hook prints.
 *
 * wrk has no fixed-rate mode (that is wrk2's `-R`): a paced run gives each connection a `delay()` of
 * connections / rate between its requests (randomly rounded to whole milliseconds, so it averages out).
 * The delay is not part of the latency wrk records, and a connection waits for its answer before its next
 * delay, so the rate reached is a little under the one asked for (the report shows the rate reached).
 */

export interface WrkOptions {
  readonly url: string;
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  /** Bytes of the POST body (a printable pattern). */
  readonly bodyBytes: number;
  /** Requests per second over all connections; absent: as fast as the server answers. */
  readonly rate?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  /** Answers that were not 2xx or 3xx, and socket errors (connect, read, write, timeout). */
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly maxMs: number;
}

/** Whether `wrk` can be run here. */
export const wrkAvailable = async (): Promise<boolean> => {
  try {
    // wrk has no --version flag that exits 0: any answer means it is installed.
    await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
};

const resultTag = "WRK_RESULT";

/** The Lua script of a run: the request, the pacing (if any) and the `done` hook printing the result line. */
export const wrkScript = (bodyBytes: number, connections: number, rate?: number): string => {
  const lines = [
    `local size = ${Math.floor(bodyBytes)}`,
    `local pattern = "abcdefghijklmnopqrstuvwxyz"`,
    `wrk.method = "POST"`,
    `wrk.body = string.rep(pattern, math.ceil(size / #pattern)):sub(1, size)`,
    `wrk.headers["Content-Type"] = "application/octet-stream"`,
  ];
  if (rate !== undefined) {
    lines.push(
      `local interval = ${(connections * 1000 / rate).toFixed(3)}`,
      `function delay() return math.floor(interval + math.random()) end`,
    );
  }
  lines.push(
    `function done(summary, latency, requests)`,
    `  local e = summary.errors`,
    `  io.write(string.format("${resultTag} requests=%.0f duration_us=%.0f errors=%.0f p50_us=%.0f p99_us=%.0f mean_us=%.1f max_us=%.0f\\n",`,
    `    summary.requests, summary.duration, e.status + e.connect + e.read + e.write + e.timeout,`,
    `    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))`,
    `end`,
  );
  return lines.join("\n") + "\n";
};

/** The result line of a run's output (see wrkScript); throws when there is none or a field is missing. */
export const parseWrkResult = (output: string): WrkResult => {
  const line = output.split("\n").find((l) => l.startsWith(`${resultTag} `));
  if (!line) throw new Error(`no ${resultTag} line in wrk's output:\n${output}`);
  const fields = new Map<string, number>();
  for (const pair of line.slice(resultTag.length + 1).trim().split(/\s+/)) {
    const eq = pair.indexOf("=");
    if (eq > 0) fields.set(pair.slice(0, eq), Number(pair.slice(eq + 1)));
  }
  const field = (name: string) => {
    const v = fields.get(name);
    if (v === undefined || !Number.isFinite(v)) throw new Error(`wrk result without ${name}: ${line}`);
    return v;
  };
  return {
    requests: field("requests"),
    seconds: field("duration_us") / 1e6,
    errors: field("errors"),
    p50Ms: field("p50_us") / 1000,
    p99Ms: field("p99_us") / 1000,
    meanMs: field("mean_us") / 1000,
    maxMs: field("max_us") / 1000,
  };
};

/** One wrk run; its script goes to a temporary file, removed afterwards. */
export const runWrk = async (o: WrkOptions): Promise<WrkResult> => {
  const script = await Deno.makeTempFile({ prefix: "bench-wrk-", suffix: ".lua" });
  try {
    await Deno.writeTextFile(script, wrkScript(o.bodyBytes, o.connections, o.rate));
    const out = await new Deno.Command("wrk", {
      args: [
        `-t${o.threads}`,
        `-c${o.connections}`,
        `-d${o.seconds}s`,
        "--timeout",
        "10s",
        "-s",
        script,
        o.url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}\n${text}`);
    return parseWrkResult(text);
  } finally {
    await Deno.remove(script).catch(() => {});
  }
};
