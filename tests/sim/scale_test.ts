/**
 * The simulator at scale, in TestClock time: the deployment controller's slow-start batches and
 * burst limit, generated pod names and their clashes, controller failures kept away from the
 * writes that woke them, in-order delivery, scaling to 2,000 replicas and back, capacity limits,
 * and a batched cascading delete.
 */
import assert from "node:assert/strict";
import { deploymentFixture } from "../support/fixtures.ts";
import { withSimCluster } from "../support/simcluster.ts";
import type { SimClusterShape } from "../../sim/cluster.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { generateNameAttempts, nameSuffixAlphabet } from "../../sim/names.ts";
import { Store } from "../../sim/store.ts";
import type { StoreEvent } from "../../sim/watch.ts";
import { SimApiServer } from "../../sim/apiserver.ts";
import { type Controller, type ControllerError, ControllerHub } from "../../sim/controllers/hub.ts";
import { burstReplicas, isPodReady, stepMs } from "../../sim/controllers/deployment.ts";
import { gcBatch } from "../../sim/controllers/gc.ts";
import { maxEndpointsPerSlice } from "../../sim/controllers/endpoints.ts";
import type { SimClock } from "../../sim/clock.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const ns = "openfaas-fn";
const deploymentsPath = `/apis/apps/v1/namespaces/${ns}/deployments`;

