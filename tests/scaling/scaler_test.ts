/**
 * The scaler service: decisions recorded only once made, the idler at the decision-log cap, state that
 * goes with its function, scaleFromZero's answers, and replayed loads that scale up once and come back.
 */
import assert from "node:assert/strict";
import { Clock, Effect, Layer, ManagedRuntime, References } from "effect";
import { TestClock } from "effect/testing";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { type Harness, virtualClock, withProvider } from "../support/harness.ts";
import { ApiError } from "../../sim/apierror.ts";
import { Caches, type CachesShape } from "../../src/kube/caches.ts";
import { Leadership } from "../../src/cluster/leader.ts";
import { Replicas } from "../../src/kube/replicas.ts";
import { KubeError } from "../../src/kube/api.ts";
import { Usage, type UsageShape } from "../../src/kube/usage.ts";
import { functionLabel } from "../../src/domain/keys.ts";
import { Invocations } from "../../src/metrics/invocations.ts";
import { ClusterLoad } from "../../src/cluster/loadshare.ts";
import { Scaler } from "../../src/scaling/scaler.ts";
import { untilDeploymentGone } from "../support/functions.ts";
import type { ReactiveWindows } from "../../src/scaling/rules.ts";
import { metrics } from "../../src/metrics/registry.ts";

const zeroDuration = "com.openfaas.scale.zero-duration";

const scaling = { config: { scaling: true } };

const deploy = async (h: Harness, service: string, labels: Record<string, string> = {}, image?: string) => {
  const r = await h.call("POST", "/system/functions", {
    service,
    image: image ?? "functions/alpine:latest",
    envProcess: "cat",
    labels,
  });
  assert.equal(r.status, 202, r.text);
};

const replicas = async (h: Harness, name: string) =>
  JSON.parse((await h.call("GET", `/system/function/${name}`)).text).replicas;

const decisionsOf = async (h: Harness, name: string) =>
  (await h.run(Effect.map(Effect.service(Scaler), (s) => s.decisions()))).filter((d) => d.function === name);

/** Scaling the deployment `name` fails with 403 (no retry) while `failing.on` is true. */
const failScalesOf = (h: Harness, name: string) => {
  const failing = { on: true };
  h.cluster.api.interceptor = (req) =>
    failing.on && (req.method === "PATCH" || req.method === "PUT") &&
      req.path.endsWith(`/deployments/${name}`)
      ? ApiError.of(403, "Forbidden", `deployments.apps "${name}" is forbidden`)
      : undefined;
  return failing;
};

Deno.test("scaler: a scale that fails is neither recorded nor counted as a decision", () =>
  withProvider(async (h) => {
    await deploy(h, "stuck", { "com.openfaas.scale.zero": "true", [zeroDuration]: "10s" });
    await h.advance(10_000);
    const counted = () =>
      metrics.scalingDecisions.get({
        function_name: "stuck.openfaas-fn",
        policy: "idler",
        direction: "down",
      });
    const before = counted();
    failScalesOf(h, "stuck");
    await h.advance(30_000); // the idler tries every tick
    assert.equal(await replicas(h, "stuck"), 1);
    assert.deepEqual(await decisionsOf(h, "stuck"), []);
    assert.equal(counted() - before, 0);
    h.cluster.api.interceptor = undefined;
    await h.advance(4_000);
    assert.equal(await replicas(h, "stuck"), 0);
    assert.deepEqual((await decisionsOf(h, "stuck")).map((d) => [d.policy, d.from, d.to]), [["idler", 1, 0]]);
    assert.equal(counted() - before, 1);
  }, scaling));

