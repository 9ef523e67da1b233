import { replay } from "../sim/trace/replay.ts";
const n = Number(Deno.args[0] ?? 10000), gap = Number(Deno.args[1] ?? 1000);
const events = Array.from({ length: n }, (_, i) => ({ t: i * gap, fn: "fn-0", durationMs: 50 }));
for (const policy of (Deno.args[2] ?? "fixed").split(",") as any) {
  const r = await replay({ events, functions: ["fn-0"], durationMs: n * gap }, { policy });
  console.log(policy, r.wallMs, r.addedLatencyP50, r.addedLatencyP99);
}
