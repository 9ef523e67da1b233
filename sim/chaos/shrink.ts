/**
 * Shrinks the schedule of a failing run, delta-debugging style: drop fault windows, shorten the ones left,
 * drop workload operations, and end the run sooner, keeping each change only while the same invariant
 * still fails. Every candidate is a full run from the same seed, so the result replays exactly.
 */
import { type ChaosOptions, type ChaosResult, plan, runChaos } from "./run.ts";
import type { FaultWindow, Schedule } from "./schedule.ts";

export interface ShrinkOptions {
  /** Candidate runs at most (default 40). */
  readonly maxRuns?: number;
  /** Wall time at most, in ms (default 120 s). */
  readonly maxWallMs?: number;
  readonly onStep?: (message: string) => void;
}

export interface Shrunk {
  readonly schedule: Schedule;
  readonly hours: number;
  readonly result: ChaosResult;
  readonly runs: number;
}

/** Removes chunks of `items` while `fails` still holds (ddmin's complement step). */
const ddmin = async <T>(
  items: readonly T[],
  fails: (subset: readonly T[]) => Promise<boolean>,
  more: () => boolean,
) => {
  let current = [...items];
  if (current.length > 0 && more() && (await fails([]))) return [];
  let n = 2;
  while (current.length >= 2 && more()) {
    const chunk = Math.ceil(current.length / n);
    let reduced = false;
    for (let i = 0; i < current.length && more(); i += chunk) {
      const complement = [...current.slice(0, i), ...current.slice(i + chunk)];
      if (await fails(complement)) {
        current = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(current.length, n * 2);
    }
  }
  return current;
};

export const shrink = async (
  options: ChaosOptions,
  failing: ChaosResult,
  shrinkOptions: ShrinkOptions = {},
): Promise<Shrunk> => {
  const invariant = failing.violations[0].invariant;
  const maxRuns = shrinkOptions.maxRuns ?? 40;
  const deadline = performance.now() + (shrinkOptions.maxWallMs ?? 120_000);
  let runs = 0;
  const more = () => runs < maxRuns && performance.now() < deadline;
  let best = { schedule: failing.schedule, hours: options.hours, result: failing };
  const allOps = plan(options).workload.ops.map((op) => op.i);
  const tryRun = async (schedule: Schedule, hours: number): Promise<boolean> => {
    runs++;
    const result = await runChaos({ ...options, hours, schedule, onHour: undefined, keepLog: false });
    const fails = result.violations.some((v) => v.invariant === invariant);
    if (fails) best = { schedule, hours, result };
    return fails;
  };

  // Nothing that starts after the violation can have caused it (violations in the run, not at its end).
  const at = failing.violations[0].at;
  if (at < options.hours * 3_600_000 && more()) {
    const before: Schedule = {
      faults: best.schedule.faults.filter((w) => w.at < at),
      ops: (best.schedule.ops ?? allOps).filter((i) => plan(options).workload.ops[i].at < at),
    };
    if (await tryRun(before, best.hours)) {
      shrinkOptions.onStep?.("faults and operations after the violation dropped");
    }
  }
  // A shorter run, when the violation came before the end.
  const quarterHours = Math.ceil((at + 5 * 60_000) / 900_000) / 4;
  if (quarterHours < options.hours && more()) {
    const cut: Schedule = {
      faults: best.schedule.faults.filter((w) => w.at + w.ms <= quarterHours * 3_600_000),
      ops: best.schedule.ops,
    };
    if (await tryRun(cut, quarterHours)) shrinkOptions.onStep?.(`run shortened to ${quarterHours} h`);
  }
  // Fewer fault windows.
  const faults = await ddmin(
    best.schedule.faults,
    (subset) => tryRun({ ...best.schedule, faults: subset }, best.hours),
    more,
  );
  shrinkOptions.onStep?.(`${faults.length} of ${failing.schedule.faults.length} fault windows left`);
  // Shorter windows.
  let windows: FaultWindow[] = [...best.schedule.faults];
  for (let i = 0; i < windows.length && more(); i++) {
    while (windows[i].ms > 10_000 && more()) {
      const shorter = [...windows];
      shorter[i] = { ...windows[i], ms: Math.round(windows[i].ms / 2000) * 1000 };
      if (!(await tryRun({ ...best.schedule, faults: shorter }, best.hours))) break;
      windows = shorter;
    }
  }
  // Fewer workload operations.
  const ops = await ddmin(
    best.schedule.ops ?? allOps,
    (subset) => tryRun({ ...best.schedule, ops: subset }, best.hours),
    more,
  );
  shrinkOptions.onStep?.(`${ops.length} of ${allOps.length} operations left (${runs} runs)`);
  return { ...best, runs };
};
