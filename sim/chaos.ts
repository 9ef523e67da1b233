/**
 * `deno task sim:chaos`: runs the real provider on the simulator in virtual time under a seeded workload
 * and fault schedule, checking invariants all the time (sim/chaos/). Any violation prints the seed, the
 * invariant with its context, a shrunk schedule and the command that replays it; the exit status is 1.
 *
 *   --seed N | --seeds A..B   seeds to run (default 1)
 *   --hours H                 simulated hours per seed before the faults stop (default 1)
 *   --replicas R              provider replicas on the one cluster (default 1)
 *   --functions N             function names in the workload (default 6)
 *   --faults-per-hour N       fault windows per simulated hour on average (default 6)
 *   --schedule S              replay this schedule (`faults=...;ops=...`, or @file) instead of the seed's
 *   --check-determinism       run every seed twice and fail when the two digests differ
 *   --no-shrink               print the violation without shrinking its schedule
 *   --shrink-runs N           candidate runs the shrinker may make (default 40)
 *   --stop-at-first           stop at the first seed with a violation
 *   --report FILE             write an HTML report with a timeline per seed
 */
import { parseArgs } from "node:util";
import { type ChaosOptions, type ChaosResult, runChaos } from "./chaos/run.ts";
import { decodeSchedule, encodeSchedule } from "./chaos/schedule.ts";
import { shrink } from "./chaos/shrink.ts";
import { htmlReport, summaryTable } from "./chaos/report.ts";

const helpText =
  `deno task sim:chaos [options]: the provider under a seeded workload and fault schedule, in virtual time

  --seed N | --seeds A..B   seeds to run (default 1)
  --hours H                 simulated hours per seed before the faults stop (default 1)
  --replicas R              provider replicas on the one cluster (default 1)
  --functions N             function names in the workload (default 6)
  --faults-per-hour N       fault windows per simulated hour on average (default 6)
  --schedule S              replay this schedule (faults=...;ops=..., or @file) instead of the seed's
  --check-determinism       run every seed twice and fail when the two digests differ
  --no-shrink               print a violation without shrinking its schedule
  --shrink-runs N           candidate runs the shrinker may make (default 40)
  --stop-at-first           stop at the first seed with a violation
  --report FILE             write an HTML report with a timeline per seed

Exit status: 0 when every invariant held, 1 on a violation, 2 on bad arguments.`;

export interface CliResult {
  readonly code: number;
  readonly results: ChaosResult[];
  /** The replay command printed for the first violation, if any. */
  readonly replay?: string;
}

const usage = (message: string): CliResult => {
  console.error(`sim:chaos: ${message}`);
  return { code: 2, results: [] };
};

