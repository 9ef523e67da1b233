import assert from "node:assert/strict";

import { withSimCluster } from "../support/simcluster.ts";
import type { SimClusterShape } from "../../sim/cluster.ts";
import { type FaultConfig, Faults, installFaults, parseFaultFlags } from "../../sim/faults.ts";
import type { ApiRequest } from "../../sim/apiserver.ts";
import { ApiError } from "../../sim/apierror.ts";
import { serveSim } from "../../sim/serve.ts";
import { Kinds } from "../../sim/kinds.ts";

const withCluster = (fn: (cluster: SimClusterShape) => Promise<void> | void) =>
  withSimCluster(({ cluster }) => fn(cluster));

const secrets = "/api/v1/namespaces/openfaas-fn/secrets";

/** A fixed mix of requests: lists, gets, creates, updates, patches and deletes. */
const workload = (n: number): ApiRequest[] =>
  Array.from({ length: n }, (_, i): ApiRequest => {
    const name = `s${i % 7}`;
    switch (i % 6) {
      case 0:
        return { method: "GET", path: secrets };
      case 1:
        return { method: "GET", path: `${secrets}/${name}` };
      case 2:
        return { method: "POST", path: secrets, body: { metadata: { name } } };
      case 3:
        return { method: "PUT", path: `${secrets}/${name}`, body: { metadata: { name } } };
      case 4:
        return { method: "PATCH", path: `${secrets}/${name}`, body: { metadata: { labels: { a: "b" } } } };
      default:
        return { method: "DELETE", path: `${secrets}/${name}` };
    }
  });

/** Runs the workload on a fresh cluster with faults; returns every response's status. */
const run = async (config: FaultConfig, n = 300) => {
  let statuses: number[] = [];
  let log: unknown[] = [];
  await withCluster((cluster) => {
    const faults = new Faults(config);
    installFaults(cluster.api, faults);
    statuses = workload(n).map((r) => cluster.api.handle(structuredClone(r)).status);
    log = faults.log;
  });
  return { statuses, log };
};

Deno.test("faults: the same seed gives the same faults", async () => {
  const a = await run({ seed: 42, rate: 0.3 });
  const b = await run({ seed: 42, rate: 0.3 });
  assert.deepEqual(a.statuses, b.statuses);
  assert.deepEqual(a.log, b.log);
  assert.ok(a.log.length > 30, `some faults (${a.log.length})`);
  const c = await run({ seed: 43, rate: 0.3 });
  assert.notDeepEqual(a.log, c.log, "another seed, other faults");
});

Deno.test("faults: injected statuses are the configured ones, with Status bodies and Retry-After", async () => {
  await withCluster((cluster) => {
    const faults = new Faults({ seed: 1, rate: 1, statuses: [429], retryAfterSeconds: 7 });
    installFaults(cluster.api, faults);
    const res = cluster.api.handle({ method: "GET", path: secrets });
    assert.equal(res.status, 429);
    assert.equal(res.headers?.["retry-after"], "7");
    const body = res.body as { kind: string; reason: string; code: number };
    assert.deepEqual([body.kind, body.reason, body.code], ["Status", "TooManyRequests", 429]);
  });
  const { statuses } = await run({ seed: 3, rate: 0.5, statuses: [500, 503] }, 200);
  const injected = new Set(statuses.filter((s) => s >= 500));
  assert.deepEqual([...injected].sort(), [500, 503]);
  assert.ok(!statuses.includes(429));
});

Deno.test("faults: 409 Conflict only on updates and patches", async () => {
  const { log } = await run({ seed: 5, rate: 1, statuses: [409] }, 120);
  const verbs = new Set((log as { verb: string }[]).map((r) => r.verb));
  assert.deepEqual([...verbs].sort(), ["patch", "update"]);
  await withCluster((cluster) => {
    installFaults(cluster.api, new Faults({ rate: 1, statuses: [409] }));
    cluster.store.create(Kinds.Secret, "openfaas-fn", { metadata: { name: "x" } });
    const res = cluster.api.handle({
      method: "PUT",
      path: `${secrets}/x`,
      body: { metadata: { name: "x" } },
    });
    assert.equal(res.status, 409);
    assert.equal((res.body as { reason: string }).reason, "Conflict");
    assert.equal(cluster.api.handle({ method: "GET", path: `${secrets}/x` }).status, 200);
  });
});

