/**
 * `deno task bench:scaling`: the predictive policy against reactive + idler on
 * 100 functions x 24 h of diurnal traffic (sim/trace/generators.ts "diurnal":
 * steady, periodic-timer and sparse/bursty functions), both replayed through the
 * provider on the simulator in virtual time in the same run, one policy per
 * worker (the machine's two cores).
 *
 * Target: the predictive policy has at least 50% fewer cold starts than
 * reactive + idler at no more than 10% extra replica-seconds, and the whole run
 * takes under 60 s of wall time. Exits 1 when the target is missed.
 *
 * Options: --functions N (100), --hours H (24), --seed S (1), --max-wall-s S (60).
 *
 * --replicas N (N > 1): the same trace also runs through N provider replicas on one simulated cluster
 * (leader election, the leader scaling on every replica's load, invocations round-robin across replicas;
 * sim/trace/replay.ts `replicas`), one worker per policy and replica count. Prints the 1-replica and
 * N-replica cold starts and replica-seconds per policy side by side; target: each within 5% of the
 * 1-replica figure. Exits 1 when one is missed (in this mode the policy targets above and the wall-time
 * target are not checked: four replays share the two cores).
 */
import { parseArgs } from "node:util";
import type { PolicyName, PolicyResult } from "../sim/trace/types.ts";
import { generate } from "../sim/trace/generators.ts";
import { renderTable } from "../sim/trace/report.ts";

/** Within 5%: the N-replica figure against the 1-replica one. */
const replicaTolerance = 0.05;

/** The side-by-side table of 1-replica and N-replica figures per policy, and whether all are within 5%. */
export const compareReplicas = (
  replicas: number,
  pairs: readonly (readonly [PolicyResult, PolicyResult])[],
): { text: string; ok: boolean } => {
  let ok = true;
  const rows = [["policy", "figure", "1 replica", `${replicas} replicas`, "difference", "within 5%"]];
  for (const [one, many] of pairs) {
    for (
      const [figure, a, b] of [
        ["cold starts", one.coldStarts, many.coldStarts],
        ["replica-seconds", one.replicaSeconds, many.replicaSeconds],
      ] as const
    ) {
      const rel = a ? (b - a) / a : b ? Infinity : 0;
      const within = Math.abs(rel) <= replicaTolerance;
      ok &&= within;
      rows.push([
        one.policy,
        figure,
        String(Math.round(a)),
        String(Math.round(b)),
        Number.isFinite(rel) ? `${rel >= 0 ? "+" : ""}${(rel * 100).toFixed(1)}%` : "n/a",
        within ? "ok" : "MISSED",
      ]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c < 2 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ");
  const text = [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join(
    "\n",
  );
  return { text, ok };
};

interface Job {
  readonly policy: PolicyName;
  readonly functions: number;
  readonly hours: number;
  readonly seed: number;
  readonly replicas: number;
}

const isWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined" &&
  self instanceof (globalThis as unknown as { WorkerGlobalScope: typeof EventTarget }).WorkerGlobalScope;

if (isWorker) {
  const scope = self as unknown as Worker & { close(): void };
  // The handler goes in before anything is awaited: a message that arrives while the module is still
  // loading (after an edit, the replay's modules are transpiled first) finds no handler and is lost, and
  // the worker then waits for ever.
  scope.onmessage = async (e: MessageEvent<Job>) => {
    const { replay } = await import("../sim/trace/replay.ts");
    const job = e.data;
    const trace = generate("diurnal", { functions: job.functions, hours: job.hours, seed: job.seed });
    const result = await replay(trace, {
      policy: job.policy,
      seed: job.seed,
      replicas: job.replicas,
      onHour: (h, total, s) =>
        console.error(
          `  ${job.policy}${
            job.replicas > 1 ? ` x${job.replicas}` : ""
          }: hour ${h}/${total}, ${s.invocations} invocations, ${s.coldStarts} cold starts`,
        ),
    });
    const { loadPerMinute: _l, replicasPerMinute: _r, perFunction: _p, ...summary } = result;
    scope.postMessage({
      ...summary,
      loadPerMinute: [],
      replicasPerMinute: [],
      perFunction: {},
    });
    scope.close();
  };
} else if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      functions: { type: "string", default: "100" },
      hours: { type: "string", default: "24" },
      seed: { type: "string", default: "1" },
      "max-wall-s": { type: "string", default: "60" },
      replicas: { type: "string", default: "1" },
    },
  });
  const replicas = Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1) {
    console.error(`--replicas: ${values.replicas} is not a whole number >= 1`);
    Deno.exit(2);
  }
  const functions = Number(values.functions), hours = Number(values.hours), seed = Number(values.seed);
  const maxWallS = Number(values["max-wall-s"]);
  const started = performance.now();
  const trace = generate("diurnal", { functions, hours, seed });
  console.error(
    `scaling bench: ${functions} functions x ${hours} h diurnal (seed ${seed}), ${trace.events.length} invocations; ` +
      `reactive+idler and predictive in parallel workers${
        replicas > 1 ? `, 1 and ${replicas} replicas` : ""
      }`,
  );
  const run = (policy: PolicyName, replicas = 1) =>
    new Promise<PolicyResult>((resolve, reject) => {
      const worker = new Worker(import.meta.url, { type: "module" });
      worker.onmessage = (e) => resolve(e.data as PolicyResult);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`${policy} worker: ${e.message}`));
      };
      worker.postMessage({ policy, functions, hours, seed, replicas } satisfies Job);
    });
  if (replicas > 1) {
    const [reactive, predictive, reactiveN, predictiveN] = await Promise.all([
      run("reactive+idler"),
      run("predictive"),
      run("reactive+idler", replicas),
      run("predictive", replicas),
    ]);
    const wallS = (performance.now() - started) / 1000;
    console.log(`1 replica:\n${renderTable([reactive, predictive])}`);
    console.log(`\n${replicas} replicas:\n${renderTable([reactiveN, predictiveN])}`);
    const { text, ok } = compareReplicas(replicas, [[reactive, reactiveN], [predictive, predictiveN]]);
    console.log(`\n${text}`);
    console.log(`wall time: ${wallS.toFixed(1)} s`);
    Deno.exit(ok ? 0 : 1);
  }
  const [reactive, predictive] = await Promise.all([run("reactive+idler"), run("predictive")]);
  const wallS = (performance.now() - started) / 1000;
  console.log(renderTable([reactive, predictive]));
  const coldCut = reactive.coldStarts ? 1 - predictive.coldStarts / reactive.coldStarts : 0;
  const extraRs = reactive.replicaSeconds ? predictive.replicaSeconds / reactive.replicaSeconds - 1 : 0;
  const coldOk = coldCut >= 0.5, rsOk = extraRs <= 0.1, wallOk = wallS < maxWallS;
  console.log(
    `\npredictive vs reactive+idler: cold starts ${reactive.coldStarts} -> ${predictive.coldStarts} (${
      (-coldCut * 100).toFixed(1)
    }%, target <= -50%: ${coldOk ? "ok" : "MISSED"}), replica-seconds ${
      Math.round(reactive.replicaSeconds)
    } -> ${Math.round(predictive.replicaSeconds)} (${extraRs >= 0 ? "+" : ""}${
      (extraRs * 100).toFixed(1)
    }%, target <= +10%: ${rsOk ? "ok" : "MISSED"})`,
  );
  console.log(`wall time: ${wallS.toFixed(1)} s (target < ${maxWallS} s: ${wallOk ? "ok" : "MISSED"})`);
  Deno.exit(coldOk && rsOk && wallOk ? 0 : 1);
}
