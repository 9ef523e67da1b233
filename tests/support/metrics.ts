/** Reading the provider's /metrics in tests. */
import assert from "node:assert/strict";
import type { Harness } from "./harness.ts";

/** The value of the sample `series` (name and labels exactly as exposed), 0 when absent. */
export const sample = (text: string, series: string): number => {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
};

/** GET /metrics: its text, after checking it answered 200. */
export const metricsText = async (h: Harness) => {
  const r = await h.call("GET", "/metrics");
  assert.equal(r.status, 200);
  return r.text;
};