Deno.test("scaler: a failed scale from zero gives waiting requests their 503 at once, and the next request tries again", () =>
  withProvider(async (h) => {
    await deploy(h, "cold");
    await h.advance(10_000);
    await h.call("POST", "/system/scale-function/cold", { serviceName: "cold", replicas: 0 });
    await h.advance(15_000);
    const failing = failScalesOf(h, "cold");
    const now = () => h.run(Clock.currentTimeMillis);
    const started = await now();
    const results = await h.advanceUntil(
      Promise.all(Array.from({ length: 3 }, () => h.call("POST", "/function/cold", "x"))),
    );
    for (const r of results) {
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("x-openfaas-internal"), "proxy");
      assert.match(r.text, /No endpoints available for: cold/);
    }
    assert.ok(
      (await now()) - started < 1_000,
      `answered after ${(await now()) - started} ms of virtual time`,
    );
    assert.deepEqual(await decisionsOf(h, "cold"), []);
    failing.on = false;
    const ok = await h.advanceUntil(h.call("POST", "/function/cold", "again"));
    assert.equal(ok.status, 200);
    assert.equal(ok.text, "again");
    assert.deepEqual((await decisionsOf(h, "cold")).map((d) => [d.policy, d.from, d.to]), [[
      "from-zero",
      0,
      1,
    ]]);
  }, scaling));

Deno.test("scaler: a deleted function's invocation history goes with it; a redeploy starts afresh", () =>
  withProvider(async (h) => {
    await deploy(h, "phoenix");
    await h.advance(10_000);
    for (let i = 0; i < 3; i++) {
      assert.equal((await h.advanceUntil(h.call("POST", "/function/phoenix", "x"))).status, 200);
    }
    const load = () =>
      h.run(Effect.map(Effect.service(Invocations), (i) => i.load("phoenix", "openfaas-fn")));
    assert.ok(await load());
    assert.equal((await h.call("DELETE", "/system/functions", { functionName: "phoenix" })).status, 202);
    await h.advance(4_000);
    assert.equal(await load(), undefined, "forgotten once the function is gone");
    await untilDeploymentGone(h, "phoenix");
    await deploy(h, "phoenix");
    await h.advance(10_000);
    assert.equal((await h.advanceUntil(h.call("POST", "/function/phoenix", "x"))).status, 200);
    assert.equal((await load())?.idle.samples, 0, "no idle time from the previous deployment");
  }, scaling));

Deno.test("scaler: a redeployed function does not inherit the from-zero wait of the deleted one", () =>
  withProvider(async (h) => {
    await deploy(h, "phoenix");
    await h.advance(10_000);
    await h.call("POST", "/system/scale-function/phoenix", { serviceName: "phoenix", replicas: 0 });
    await h.advance(15_000);
    assert.equal((await h.advanceUntil(h.call("POST", "/function/phoenix", "x"))).status, 200); // from zero
    assert.equal((await h.call("DELETE", "/system/functions", { functionName: "phoenix" })).status, 202);
    await h.advance(4_000);
    await untilDeploymentGone(h, "phoenix");
    // Same name, an image that never pulls: replicas but no ready endpoint, and not at zero.
    await deploy(h, "phoenix", {}, "registry.invalid/none:1");
    await h.advance(1_000);
    const now = () => h.run(Clock.currentTimeMillis);
    const started = await now();
    const r = await h.advanceUntil(h.call("POST", "/function/phoenix", "x"));
    assert.equal(r.status, 503);
    const waited = (await now()) - started;
    assert.ok(
      waited < 10_000,
      `waited ${waited} ms of virtual time: the readiness wait, not the from-zero one`,
    );
  }, scaling));

// The scaler on its own, over in-memory deployments: thousands of decisions in a few milliseconds.

const namespace = "openfaas-fn";

const fakeDeployment = (name: string, replicas: number, labels: Record<string, string>): Deployment => ({
  metadata: { name, namespace, uid: name, labels: { [functionLabel]: name } },
  spec: {
    replicas,
    selector: { matchLabels: { [functionLabel]: name } },
    template: { metadata: { labels: { [functionLabel]: name, ...labels } } },
  },
  status: { replicas, readyReplicas: replicas },
});

