/**
 * `deno task sim:trace`: replays an invocation trace through the real provider
 * code (the invoke proxy handler, the Scaler with its autoscaler, idler and
 * predictor, the simulator's controllers) in virtual time, once per scaling
 * policy on a fresh provider, and compares them.
 *
 * Input, either:
 *   --trace FILE   a CSV trace, one invocation per line: `timestamp,function,duration_ms`
 *                  - timestamp: seconds from the start (`12.5`; `--time-unit ms` or a
 *                    `timestamp_ms` header for milliseconds; or an explicit `1500ms` / `1.5s`),
 *                    or an RFC 3339 date-time (`2026-01-01T08:00:00.250Z`) relative to the
 *                    earliest one; one kind per file
 *                  - function: a function name (lower-case DNS-1123 label)
 *                  - duration_ms: execution time in ms (the simulated function sleeps that long
 *                    in virtual time: image `sim/sleep`)
 *                  `#` comments, blank lines and an optional header line are allowed;
 *                  lines need not be sorted; errors name the line.
 *   --generator poisson|diurnal|bursty|periodic --functions N --hours H --seed S
 *                  a seeded synthetic trace (see sim/trace/generators.ts)
 *
 * Policies (`--policies`, default all): fixed (scaling off, 1 replica each),
 * reactive (autoscaler), reactive+idler (com.openfaas.scale.zero=true,
 * zero-duration `--zero-duration`, default 15m), predictive (the hybrid
 * histogram on top of reactive + idler).
 *
 * Output: a table (invocations, cold starts, added latency p50/p99,
 * replica-seconds, scale events), progress per simulated hour on stderr, and an
 * HTML report with inline SVG charts (`--report FILE`, default trace-report.html).
 */
import { parseArgs } from "node:util";
import { parseDuration } from "../src/domain/envvalues.ts";
import { parseTrace, TraceParseError } from "./trace/csv.ts";
import { generate, type GeneratorName, generatorNames } from "./trace/generators.ts";
import { replay } from "./trace/replay.ts";
import { renderHtml, renderTable } from "./trace/report.ts";
import { type PolicyName, policyNames, type PolicyResult, type Trace } from "./trace/types.ts";

export const usage = `Usage: deno task sim:trace [--trace FILE | --generator KIND] [options]

Replays an invocation trace through the provider (invoke proxy, Scaler, simulator) in virtual
time, once per scaling policy, and reports cold starts, added latency, replica-seconds and scale
events per policy.

Input (one of):
  --trace FILE          CSV, one invocation per line: timestamp,function,duration_ms
                          timestamp    seconds from the start (e.g. 12.5), or milliseconds with
                                       --time-unit ms or a "timestamp_ms" header, or with an explicit
                                       unit (1500ms, 1.5s), or RFC 3339 (2026-01-01T08:00:00.250Z,
                                       relative to the earliest); one kind per file
                          function     function name (lower-case DNS-1123 label)
                          duration_ms  execution time in ms (the function sleeps that long)
                        '#' comments, blank lines and an optional header line are allowed; lines need
                        not be sorted; errors name the line number.
  --generator KIND      ${generatorNames.join("|")} (default diurnal when no --trace)
  --functions N         generated functions (default 10)
  --hours H             generated hours (default 2)
  --seed S              generator and simulator seed (default 1)

Options:
  --time-unit s|ms      unit of bare numeric timestamps in --trace (default s)
  --policies LIST       comma-separated, from ${policyNames.join(",")} (default all)
  --zero-duration D     idler keep-alive for reactive+idler and predictive (default 15m)
  --report FILE         HTML report (default trace-report.html)
  --write-trace FILE    also write the (generated) trace as CSV
  --json                print the results as JSON instead of a table
  -h, --help            this help
`;

export interface CliResult {
  readonly trace: Trace;
  readonly results: PolicyResult[];
}

export const main = async (args: string[]): Promise<number> => {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        trace: { type: "string" },
        generator: { type: "string" },
        functions: { type: "string", default: "10" },
        hours: { type: "string", default: "2" },
        seed: { type: "string", default: "1" },
        "time-unit": { type: "string", default: "s" },
        policies: { type: "string", default: policyNames.join(",") },
        "zero-duration": { type: "string", default: "15m" },
        report: { type: "string", default: "trace-report.html" },
        "write-trace": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if (parsed.help) {
    console.log(usage);
    return 0;
  }
  const fail = (message: string) => {
    console.error(`sim:trace: ${message}`);
    return 2;
  };
  const int = (v: string, name: string, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min} (got "${v}")`);
    return n;
  };
  let trace: Trace;
  let seed: number;
  try {
    seed = int(parsed.seed, "seed", 0);
    if (parsed.trace && parsed.generator) return fail("use either --trace or --generator, not both");
    if (parsed.trace) {
      if (parsed["time-unit"] !== "s" && parsed["time-unit"] !== "ms") {
        return fail("--time-unit must be s or ms");
      }
      const text = await Deno.readTextFile(parsed.trace);
      trace = parseTrace(text, { timeUnit: parsed["time-unit"] as "s" | "ms" });
    } else {
      const kind = (parsed.generator ?? "diurnal") as GeneratorName;
      if (!generatorNames.includes(kind)) {
        return fail(`--generator must be one of ${generatorNames.join(", ")}`);
      }
      trace = generate(kind, {
        functions: Math.floor(int(parsed.functions, "functions", 1)),
        hours: int(parsed.hours, "hours", 0.01),
        seed,
      });
    }
  } catch (e) {
    if (e instanceof TraceParseError) return fail(`${parsed.trace}:\n${e.message}`);
    return fail((e as Error).message);
  }
  const policies = parsed.policies.split(",").map((p) => p.trim()).filter(Boolean) as PolicyName[];
  const unknown = policies.filter((p) => !policyNames.includes(p));
  if (unknown.length || policies.length === 0) {
    return fail(`unknown policy "${unknown.join(",")}"; choose from ${policyNames.join(",")}`);
  }
  const zeroDurationMs = parseDuration(parsed["zero-duration"], NaN);
  if (!(zeroDurationMs > 0)) return fail(`--zero-duration: "${parsed["zero-duration"]}" is not a duration`);
  if (parsed["write-trace"]) {
    const { formatTrace } = await import("./trace/csv.ts");
    await Deno.writeTextFile(parsed["write-trace"], formatTrace(trace));
  }

  console.error(
    `replaying ${trace.events.length} invocations of ${trace.functions.length} functions over ${
      (trace.durationMs / 3_600_000).toFixed(2)
    } h, policies: ${policies.join(", ")}`,
  );
  const results: PolicyResult[] = [];
  for (const policy of policies) {
    const r = await replay(trace, {
      policy,
      zeroDurationMs,
      seed,
      onHour: (h, total, s) =>
        console.error(
          `  ${policy}: hour ${h}/${total}, ${s.invocations} invocations, ${s.coldStarts} cold starts`,
        ),
    });
    console.error(`  ${policy}: done in ${(r.wallMs / 1000).toFixed(1)} s`);
    results.push(r);
  }
  if (parsed.json) {
    console.log(
      JSON.stringify(results.map(({ loadPerMinute: _l, replicasPerMinute: _r, ...rest }) => rest), null, 2),
    );
  } else console.log(renderTable(results));
  await Deno.writeTextFile(parsed.report, renderHtml(trace, results));
  console.error(`report: ${parsed.report}`);
  return 0;
};

if (import.meta.main) Deno.exit(await main(Deno.args));
