import { replay } from "../sim/trace/replay.ts";
const n = 1000;
const events = Array.from({ length: n }, (_, i) => ({ t: i * 180_000, fn: "fn-0", durationMs: 50 }));
const r = await replay({ events, functions: ["fn-0"], durationMs: n * 180_000 }, {
  policy: "reactive+idler",
  zeroDurationMs: 60_000,
});
console.log(r.wallMs, r.coldStarts, r.scaleEvents);