const fakeCluster = async (windows?: ReactiveWindows) => {
  const deployments = new Map<string, Deployment>();
  const failing = new Set<string>();
  const caches = {
    deployments: {
      get: (_ns: string | undefined, name: string) => deployments.get(name),
      list: () => [...deployments.values()],
      version: () => 0,
    },
    pods: { list: () => [] },
  } as unknown as CachesShape;
  const replicas = Replicas.of({
    scale: (_ns: string, name: string, replicas: number) =>
      failing.has(name)
        ? Effect.fail(KubeError.status(500, "InternalError", "injected failure"))
        : Effect.sync(() => {
          const d = deployments.get(name)!;
          const scaled = { ...d, spec: { ...d.spec!, replicas } };
          deployments.set(name, scaled);
          return scaled;
        }),
    raiseFromZero: (_ns: string, name: string, replicas: number) =>
      failing.has(name)
        ? Effect.fail(KubeError.status(500, "InternalError", "injected failure"))
        : Effect.sync(() => {
          const d = deployments.get(name)!;
          if ((d.spec?.replicas ?? 0) !== 0) return { deployment: d, raised: false };
          const scaled = { ...d, spec: { ...d.spec!, replicas } };
          deployments.set(name, scaled);
          return { deployment: scaled, raised: true };
        }),
  });
  const usage = {
    ofNamespace: () => Effect.succeed(undefined),
    ofFunction: () => Effect.succeed(undefined),
  } as unknown as UsageShape;
  const layer = Scaler.layer({ autoscale: true, idler: true, fromZeroWindowMs: 60_000, windows }).pipe(
    Layer.provideMerge(ClusterLoad.local),
    Layer.provideMerge(
      Layer.mergeAll(
        Layer.succeed(Caches, caches),
        Layer.succeed(Replicas, replicas),
        Layer.succeed(Usage, usage),
        Invocations.layer,
        Leadership.always(),
      ),
    ),
    Layer.provideMerge(virtualClock),
    Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "None")),
  );
  const runtime = ManagedRuntime.make(layer);
  const scaler = await runtime.runPromise(Effect.service(Scaler));
  const invocations = await runtime.runPromise(Effect.service(Invocations));
  return {
    /** Starts `n` invocations of `name` that end at once. */
    invoke: (name: string, n: number) => {
      for (let i = 0; i < n; i++) invocations.start(name, namespace)(200);
    },
    deployments,
    failing,
    scaler,
    tick: () => runtime.runPromise(scaler.tick),
    fromZero: (name: string) => runtime.runPromise(scaler.scaleFromZero(name, namespace)),
    advance: (ms: number) => runtime.runPromise(TestClock.adjust(ms)),
    close: () => runtime.dispose(),
  };
};

Deno.test("scaler: at the 10,000-decision cap, a function the idler scaled to zero is not scaled back up by the autoscaler", async () => {
  const c = await fakeCluster();
  try {
    // Functions the idler scales to zero on every round (set back to 1 before each): 100 decisions a round.
    const idle = { "com.openfaas.scale.zero": "true", [zeroDuration]: "0s" };
    const fillers = Array.from({ length: 100 }, (_, i) => `filler-${i}`);
    const refill = () => {
      for (const f of fillers) c.deployments.set(f, fakeDeployment(f, 1, idle));
    };
    for (let round = 0; round < 100; round++) {
      refill();
      await c.tick();
    }
    assert.equal(c.scaler.decisions().length, 10_000);
    // Idle at 3 replicas (min 1): the autoscaler alone would want 1.
    c.deployments.set("target", fakeDeployment("target", 3, idle));
    refill();
    await c.tick();
    assert.equal(c.deployments.get("target")!.spec!.replicas, 0);
    const all = c.scaler.decisions();
    assert.equal(all.length, 10_000);
    assert.deepEqual(
      all.filter((d) => d.function === "target").map((d) => [d.policy, d.from, d.to]),
      [["idler", 3, 0]],
    );
    assert.equal(all[all.length - 1].function, "target", "newest last");
    // 10,101 decisions made: the first 101 (round 0, and round 1's first) have been dropped.
    assert.equal(all[0].function, "filler-1");
  } finally {
    await c.close();
  }
});

