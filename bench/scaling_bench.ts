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
 */
import { parseArgs } from "node:util";
import type { PolicyName, PolicyResult } from "../sim/trace/types.ts";
import { generate } from "../sim/trace/generators.ts";
import { renderTable } from "../sim/trace/report.ts";

interface Job {
  readonly policy: PolicyName;
  readonly functions: number;
  readonly hours: number;
  readonly seed: number;
}

const isWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined" &&
  self instanceof (globalThis as unknown as { WorkerGlobalScope: typeof EventTarget }).WorkerGlobalScope;

if (isWorker) {
  const { replay } = await import("../sim/trace/replay.ts");
  const scope = self as unknown as Worker & { close(): void };
  scope.onmessage = async (e: MessageEvent<Job>) => {
    const job = e.data;
    const trace = generate("diurnal", { functions: job.functions, hours: job.hours, seed: job.seed });
    const result = await replay(trace, {
      policy: job.policy,
      seed: job.seed,
      onHour: (h, total, s) =>
        console.error(
          `  ${job.policy}: hour ${h}/${total}, ${s.invocations} invocations, ${s.coldStarts} cold starts`,
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
    },
  });
  const functions = Number(values.functions), hours = Number(values.hours), seed = Number(values.seed);
  const maxWallS = Number(values["max-wall-s"]);
  const started = performance.now();
  const trace = generate("diurnal", { functions, hours, seed });
  console.error(
    `scaling bench: ${functions} functions x ${hours} h diurnal (seed ${seed}), ${trace.events.length} invocations; ` +
      `reactive+idler and predictive in parallel workers`,
  );
  const run = (policy: PolicyName) =>
    new Promise<PolicyResult>((resolve, reject) => {
      const worker = new Worker(import.meta.url, { type: "module" });
      worker.onmessage = (e) => resolve(e.data as PolicyResult);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`${policy} worker: ${e.message}`));
      };
      worker.postMessage({ policy, functions, hours, seed } satisfies Job);
    });
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
