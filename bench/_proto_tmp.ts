import { generate } from "../sim/trace/generators.ts";
import { replay } from "../sim/trace/replay.ts";
const fns = Number(Deno.args[0] ?? 10), hours = Number(Deno.args[1] ?? 2);
const trace = generate("diurnal", { functions: fns, hours, seed: 1 });
console.log("events", trace.events.length);
for (const policy of (Deno.args[2] ?? "fixed,reactive+idler,predictive").split(",") as any) {
  const r = await replay(trace, { policy, onHour: (h, n, s) => console.error(`${policy} ${h}/${n}`, s) });
  const { perFunction, loadPerMinute, replicasPerMinute, ...rest } = r;
  console.log(JSON.stringify(rest));
}
