/**
 * Watches on the simulated API server: every change in order, a bounded history (older resumes get
 * 410), and field selectors (ADDED and DELETED as objects start and stop matching).
 */
import assert from "node:assert/strict";
import { Effect, Fiber, Stream } from "effect";
import { simRuntime, withSimCluster } from "../support/simcluster.ts";
import { assertSecretWatchEvents } from "../support/fixtures.ts";
import { KubeApi } from "../../src/kube/api.ts";

import type { SimOptions } from "../../sim/cluster.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { ApiError } from "../../sim/apierror.ts";
import { Store } from "../../sim/store.ts";

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

Deno.test("watch: a full history keeps the last historySize events; older resumes get 410", () => {
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
// 5. Logs of a pod that never started

// ---------------------------------------------------------------------------
// 6. EndpointSlices

Deno.test("watch: delivers every change in order", async () => {
  const rt = simRuntime();
  try {
    const events = await rt.runPromise(Effect.gen(function* () {
      const kube = yield* KubeApi;
      // deno-lint-ignore no-explicit-any
      const list: any = yield* kube.request({
        method: "GET",
        path: "/api/v1/namespaces/openfaas-fn/secrets",
      });
      const fiber = yield* kube.watch<{ metadata: { name: string; resourceVersion: string } }>(
        "/api/v1/namespaces/openfaas-fn/secrets",
        { resourceVersion: list.metadata.resourceVersion },
      ).pipe(Stream.take(5), Stream.runCollect, Effect.forkChild);
      for (const n of ["s1", "s2", "s3"]) {
        yield* kube.request({
          method: "POST",
          path: "/api/v1/namespaces/openfaas-fn/secrets",
          body: { metadata: { name: n }, stringData: { v: n } },
        });
      }
      yield* kube.request({
        method: "PUT",
        path: "/api/v1/namespaces/openfaas-fn/secrets/s2",
        body: { metadata: { name: "s2" }, stringData: { v: "x" } },
      });
      yield* kube.request({ method: "DELETE", path: "/api/v1/namespaces/openfaas-fn/secrets/s1" });
      return yield* Fiber.join(fiber);
    }));
    assertSecretWatchEvents(events);
  } finally {
    await rt.dispose();
  }
});
