import { replay } from "../sim/trace/replay.ts";
const nf = Number(Deno.args[0]), n = 5000, policy = (Deno.args[1] ?? "fixed") as any;
const events = Array.from({ length: n }, (_, i) => ({ t: i * 1000, fn: "fn-0", durationMs: 50 }));
const functions = Array.from({ length: nf }, (_, i) => `fn-${i}`);
const r = await replay({ events, functions, durationMs: n * 1000 }, { policy });
console.log(nf, policy, r.wallMs);
const r2 = await replay({ events: [], functions, durationMs: n * 1000 }, { policy });
console.log(nf, policy, "empty", r2.wallMs);