const wholeNumber = (text: string | undefined, what: string, min: number): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what}: ${text} is not a whole number >= ${min}`);
  return n;
};

/** The command line, as a function: tests call it with the same arguments a user types. */
export const chaosCli = async (
  args: string[],
  extra: Pick<ChaosOptions, "provider"> & { print?: (line: string) => void } = {},
): Promise<CliResult> => {
  const print = extra.print ?? ((line: string) => console.log(line));
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        seed: { type: "string" },
        seeds: { type: "string" },
        hours: { type: "string", default: "1" },
        replicas: { type: "string", default: "1" },
        functions: { type: "string", default: "6" },
        "faults-per-hour": { type: "string", default: "6" },
        schedule: { type: "string" },
        "check-determinism": { type: "boolean", default: false },
        "no-shrink": { type: "boolean", default: false },
        "shrink-runs": { type: "string", default: "40" },
        "stop-at-first": { type: "boolean", default: false },
        report: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    return usage((e as Error).message);
  }
  if (values.help) {
    print(helpText);
    return { code: 0, results: [] };
  }
  let seeds: number[],
    hours: number,
    replicas: number,
    functions: number,
    perHour: number,
    shrinkRuns: number;
  let schedule;
  try {
    if (values.seed !== undefined && values.seeds !== undefined) {
      throw new Error("give --seed or --seeds, not both");
    }
    if (values.seeds !== undefined) {
      const m = /^(\d+)\.\.(\d+)$/.exec(values.seeds);
      if (!m || Number(m[2]) < Number(m[1])) {
        throw new Error(`--seeds: expected A..B with A <= B, got "${values.seeds}"`);
      }
      seeds = Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
    } else seeds = [wholeNumber(values.seed ?? "1", "--seed", 0)];
    hours = Number(values.hours);
    if (!Number.isFinite(hours) || hours <= 0 || hours > 1000) {
      throw new Error(`--hours: ${values.hours} is not in (0, 1000]`);
    }
    replicas = wholeNumber(values.replicas, "--replicas", 1);
    functions = wholeNumber(values.functions, "--functions", 1);
    shrinkRuns = wholeNumber(values["shrink-runs"], "--shrink-runs", 0);
    perHour = Number(values["faults-per-hour"]);
    if (!Number.isFinite(perHour) || perHour < 0) {
      throw new Error(`--faults-per-hour: ${values["faults-per-hour"]} is not >= 0`);
    }
    if (values.schedule !== undefined) {
      if (seeds.length !== 1) throw new Error("--schedule replays one seed: give --seed");
      const text = values.schedule.startsWith("@")
        ? Deno.readTextFileSync(values.schedule.slice(1))
        : values.schedule;
      schedule = decodeSchedule(text.trim(), { replicas, functions });
    }
  } catch (e) {
    return usage((e as Error).message);
  }
  const results: ChaosResult[] = [];
  let code = 0, replay: string | undefined;
  for (const seed of seeds) {
    const options: ChaosOptions = {
      seed,
      hours,
      replicas,
      functions,
      faultsPerHour: perHour,
      schedule,
      provider: extra.provider,
      onHour: seeds.length === 1
        ? (h, total, s) =>
          console.error(`seed ${seed}: hour ${h}/${total}, ${s.invocations} invocations, ${s.ops} ops`)
        : undefined,
    };
    const result = await runChaos(options);
    results.push(result);
    if (values["check-determinism"]) {
      const again = await runChaos({ ...options, onHour: undefined });
      if (again.digest !== result.digest) {
        code = 1;
        print(`seed ${seed}: NOT DETERMINISTIC: digest ${result.digest} then ${again.digest}`);
      }
    }
    if (seeds.length > 1) {
      console.error(
        `seed ${seed}: ${result.violations.length ? "VIOLATION" : "ok"} (${
          (result.wallMs / 1000).toFixed(1)
        } s)`,
      );
    }
    if (result.violations.length === 0) continue;
    code = 1;
    const v = result.violations[0];
    print(`seed ${seed}: invariant ${v.invariant} violated at ${(v.at / 1000).toFixed(0)} s of virtual time`);
    print(`  ${v.detail}`);
    for (const more of result.violations.slice(1, 5)) print(`  also: ${more.invariant}: ${more.detail}`);
    let replayHours = hours, replaySchedule = result.schedule;
    if (!values["no-shrink"]) {
      const shrunk = await shrink(options, result, {
        maxRuns: shrinkRuns,
        onStep: (m) => console.error(`  shrinking: ${m}`),
      });
      replayHours = shrunk.hours;
      replaySchedule = shrunk.schedule;
      print(`  shrunk in ${shrunk.runs} runs to: ${encodeSchedule(shrunk.schedule)}`);
    }
    const command =
      `deno task sim:chaos --seed ${seed} --hours ${replayHours} --replicas ${replicas} --functions ${functions} --schedule '${
        encodeSchedule(replaySchedule)
      }'`;
    print(`  replay: ${command}`);
    replay ??= command;
    if (values["stop-at-first"]) break;
  }
  print(summaryTable(results));
  const simHours = results.reduce((s, r) => s + r.hours, 0);
  const wall = results.reduce((s, r) => s + r.wallMs, 0) / 1000;
  print(
    `${results.length} seeds, ${results.filter((r) => r.violations.length).length} with violations; ${
      wall.toFixed(1)
    } s wall for ${simHours} simulated hours (${(wall / simHours).toFixed(2)} s per simulated hour)`,
  );
  if (results.length === 1 && results[0].heap.hour1 && results[0].heap.end) {
    const { hour1, end, historyHour1, historyEnd, endWithoutHistory = end } = results[0].heap;
    print(
      `heap: ${(hour1 / 2 ** 20).toFixed(1)} MiB after hour 1, ${
        (end / 2 ** 20).toFixed(1)
      } MiB at the end (x${(end / hour1).toFixed(2)}); the simulated API server's watch history (capped) ` +
        `held ${historyHour1} then ${historyEnd} events; without it at the end: ${
          (endWithoutHistory / 2 ** 20).toFixed(1)
        } MiB (x${(endWithoutHistory / hour1).toFixed(2)})`,
    );
  }
  if (values.report) {
    Deno.writeTextFileSync(values.report, htmlReport(results));
    print(`report: ${values.report}`);
  }
  return { code, results, replay };
};

if (import.meta.main) {
  const { code } = await chaosCli(Deno.args);
  Deno.exit(code);
}