Deno.test("faults: per-verb rates", async () => {
  const { log } = await run({ seed: 9, verbRates: { delete: 1 } }, 120);
  assert.equal(log.length, 20);
  assert.ok((log as { verb: string }[]).every((r) => r.verb === "delete"));
});

Deno.test("faults: uninstall restores the server", async () => {
  await withCluster((cluster) => {
    const uninstall = installFaults(cluster.api, new Faults({ rate: 1, watchDropRate: 1 }));
    assert.notEqual(cluster.api.handle({ method: "GET", path: secrets }).status, 200);
    uninstall();
    assert.equal(cluster.api.handle({ method: "GET", path: secrets }).status, 200);
    assert.equal(cluster.api.interceptor, undefined);
    assert.ok(!Object.hasOwn(cluster.api, "watch"));
  });
});

Deno.test("faults: dropped watches end after the drawn number of events", async () => {
  await withCluster(async (cluster) => {
    installFaults(cluster.api, new Faults({ seed: 2, watchDropRate: 1, watchDropAfterEvents: [2, 2] }));
    const rv = cluster.store.resourceVersion;
    const events: string[] = [];
    let closed = 0;
    cluster.api.watch(secrets, { resourceVersion: String(rv) }, {
      event: (type, o) => events.push(`${type}:${(o as { metadata: { name: string } }).metadata.name}`),
      close: () => closed++,
    });
    for (const name of ["a", "b", "c"]) {
      cluster.api.handle({ method: "POST", path: secrets, body: { metadata: { name } } });
    }
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(events, ["ADDED:a", "ADDED:b"]);
    assert.equal(closed, 1);
  });
});

Deno.test("faults: compaction makes resumes from old resourceVersions fail with 410", async () => {
  await withCluster((cluster) => {
    const rv = String(cluster.store.resourceVersion);
    cluster.api.handle({ method: "POST", path: secrets, body: { metadata: { name: "a" } } });
    installFaults(cluster.api, new Faults({ seed: 1, compactRate: 1 }));
    assert.equal(cluster.api.handle({ method: "GET", path: secrets }).status, 200);
    assert.throws(
      () => cluster.api.watch(secrets, { resourceVersion: rv }, { event: () => {}, close: () => {} }),
      (e: unknown) => e instanceof ApiError && e.code === 410,
    );
  });
});

Deno.test("faults: over HTTP, with latency", async () => {
  await withCluster(async (cluster) => {
    const sim = serveSim(cluster, {
      faults: new Faults({ seed: 1, rate: 1, statuses: [503], latencyMs: 40 }),
    });
    try {
      const started = performance.now();
      const res = await fetch(`${sim.url}${secrets}`);
      const body = await res.json();
      assert.ok(performance.now() - started >= 35, "latency added");
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal(body.kind, "Status");
      assert.equal(body.reason, "ServiceUnavailable");
      const version = await fetch(`${sim.url}/version`);
      assert.equal(version.status, 200, "discovery is not a resource request");
      await version.body?.cancel();
    } finally {
      await sim.close();
    }
    assert.equal(cluster.api.interceptor, undefined, "close() uninstalls the faults");
  });
});

Deno.test("faults: command-line settings", () => {
  assert.deepEqual(parseFaultFlags({ seed: "3", rate: "0.1" }), { seed: 3, rate: 0.1 });
  assert.deepEqual(parseFaultFlags({ rate: "update=0.5,*=0.01", statuses: "409,429" }), {
    rate: 0.01,
    verbRates: { update: 0.5 },
    statuses: [409, 429],
  });
  assert.deepEqual(parseFaultFlags({ latency: "10-200", watchDrop: "0.2:1-5", compact: "0.01" }), {
    latencyMs: [10, 200],
    watchDropRate: 0.2,
    watchDropAfterEvents: [1, 5],
    compactRate: 0.01,
  });
  assert.throws(() => parseFaultFlags({ rate: "2" }), /probability/);
  assert.throws(() => parseFaultFlags({ rate: "fly=0.1" }), /unknown verb/);
  assert.throws(() => parseFaultFlags({ statuses: "418" }), /not one of/);
});