const ok = (res: { status: number; body: unknown }) => {
  assert.ok(res.status < 300, `${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as Any;
};

/** Deploys `name` (and its Service) through the API with `replicas`. */
const deploy = (
  cluster: SimClusterShape,
  name: string,
  replicas: number,
  extra: Record<string, unknown> = {},
) => {
  ok(cluster.api.handle({
    method: "POST",
    path: `/api/v1/namespaces/${ns}/services`,
    body: {
      metadata: { name },
      spec: { selector: { faas_function: name }, ports: [{ name: "http", port: 8080 }] },
    },
  }));
  const body = deploymentFixture(name, "functions/alpine:latest", { replicas });
  Object.assign(body.spec.template.spec.containers[0], extra);
  ok(cluster.api.handle({ method: "POST", path: deploymentsPath, body }));
};

/** Scales through the `scale` subresource; returns the response (the write that wakes the controllers). */
const scale = (cluster: SimClusterShape, name: string, replicas: number) =>
  cluster.api.handle({
    method: "PUT",
    path: `${deploymentsPath}/${name}/scale`,
    body: { metadata: { name, namespace: ns }, spec: { replicas } },
  });

const pods = (cluster: SimClusterShape) => [...cluster.store.scan(Kinds.Pod, ns)];

/** Advances virtual time in `step` ms steps until `done` holds (at most `maxMs`). */
const advanceUntil = async (
  advance: (ms: number) => Promise<void>,
  done: () => boolean,
  maxMs = 120_000,
  step = 1_000,
) => {
  for (let t = 0; t < maxMs && !done(); t += step) await advance(step);
  return done();
};

/** Pod creations per instant of cluster time, in order. */
const creationsPerInstant = (cluster: SimClusterShape) => {
  const perInstant = new Map<number, number>();
  const unsubscribe = cluster.store.subscribe((e) => {
    if (e.kind === Kinds.Pod && e.type === "ADDED") {
      const t = cluster.clock.now();
      perInstant.set(t, (perInstant.get(t) ?? 0) + 1);
    }
  });
  return { perInstant, unsubscribe };
};

/** 1, 2, 4, ... then `burst` per step, until `total`. */
const slowStart = (total: number, burst: number) => {
  const out: number[] = [];
  for (let batch = 1, left = total; left > 0; batch = Math.min(burst, batch * 2)) {
    out.push(Math.min(batch, left));
    left -= Math.min(batch, left);
  }
  return out;
};

Deno.test("sim scale: pods are created in slow-start batches (1, 2, 4, ... up to 500 per step), one step per turn", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    deploy(cluster, "big", 0);
    const { perInstant, unsubscribe } = creationsPerInstant(cluster);
    const start = cluster.clock.now();
    const res = scale(cluster, "big", 2_000);
    assert.equal(res.status, 200);
    // The write that asked for 2,000 returns after the first batch: one pod.
    assert.equal(pods(cluster).length, 1);
    assert.ok(await advanceUntil(advance, () => pods(cluster).length >= 2_000, 10_000, 5));
    unsubscribe();
    const expected = slowStart(2_000, burstReplicas);
    assert.deepEqual(expected.slice(0, 11), [1, 2, 4, 8, 16, 32, 64, 128, 256, 500, 500]);
    assert.deepEqual([...perInstant.values()], expected);
    // One step every stepMs of cluster time.
    assert.deepEqual([...perInstant.keys()], expected.map((_, i) => start + i * stepMs));
    assert.equal(pods(cluster).length, 2_000);
    // Deletions: at most burstReplicas per step.
    const deletions = new Map<number, number>();
    const stop = cluster.store.subscribe((e) => {
      const started = e.kind === Kinds.Pod &&
        (e.type === "DELETED" ? !e.old?.metadata.deletionTimestamp : Boolean(
          e.object.metadata.deletionTimestamp && !e.old?.metadata.deletionTimestamp,
        ));
      if (started) deletions.set(cluster.clock.now(), (deletions.get(cluster.clock.now()) ?? 0) + 1);
    });
    assert.equal(scale(cluster, "big", 0).status, 200);
    await advance(10 * stepMs);
    stop();
    assert.deepEqual([...deletions.values()], [500, 500, 500, 500]);
  }, { nodes: 3 });
});

Deno.test("sim scale: pod names are <replicaset>-xxxxx from apimachinery's alphabet, all different", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    deploy(cluster, "names", 1_500);
    await advance(1_000);
    const rs = [...cluster.store.scan(Kinds.ReplicaSet, ns)][0].metadata.name;
    const names = pods(cluster).map((p) => p.metadata.name!);
    assert.equal(names.length, 1_500);
    assert.equal(new Set(names).size, 1_500);
    const format = new RegExp(`^${rs}-[${nameSuffixAlphabet}]{5}$`);
    for (const n of names) assert.match(n, format);
    assert.ok(pods(cluster).every((p) => p.metadata.generateName === `${rs}-`));
  }, { nodes: 3 });
});

Deno.test("sim scale: a generated name that is taken is drawn again; the write that scaled succeeds", async () => {
  const suffixes = ["bbbbb", "bbbbb", "bbbbb", "ccccc", "ddddd", "fffff"];
  const errors: ControllerError[] = [];
  await withSimCluster(async ({ cluster, advance }) => {
    deploy(cluster, "clash", 1);
    const rs = [...cluster.store.scan(Kinds.ReplicaSet, ns)][0].metadata.name;
    assert.deepEqual(pods(cluster).map((p) => p.metadata.name), [`${rs}-bbbbb`]);
    // The next pods draw "bbbbb" twice (taken) before a free name.
    const res = scale(cluster, "clash", 3);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body && (res.body as Any).spec.replicas, 3);
    await advance(1_000);
    assert.deepEqual(pods(cluster).map((p) => p.metadata.name).sort(), [
      `${rs}-bbbbb`,
      `${rs}-ccccc`,
      `${rs}-ddddd`,
    ]);
    assert.equal(cluster.store.peek(Kinds.Deployment, ns, "clash")!.spec.replicas, 3);
    assert.deepEqual(errors, []);
  }, { nameSuffix: () => suffixes.shift() ?? "zzzzz", onControllerError: (e) => errors.push(e) });
});

Deno.test("sim scale: when every generated name is taken the create is retried later, never failing the scale", async () => {
  let suffix = () => "bbbbb";
  const errors: ControllerError[] = [];
  await withSimCluster(async ({ cluster, advance }) => {
    deploy(cluster, "full", 1);
    const rs = [...cluster.store.scan(Kinds.ReplicaSet, ns)][0];
    // The API server itself answers ServerTimeout after its attempts.
    const direct = cluster.api.handle({
      method: "POST",
      path: `/api/v1/namespaces/${ns}/pods`,
      body: {
        metadata: { generateName: `${rs.metadata.name}-` },
        spec: { containers: [{ name: "c", image: "x" }] },
      },
    });
    assert.equal(direct.status, 500);
    assert.equal((direct.body as Any).reason, "ServerTimeout");
    let calls = 0;
    suffix = () => (calls++, "bbbbb");
    const res = scale(cluster, "full", 2);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(calls, generateNameAttempts);
    assert.equal(pods(cluster).length, 1);
    const failed = [...cluster.store.scan(Kinds.Event, ns)].find((e) => e.reason === "FailedCreate");
    assert.ok(failed, "a FailedCreate event");
    assert.match(failed.message, /^Error creating: The POST operation against pods could not be completed/);
    assert.equal(failed.involvedObject.name, rs.metadata.name);
    // Names free up: the controller's retry (with back-off) makes the pod.
    let n = 0;
    suffix = () => ["ccccc", "ddddd"][n++] ?? "fffff";
    await advance(1_000);
    assert.equal(pods(cluster).length, 2);
    assert.deepEqual(errors, [], "handled in the controller, not thrown");
  }, { nameSuffix: () => suffix(), onControllerError: (e) => errors.push(e) });
});

/** An env whose timers run when the test says so. */
const manualEnv = () => {
  let now = Date.parse("2026-01-01T00:00:00Z"), id = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  const env: SimClock = {
    now: () => now,
    after: (ms, fn) => {
      const t = { at: now + ms, fn, id: ++id };
      timers.push(t);
      return () => {
        const i = timers.indexOf(t);
        if (i >= 0) timers.splice(i, 1);
      };
    },
    onTimers: () => {},
    random: Math.random,
    uid: () => crypto.randomUUID(),
    nextTurn: (fn) => fn(),
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at || a.id - b.id);
      if (timers.length === 0 || timers[0].at > end) break;
      const t = timers.shift()!;
      now = t.at;
      t.fn();
    }
    now = end;
  };
  return { env, advance };
};

Deno.test("sim scale: a controller that throws fails neither the API write nor the watchers; it is retried", () => {
  const { env, advance } = manualEnv();
  const store = new Store({ now: env.now, uid: env.uid, onListenerError: () => listenerErrors++ });
  let listenerErrors = 0;
  store.create(Kinds.Namespace, undefined, { metadata: { name: "ns" } });
  let failuresLeft = 2;
  const labeller: Controller = {
    name: "labeller",
    keysFor: (e: StoreEvent) =>
      e.kind === Kinds.Secret && e.type !== "DELETED" ? [e.object.metadata.name!] : [],
    reconcile: (key) => {
      if (failuresLeft-- > 0) throw new Error("boom");
      store.mutate(Kinds.Secret, "ns", key, (o) => {
        o.metadata.labels = { seen: "yes" };
      });
    },
  };
  const errors: ControllerError[] = [];
  new ControllerHub(store, [labeller], env, { onError: (e) => errors.push(e) });
  // A listener that throws, subscribed before the watch: the watch still gets everything.
  store.subscribe(() => {
    throw new Error("listener boom");
  });
  const api = new SimApiServer(store);
  const seen: [string, string, string | undefined][] = [];
  api.watch("/api/v1/namespaces/ns/secrets", {}, {
    event: (type, o) =>
      seen.push([type, (o as KObj).metadata.resourceVersion, (o as KObj).metadata.labels?.seen]),
    close: () => {},
  });
  const res = api.handle({
    method: "POST",
    path: "/api/v1/namespaces/ns/secrets",
    body: { metadata: { name: "s" } },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.ok(store.peek(Kinds.Secret, "ns", "s"), "stored");
  assert.deepEqual(seen, [["ADDED", (res.body as Any).metadata.resourceVersion, undefined]]);
  assert.equal(errors.length, 1);
  assert.deepEqual([errors[0].controller, errors[0].key, errors[0].retryInMs], ["labeller", "s", 5]);
  assert.ok(listenerErrors >= 1);
  // Retried with back-off (5 ms, then 10 ms): the third attempt succeeds.
  advance(5);
  assert.equal(errors.length, 2);
  assert.equal(errors[1].retryInMs, 10);
  advance(10);
  assert.equal(errors.length, 2);
  assert.equal(store.peek(Kinds.Secret, "ns", "s")!.metadata.labels?.seen, "yes");
  assert.deepEqual(seen.map(([type, , label]) => [type, label]), [["ADDED", undefined], ["MODIFIED", "yes"]]);
});

Deno.test("sim scale: every listener sees changes in resourceVersion order, also those controllers make in reaction", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    const rvs: number[] = [];
    const unsubscribe = cluster.store.subscribe((e) => rvs.push(e.rv));
    deploy(cluster, "ordered", 5);
    await advance(10_000);
    scale(cluster, "ordered", 1);
    await advance(60_000);
    unsubscribe();
    assert.ok(rvs.length > 50, `${rvs.length} events`);
    for (let i = 1; i < rvs.length; i++) {
      assert.ok(rvs[i] > rvs[i - 1], `event ${i}: ${rvs[i - 1]} then ${rvs[i]}`);
    }
  });
});

Deno.test("sim scale: 2,000 replicas on a cluster with room become ready, then scale back to 0", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    deploy(cluster, "wide", 1);
    await advance(10_000);
    assert.equal(scale(cluster, "wide", 2_000).status, 200);
    const d = () => cluster.store.peek(Kinds.Deployment, ns, "wide")!;
    assert.ok(
      await advanceUntil(advance, () => d().status?.readyReplicas === 2_000),
      JSON.stringify(d().status),
    );
    assert.equal(pods(cluster).filter(isPodReady).length, 2_000);
    const rs = [...cluster.store.scan(Kinds.ReplicaSet, ns)][0];
    assert.equal(rs.status.readyReplicas, 2_000);
    // The Service's endpoints: 2,000 ready, in slices of at most 100.
    const slices = [...cluster.store.scan(Kinds.EndpointSlice, ns)];
    const endpoints = slices.flatMap((s) => s.endpoints);
    assert.equal(endpoints.length, 2_000);
    assert.ok(endpoints.every((e: Any) => e.conditions.ready));
    assert.equal(new Set(endpoints.map((e: Any) => e.addresses[0])).size, 2_000);
    assert.ok(slices.every((s) => s.endpoints.length <= maxEndpointsPerSlice));
    assert.equal(slices.length, 2_000 / maxEndpointsPerSlice);

    assert.equal(scale(cluster, "wide", 0).status, 200);
    assert.ok(
      await advanceUntil(advance, () => pods(cluster).length === 0),
      `${pods(cluster).length} pods left`,
    );
    assert.equal(d().status.readyReplicas, undefined);
    assert.equal([...cluster.store.scan(Kinds.EndpointSlice, ns)].flatMap((s) => s.endpoints).length, 0);
    assert.equal(
      [...cluster.store.scan(Kinds.EndpointSlice, ns)].length,
      1,
      "the Service keeps one (empty) slice",
    );
  }, { nodes: 20 });
});

Deno.test("sim scale: beyond the cluster's capacity pods stay Pending, Unschedulable for Insufficient cpu", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    // 3 nodes of 4 CPUs: 120 pods of 100m fit.
    deploy(cluster, "tight", 1, { resources: { requests: { cpu: "100m" } } });
    await advance(10_000);
    assert.equal(scale(cluster, "tight", 200).status, 200);
    await advance(30_000);
    const all = pods(cluster);
    assert.equal(all.length, 200);
    const pending = all.filter((p) => !p.spec.nodeName);
    assert.equal(pending.length, 80);
    for (const p of pending) {
      assert.equal(p.status.phase, "Pending");
      const c = p.status.conditions.find((c: Any) => c.type === "PodScheduled");
      assert.deepEqual([c.status, c.reason], ["False", "Unschedulable"]);
      assert.equal(
        c.message,
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
      );
    }
    assert.equal(all.filter(isPodReady).length, 120);
    assert.equal(cluster.store.peek(Kinds.Deployment, ns, "tight")!.status.readyReplicas, 120);
    // Scaling down removes the pending pods first: the 100 left all run.
    assert.equal(scale(cluster, "tight", 100).status, 200);
    await advance(30_000);
    assert.equal(pods(cluster).length, 100);
    assert.ok(pods(cluster).every((p) => p.spec.nodeName && isPodReady(p)));
  }, { nodes: 3 });
});

Deno.test("sim scale: deleting a Deployment with 2,000 pods collects them in batches, then all are gone", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    deploy(cluster, "doomed", 2_000);
    await advance(10_000);
    assert.equal(pods(cluster).length, 2_000);
    const living = () => pods(cluster).filter((p) => !p.metadata.deletionTimestamp).length;
    const res = cluster.api.handle({ method: "DELETE", path: `${deploymentsPath}/doomed` });
    assert.equal(res.status, 200);
    assert.equal(cluster.store.peek(Kinds.Deployment, ns, "doomed"), undefined);
    // The garbage collector takes one batch per turn.
    assert.equal(living(), 2_000 - gcBatch);
    await advance(10);
    assert.equal(living(), 2_000 - 2 * gcBatch);
    assert.ok(
      await advanceUntil(advance, () => pods(cluster).length === 0, 120_000),
      `${pods(cluster).length} left`,
    );
    assert.equal([...cluster.store.scan(Kinds.ReplicaSet, ns)].length, 0);
  }, { nodes: 3 });
});
