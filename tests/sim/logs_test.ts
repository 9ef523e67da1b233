/** Pod logs at the simulated API server. */
import assert from "node:assert/strict";
import { withSimCluster } from "../support/simcluster.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const podsPath = (ns: string, name = "", sub = "") =>
  `/api/v1/namespaces/${ns}/pods${name ? `/${name}` : ""}${sub ? `/${sub}` : ""}`;

/** A pod that fits on no node (it stays Pending, unscheduled). */
const unschedulablePod = (name: string) => ({
  metadata: { name },
  spec: {
    containers: [{ name: "c", image: "functions/alpine:latest", resources: { requests: { cpu: "1000" } } }],
  },
});

const ok = (res: { status: number; body: unknown }) => {
  assert.ok(res.status < 300, `${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as Any;
};

Deno.test("logs: following a never-started pod ends when the pod is deleted", async () => {
  await withSimCluster(({ cluster }) => {
    const api = cluster.api;
    ok(api.handle({ method: "POST", path: podsPath("default"), body: unschedulablePod("p") }));
    let ended = 0;
    const lines: string[] = [];
    api.readLog(podsPath("default", "p", "log"), { follow: "true" }, (l) => lines.push(l), () => ended++);
    assert.equal(ended, 0, "still following");
    ok(api.handle({ method: "DELETE", path: podsPath("default", "p"), query: { gracePeriodSeconds: "0" } }));
    assert.equal(ended, 1);
    assert.deepEqual(lines, []);
    // The LogStore entry is gone with the pod.
    assert.equal((cluster.logs as Any).logs.size, 0);
  });
});
