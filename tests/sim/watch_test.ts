/**
 * Regression tests for a review of the simulator: watch history trimming, field-selector
 * watches, pod IPs, PATCH in process and over HTTP, logs of pods that never ran, and
 * EndpointSlices of Services that lose their selector.
 */
import assert from "node:assert/strict";
import { withSimCluster } from "../support/simcluster.ts";

import { deploymentFixture } from "../support/fixtures.ts";
import { type SimOptions } from "../../sim/cluster.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { ApiError, Store } from "../../sim/store.ts";
import { serveSim } from "../../sim/serve.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** A simulated cluster in TestClock time. */
const withCluster = (opts: SimOptions, fn: Parameters<typeof withSimCluster>[0]) => withSimCluster(fn, opts);

const podsPath = (ns: string, name = "", sub = "") =>
  `/api/v1/namespaces/${ns}/pods${name ? `/${name}` : ""}${sub ? `/${sub}` : ""}`;

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { containers: [{ name: "c", image: "functions/alpine:latest", ...extra }] },
});

/** A pod that fits on no node (it stays Pending, unscheduled). */
const unschedulablePod = (name: string) => pod(name, { resources: { requests: { cpu: "1000" } } });

const ok = (res: { status: number; body: unknown }) => {
  assert.ok(res.status < 300, `${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as Any;
};

// ---------------------------------------------------------------------------
// 1. Watch history

Deno.test("store: a full watch history keeps the last historySize events; older resumes get 410", () => {
  let t = 0, u = 0;
  const historySize = 10;
  const store = new Store({ now: () => t++, uid: () => `uid-${u++}`, historySize });
  store.create(Kinds.Namespace, undefined, { metadata: { name: "ns" } });
  store.create(Kinds.Secret, "ns", { metadata: { name: "s" } });
  const change = (i: number) =>
    store.mutate(Kinds.Secret, "ns", "s", (o) => {
      o.metadata.labels = { n: String(i) };
    });
  const expired = (rv: number) =>
    assert.throws(
      () => store.eventsSince(rv, { kind: Kinds.Secret }),
      (e: unknown) => e instanceof ApiError && e.code === 410 && e.reason === "Expired",
    );
  // Well past the size (and past the chunk the array is trimmed by), checking every step.
  for (let i = 0; i < 2_500; i++) {
    change(i);
    const rv = store.resourceVersion;
    const from = Math.max(0, rv - historySize);
    const events = store.eventsSince(from, { kind: Kinds.Secret });
    assert.deepEqual(
      events.map((e) => e.rv),
      // (rv 1 is the Namespace's.)
      Array.from({ length: rv - from }, (_, k) => from + 1 + k).filter((r) => r > 1),
      `resume from ${from} at ${rv}`,
    );
    assert.equal(events[events.length - 1].object.metadata.labels.n, String(i));
    assert.deepEqual(store.eventsSince(rv, { kind: Kinds.Secret }), []);
    if (rv > 4) assert.equal(store.eventsSince(rv - 3, { kind: Kinds.Secret }).length, 3);
    if (from > 0) expired(from - 1);
  }
  expired(1);
  assert.deepEqual(store.eventsSince(store.resourceVersion - 5, { kind: Kinds.Namespace }), []);
  const rv = store.resourceVersion;
  store.compact();
  assert.deepEqual(store.eventsSince(rv, { kind: Kinds.Secret }), []);
  expired(rv - 1);
  change(-1);
  assert.deepEqual(store.eventsSince(rv, { kind: Kinds.Secret }).map((e) => e.rv), [rv + 1]);
});

// ---------------------------------------------------------------------------
// 2. Watches with a field selector

interface Seen {
  readonly type: string;
  readonly name: string;
  readonly rv: string;
  readonly phase?: string;
}

/**
 * Pod "run" starts and runs, then its phase becomes Failed; pod "never" never runs and is deleted.
 * Returns what a live watch on `status.phase=Running` from before it all saw, and what a watch
 * resumed from the same resourceVersion afterwards sees.
 */
const phaseWatchScenario = async (): Promise<{ live: Seen[]; resumed: Seen[] }> => {
  let out!: { live: Seen[]; resumed: Seen[] };
  await withCluster({}, async ({ cluster, advance }) => {
    const api = cluster.api;
    const seen = (into: Seen[]) => ({
      event: (type: string, o: unknown) => {
        const obj = o as KObj;
        into.push({
          type,
          name: obj.metadata.name!,
          rv: obj.metadata.resourceVersion!,
          phase: obj.status?.phase,
        });
      },
      close: () => {},
    });
    const query = { fieldSelector: "status.phase=Running" };
    const rv0 = String(cluster.store.resourceVersion);
    const live: Seen[] = [];
    const cancel = api.watch(podsPath("default"), { ...query, resourceVersion: rv0 }, seen(live));
    ok(api.handle({ method: "POST", path: podsPath("default"), body: unschedulablePod("never") }));
    ok(api.handle({ method: "POST", path: podsPath("default"), body: pod("run") }));
    await advance("30 seconds");
    assert.equal(cluster.store.peek(Kinds.Pod, "default", "run")?.status.phase, "Running");
    ok(api.handle({
      method: "PATCH",
      path: podsPath("default", "run", "status"),
      body: { status: { phase: "Failed" } },
      contentType: "application/merge-patch+json",
    }));
    ok(
      api.handle({
        method: "DELETE",
        path: podsPath("default", "never"),
        query: { gracePeriodSeconds: "0" },
      }),
    );
    cancel();
    const resumed: Seen[] = [];
    api.watch(podsPath("default"), { ...query, resourceVersion: rv0 }, seen(resumed))();
    out = { live, resumed };
  });
  return out;
};

Deno.test("watch with a field selector: ADDED when an object starts matching", async () => {
  const { live } = await phaseWatchScenario();
  assert.ok(live.length >= 2, JSON.stringify(live));
  assert.deepEqual(live[0], { ...live[0], type: "ADDED", name: "run", phase: "Running" });
  for (const e of live.slice(1, -1)) assert.deepEqual(e, { ...e, type: "MODIFIED", phase: "Running" });
});

Deno.test("watch with a field selector: DELETED when an object stops matching", async () => {
  const { live } = await phaseWatchScenario();
  assert.deepEqual(live[live.length - 1], { ...live[live.length - 1], type: "DELETED", name: "run" });
});

Deno.test("watch with a field selector: no event for an object that never matched, deleted or not", async () => {
  const { live } = await phaseWatchScenario();
  assert.deepEqual(live.filter((e) => e.name === "never"), []);
});

Deno.test("watch with a field selector: a resumed watch sees what a live one saw", async () => {
  const { live, resumed } = await phaseWatchScenario();
  assert.deepEqual(resumed, live);
});

// ---------------------------------------------------------------------------
// 3. Pod IPs

// ---------------------------------------------------------------------------
// 4. PATCH in process and over HTTP

const strategicImagePatch = {
  spec: { template: { spec: { containers: [{ name: "fn", image: "functions/alpine:0.2" }] } } },
};

/** The container after the strategic merge patch: the new image, every other field kept. */
const assertImagePatched = (dep: Any) => {
  const containers = dep.spec.template.spec.containers;
  assert.equal(containers.length, 1);
  const [c] = containers;
  assert.equal(c.name, "fn");
  assert.equal(c.image, "functions/alpine:0.2");
  assert.deepEqual(c.env, [{ name: "fprocess", value: "env" }], "other container fields kept");
  assert.equal(c.ports?.[0]?.containerPort, 8080);
  assert.deepEqual(c.readinessProbe?.exec, { command: ["cat", "/tmp/.lock"] });
};

const depPath = (name = "") => `/apis/apps/v1/namespaces/openfaas-fn/deployments${name ? `/${name}` : ""}`;

Deno.test("PATCH in process: a strategic merge patch merges containers by name", async () => {
  await withCluster({}, ({ cluster }) => {
    const api = cluster.api;
    ok(api.handle({ method: "POST", path: depPath(), body: deploymentFixture("fn") }));
    const rv = cluster.store.resourceVersion;
    const res = ok(api.handle({
      method: "PATCH",
      path: depPath("fn"),
      body: strategicImagePatch,
      contentType: "application/strategic-merge-patch+json",
    }));
    assertImagePatched(res);
    assertImagePatched(cluster.store.peek(Kinds.Deployment, "openfaas-fn", "fn"));
    assert.ok(Number(res.metadata.resourceVersion) > rv);
    // JSON patch and server-side apply, which only the HTTP facade took before.
    const jp = ok(api.handle({
      method: "PATCH",
      path: depPath("fn"),
      body: [{ op: "replace", path: "/spec/replicas", value: 3 }],
      contentType: "application/json-patch+json",
    }));
    assert.equal(jp.spec.replicas, 3);
    assertImagePatched(jp);
    const applied = api.handle({
      method: "PATCH",
      path: depPath("other"),
      body: deploymentFixture("other"),
      contentType: "application/apply-patch+yaml",
    });
    assert.equal(applied.status, 201);
    // A merge patch (the default) still replaces lists, and a stale resourceVersion is a conflict.
    const stale = api.handle({
      method: "PATCH",
      path: depPath("fn"),
      body: { metadata: { resourceVersion: String(rv) }, spec: { replicas: 1 } },
    });
    assert.equal(stale.status, 409);
    assert.equal((stale.body as Any).reason, "Conflict");
    const unknown = api.handle({ method: "PATCH", path: depPath("fn"), body: {}, contentType: "text/plain" });
    assert.equal(unknown.status, 415);
  });
});

Deno.test("PATCH in process: dryRun=All changes nothing", async () => {
  await withCluster({}, ({ cluster }) => {
    const api = cluster.api;
    ok(api.handle({ method: "POST", path: depPath(), body: deploymentFixture("fn") }));
    const rv = cluster.store.resourceVersion;
    const res = ok(api.handle({
      method: "PATCH",
      path: depPath("fn"),
      query: { dryRun: "All" },
      body: strategicImagePatch,
      contentType: "application/strategic-merge-patch+json",
    }));
    assertImagePatched(res);
    assert.equal(cluster.store.resourceVersion, rv);
    assert.equal(
      cluster.store.peek(Kinds.Deployment, "openfaas-fn", "fn")!.spec.template.spec.containers[0].image,
      "functions/alpine:latest",
    );
  });
});

Deno.test("PATCH over HTTP: the same strategic merge, one request through the fault interceptor", async () => {
  await withCluster({}, async ({ cluster }) => {
    const sim = serveSim(cluster, { port: 0 });
    try {
      ok(cluster.api.handle({ method: "POST", path: depPath(), body: deploymentFixture("fn") }));
      const seen: string[] = [];
      cluster.api.interceptor = (req) => {
        seen.push(req.method);
        return undefined;
      };
      const rv = cluster.store.resourceVersion;
      const res = await fetch(`${sim.url}${depPath("fn")}`, {
        method: "PATCH",
        body: JSON.stringify(strategicImagePatch),
        headers: { "content-type": "application/strategic-merge-patch+json" },
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assertImagePatched(body);
      assert.deepEqual(seen, ["PATCH"], "no synthetic GET");
      assert.equal(cluster.store.resourceVersion > rv, true);
      // Same result as in process.
      const inProcess = cluster.store.get(Kinds.Deployment, "openfaas-fn", "fn");
      assert.deepEqual(body.spec, inProcess.spec);
    } finally {
      cluster.api.interceptor = undefined;
      await sim.close();
    }
  });
});

// ---------------------------------------------------------------------------
// 5. Logs of a pod that never started

Deno.test("logs: following a never-started pod ends when the pod is deleted", async () => {
  await withCluster({}, ({ cluster }) => {
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

// ---------------------------------------------------------------------------
// 6. EndpointSlices
