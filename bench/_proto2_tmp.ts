import { replay } from "../sim/trace/replay.ts";
const fns = Number(Deno.args[0] ?? 100), hours = Number(Deno.args[1] ?? 3);
const functions = Array.from({ length: fns }, (_, i) => `fn-${i}`);
for (const policy of (Deno.args[2] ?? "reactive+idler").split(",") as any) {
  const r = await replay({ events: [], functions, durationMs: hours * 3600_000 }, { policy });
  console.log(policy, r.wallMs, r.replicaSeconds);
}