Deno.test("scaler: scaleFromZero reports from-zero, not-at-zero or failed, and forgets a function that is gone", async () => {
  const c = await fakeCluster();
  try {
    c.deployments.set("fn", fakeDeployment("fn", 0, { "com.openfaas.scale.min": "2" }));
    c.failing.add("fn");
    assert.equal(await c.fromZero("fn"), "failed");
    assert.equal(c.deployments.get("fn")!.spec!.replicas, 0);
    assert.deepEqual(c.scaler.decisions(), []);
    c.failing.delete("fn");
    const together = await Promise.all([c.fromZero("fn"), c.fromZero("fn")]);
    assert.deepEqual(together, ["from-zero", "from-zero"]);
    assert.equal(c.deployments.get("fn")!.spec!.replicas, 2);
    assert.equal(c.scaler.decisions().length, 1, "one scale-up for concurrent callers");
    // Within the from-zero window later requests wait as long as the first; after it, briefly.
    await c.advance(30_000);
    assert.equal(await c.fromZero("fn"), "from-zero");
    await c.advance(31_000);
    assert.equal(await c.fromZero("fn"), "not-at-zero");
    // Gone, then back with replicas within the window of a new scale-up: it starts afresh.
    c.deployments.set("fn", fakeDeployment("fn", 0, {}));
    assert.equal(await c.fromZero("fn"), "from-zero");
    c.deployments.delete("fn");
    await c.tick();
    c.deployments.set("fn", fakeDeployment("fn", 1, {}));
    assert.equal(await c.fromZero("fn"), "not-at-zero");
    assert.equal(await c.fromZero("nope"), "not-at-zero");
  } finally {
    await c.close();
  }
});

const start = Date.parse("2026-01-01T00:00:00Z");

/** The windows before scale-down was made faster: Knative's 60 s stable window and a 30 s scale-down delay. */
const slowWindows: ReactiveWindows = { stableMs: 60_000, panicMs: 6_000, downDelayMs: 30_000 };

/** Replays `rpsAt(second)` for `seconds` on one function (min 1, max 4); its decisions and replicas each second. */
const replayLoad = async (seconds: number, rpsAt: (s: number) => number, windows?: ReactiveWindows) => {
  const c = await fakeCluster(windows);
  try {
    c.deployments.set("f", fakeDeployment("f", 1, { "com.openfaas.scale.max": "4" }));
    const replicas: number[] = [];
    for (let s = 0; s < seconds; s++) {
      c.invoke("f", rpsAt(s));
      await c.advance(1_000); // the scaler's loop ticks every 2 s of virtual time
      replicas.push(c.deployments.get("f")!.spec!.replicas!);
    }
    return { decisions: c.scaler.decisions().filter((d) => d.function === "f"), replicas };
  } finally {
    await c.close();
  }
};

/** Seconds from `from` until replicas are back at 1 (-1: never). */
const backAtMinAfter = (replicas: number[], from: number) => {
  const at = replicas.findIndex((r, s) => s >= from && r === 1);
  return at < 0 ? -1 : at - from;
};

Deno.test("scaler: bursty load (8 s at 15 req/s every 20 s for 15 minutes) scales up once and never flaps", async () => {
  const bursty = (s: number) => (s < 900 && s % 20 < 8 ? 15 : 0);
  const { decisions, replicas } = await replayLoad(960, bursty);
  const during = decisions.filter((d) => d.at < start + 900_000);
  assert.ok(during.some((d) => d.to > 1), "the bursts scale it up");
  // The scale-down count does not grow with the length of the trace: the lulls never take replicas away.
  assert.deepEqual(during.filter((d) => d.to < d.from), [], `replicas: ${replicas.join(",")}`);
  assert.ok(during.length <= 3, JSON.stringify(during.map((d) => [d.from, d.to])));
  const back = backAtMinAfter(replicas, 900);
  assert.ok(back >= 0 && back <= 45, `back at 1 replica ${back} s after the last burst`);
});

Deno.test("scaler: after a step of load ends the function is back at its minimum within 45 s (the old windows took longer)", async () => {
  const step = (s: number) => (s < 90 ? 10 : 0);
  const fast = await replayLoad(200, step);
  const slow = await replayLoad(200, step, slowWindows);
  assert.equal(fast.replicas[89], 3, "10 req/s at 4.5 per replica");
  const fastS = backAtMinAfter(fast.replicas, 90), slowS = backAtMinAfter(slow.replicas, 90);
  assert.ok(fastS >= 0 && fastS <= 45, `back at 1 replica ${fastS} s after the load ended`);
  assert.ok(slowS > 45, `the old windows: ${slowS} s`);
  // Only down after the load ends, never back up.
  const after = fast.decisions.filter((d) => d.at >= start + 90_000);
  assert.ok(after.length > 0 && after.every((d) => d.to < d.from), JSON.stringify(after));
});
