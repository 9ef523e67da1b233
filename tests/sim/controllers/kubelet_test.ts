/**
 * The kubelet, in virtual time: readiness after the probe's delay, image pull back-off, pod IPs,
 * graceful termination and liveness probes, seen in the cluster and through the provider.
 */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../../support/harness.ts";
import {
  deployFunction as deploy,
  everySecond,
  functionStatus as status,
  podsOf,
} from "../../support/functions.ts";
import { Kinds } from "../../../sim/kinds.ts";
import { Effect } from "effect";
import { TestClock } from "effect/testing";
import { simRuntime, withSimCluster } from "../../support/simcluster.ts";
import { deploymentFixture } from "../../support/fixtures.ts";
import { SimCluster, type SimOptions } from "../../../sim/cluster.ts";
import { KubeApi } from "../../../src/kube/api.ts";

/** A simulated cluster in TestClock time. */
const withCluster = (opts: SimOptions, fn: Parameters<typeof withSimCluster>[0]) => withSimCluster(fn, opts);

const depPath = (ns: string, name = "") =>
  `/apis/apps/v1/namespaces/${ns}/deployments${name ? "/" + name : ""}`;

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { containers: [{ name: "c", image: "functions/alpine:latest", ...extra }] },
});

interface Status {
  availableReplicas: number;
  replicas: number;
  image: string;
  readiness?: { reason: string; message: string; pod: string };
}

/** Deploys and waits (virtual time) until the function is available. */
const deployReady = async (h: Harness, body: Record<string, unknown>) => {
  await deploy(h, body);
  await h.advance(10_000);
  const s = JSON.parse((await h.call("GET", `/system/function/${body.service}`)).text);
  assert.equal(s.availableReplicas, 1, JSON.stringify(s));
};

const invoke = (h: Harness, method: string, path: string, body?: string) =>
  h.advanceUntil(h.call(method, path, body));

Deno.test("kubelet: an image pull failure backs off 10 s, 20 s, 40 s in ImagePullBackOff (Events, container state, status)", () =>
  withProvider(async (h) => {
    // Every write of the pod's Events, with the virtual time it happened (the Event aggregates repeats).
    const writes: { at: number; reason: string; message: string; count: number }[] = [];
    const unsubscribe = h.cluster.store.subscribe((e) => {
      if (e.kind !== Kinds.Event || e.type === "DELETED") return;
      if (e.object.involvedObject?.kind !== "Pod" || !e.object.involvedObject.name?.startsWith("nopull-")) {
        return;
      }
      writes.push({
        at: h.cluster.clock.now(),
        reason: e.object.reason,
        message: e.object.message,
        count: e.object.count,
      });
    });
    try {
      await deploy(h, { service: "nopull", image: "registry.invalid/none:1" });
      const t0 = h.cluster.clock.now();
      const states = await everySecond(h, 90, () => {
        const [pod] = podsOf(h, "nopull");
        return pod?.status?.containerStatuses?.[0]?.state?.waiting?.reason as string | undefined;
      });
      const pulls = writes.filter((w) => w.reason === "Pulling").map((w) => (w.at - t0) / 1000);
      const backOffs = writes.filter((w) => w.reason === "BackOff").map((w) => (w.at - t0) / 1000);
      assert.ok(pulls.length >= 4, `pull attempts at ${pulls.join(", ")} s`);
      assert.ok(backOffs.length >= 3, `back-offs at ${backOffs.join(", ")} s`);
      // The wait between entering back-off and the next pull attempt doubles from 10 s.
      const waits = [0, 1, 2].map((i) => pulls[i + 1] - backOffs[i]);
      assert.deepEqual(waits, [10, 20, 40], `pulls ${pulls.join(", ")}; back-offs ${backOffs.join(", ")}`);
      // The repeats are one aggregated Event each, counted.
      const pulling = writes.filter((w) => w.reason === "Pulling");
      assert.deepEqual(pulling.map((w) => w.count), pulling.map((_, i) => i + 1));
      assert.ok(pulling.every((w) => w.message === `Pulling image "registry.invalid/none:1"`));
      assert.ok(
        writes.some((w) =>
          w.reason === "Failed" && /Failed to pull image "registry.invalid\/none:1"/.test(w.message)
        ),
      );

      // Container state, sampled every second: ErrImagePull after each attempt, ImagePullBackOff in between.
      const seen = states.map((s, t) => `${t}:${s}`);
      for (const t of pulls.slice(0, 4)) {
        assert.equal(states[t + 1], "ErrImagePull", `1 s after the attempt at ${t} s: ${seen.join(" ")}`);
      }
      for (const [i, t] of backOffs.slice(0, 3).entries()) {
        for (let s = t; s < pulls[i + 1]; s++) {
          assert.equal(states[s], "ImagePullBackOff", `backing off at ${s} s: ${seen.join(" ")}`);
        }
      }
      // And the function's status explains it.
      const s = await status(h, "nopull");
      assert.equal(s.availableReplicas, 0);
      assert.ok(["ImagePullBackOff", "ErrImagePull"].includes(s.readiness!.reason), JSON.stringify(s));
      assert.match(s.readiness!.message, /registry\.invalid\/none:1/);
      assert.equal(
        h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "nopull")?.status?.readyReplicas,
        undefined,
        "no ready replica",
      );
    } finally {
      unsubscribe();
    }
  }));

Deno.test("kubelet: scale-down terminates pods gracefully: out of the endpoints at once, drained, then removed", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "graceful", envProcess: "env", labels: { "com.openfaas.scale.min": "2" } });
    await h.advance(10_000);
    assert.equal((await h.call("POST", "/system/scale-function/graceful", { replicas: 1 })).status, 202);
    await h.advance(100);
    const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items;
    assert.equal(pods.length, 2, "the victim is still there, terminating");
    const victim = pods.find((p) => p.metadata.deletionTimestamp)!;
    assert.ok(victim, "one pod is terminating");
    assert.equal(victim.metadata.deletionGracePeriodSeconds, 32, "the default 30 s + 2 s");
    const slice = h.cluster.store.list(Kinds.EndpointSlice, "openfaas-fn").items[0];
    const entry = slice.endpoints.find((e: { targetRef: { name: string } }) =>
      e.targetRef.name === victim.metadata.name
    );
    assert.deepEqual(entry.conditions, { ready: false, serving: false, terminating: true });
    // The function is fine: one replica wanted, one available, no reason reported.
    const s = JSON.parse((await h.call("GET", "/system/function/graceful")).text);
    assert.deepEqual([s.replicas, s.availableReplicas, s.readiness], [1, 1, undefined]);
    // Requests go to the remaining pod only: `env` prints the pod's name as HOSTNAME.
    const survivor = pods.find((p) => !p.metadata.deletionTimestamp)!;
    assert.ok(survivor && survivor.metadata.name !== victim.metadata.name);
    for (let i = 0; i < 5; i++) {
      const r = await invoke(h, "POST", "/function/graceful", `r${i}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text.match(/^HOSTNAME=(.*)$/m)?.[1], survivor.metadata.name, r.text);
    }
    const events = h.cluster.store.list(Kinds.Event, "openfaas-fn").items.map((e) =>
      `${e.reason}: ${e.message}`
    );
    assert.ok(events.includes("Killing: Stopping container graceful"), events.join("\n"));
    const logs = await h.call("GET", `/system/logs?name=graceful&instance=${victim.metadata.name}&tail=1`);
    assert.match(logs.text, /SIGTERM received\.\. shutting down server in 10s/);
    // Gone once the watchdog has drained (write_timeout).
    await h.advance(9_000);
    assert.ok(h.cluster.store.peek(Kinds.Pod, "openfaas-fn", victim.metadata.name!), "still draining at 9s");
    await h.advance(2_000);
    assert.equal(h.cluster.store.peek(Kinds.Pod, "openfaas-fn", victim.metadata.name!), undefined);
    assert.equal(h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.length, 1);
  }));

Deno.test("kubelet: pod deletion honours gracePeriodSeconds: 0 removes at once, a short grace kills before the drain ends", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "short", envProcess: "cat", labels: { "com.openfaas.scale.min": "2" } });
    await h.advance(10_000);
    const [a, b] = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.map((p) => p.metadata.name!);
    const path = (name: string) => `/api/v1/namespaces/openfaas-fn/pods/${name}`;
    assert.equal(
      h.cluster.api.handle({ method: "DELETE", path: path(a), query: { gracePeriodSeconds: "0" } }).status,
      200,
    );
    assert.equal(h.cluster.store.peek(Kinds.Pod, "openfaas-fn", a), undefined, "removed at once");
    const bad = h.cluster.api.handle({
      method: "DELETE",
      path: path(b),
      query: { gracePeriodSeconds: "soon" },
    });
    assert.equal(bad.status, 400);
    assert.equal(
      h.cluster.api.handle({ method: "DELETE", path: path(b), body: { gracePeriodSeconds: 3 } }).status,
      200,
    );
    await h.advance(2_500);
    assert.ok(h.cluster.store.peek(Kinds.Pod, "openfaas-fn", b), "within its 3 s grace");
    await h.advance(1_000);
    assert.equal(
      h.cluster.store.peek(Kinds.Pod, "openfaas-fn", b),
      undefined,
      "killed at the end of the grace period",
    );
  }));

Deno.test("kubelet: a later DELETE that shortens a terminating pod's grace period brings its kill forward", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "shorten", envProcess: "cat" });
    await h.advance(10_000);
    const [name] = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.map((p) => p.metadata.name!);
    const path = `/api/v1/namespaces/openfaas-fn/pods/${name}`;
    // 30 s of grace: the watchdog would drain for its 10 s write_timeout.
    assert.equal(
      h.cluster.api.handle({ method: "DELETE", path, body: { gracePeriodSeconds: 30 } }).status,
      200,
    );
    await h.advance(1_000);
    const second = h.cluster.api.handle({ method: "DELETE", path, body: { gracePeriodSeconds: 4 } });
    assert.equal(second.status, 200);
    assert.equal(
      (second.body as { metadata: { deletionGracePeriodSeconds: number } }).metadata
        .deletionGracePeriodSeconds,
      4,
    );
    await h.advance(2_500);
    assert.ok(h.cluster.store.peek(Kinds.Pod, "openfaas-fn", name), "within the shortened 4 s grace");
    await h.advance(1_000);
    assert.equal(
      h.cluster.store.peek(Kinds.Pod, "openfaas-fn", name),
      undefined,
      "killed at the shortened deadline, not at the end of the drain or the first grace period",
    );
  }));

Deno.test("kubelet: a failing liveness probe: unready, killed after failureThreshold probes, restarted, ready again", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "flaky", image: "sim/unhealthy:latest" });
    const status = async () => JSON.parse((await h.call("GET", "/system/function/flaky")).text);
    const pod = () => h.cluster.store.list(Kinds.Pod, "openfaas-fn").items[0];
    const started = Date.parse(pod().status.containerStatuses[0].state.running.startedAt);
    const now = () => h.cluster.clock.now();
    // Healthy for its first minute.
    await h.advance(started + 59_000 - now());
    assert.equal((await status()).availableReplicas, 1);
    // Unhealthy from 60 s: the next readiness probe takes it out of service.
    await h.advance(2_000);
    let s = await status();
    assert.equal(s.availableReplicas, 0);
    assert.equal(s.readiness.reason, "NotReady");
    assert.equal(pod().status.containerStatuses[0].restartCount ?? 0, 0, "not killed yet");
    // Liveness fails 3 times, 2 s apart: killed and restarted with back-off.
    await h.advance(5_000);
    const c = pod().status.containerStatuses[0];
    assert.equal(c.restartCount, 1);
    assert.equal(c.lastState.terminated.exitCode, 137);
    const events = h.cluster.store.list(Kinds.Event, "openfaas-fn").items.map((e) =>
      `${e.reason}: ${e.message}`
    );
    assert.ok(events.some((e) => e.startsWith("Unhealthy: Liveness probe failed")), events.join("\n"));
    assert.ok(events.some((e) => e.startsWith("Unhealthy: Readiness probe failed")), events.join("\n"));
    assert.ok(
      events.includes("Killing: Container flaky failed liveness probe, will be restarted"),
      events.join("\n"),
    );
    s = await status();
    assert.equal(s.readiness.reason, "CrashLoopBackOff");
    // After the back-off the new container serves again.
    await h.advance(15_000);
    assert.equal((await status()).availableReplicas, 1);
    assert.equal((await invoke(h, "POST", "/function/flaky", "still here")).status, 200);
  }));

Deno.test("kubelet: pods become ready after their readiness delay in TestClock time", async () => {
  const rt = simRuntime();
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    await rt.runPromise(Effect.gen(function* () {
      const kube = yield* KubeApi;
      yield* kube.request({
        method: "POST",
        path: depPath("openfaas-fn"),
        body: deploymentFixture("a", "functions/alpine:latest"),
      });
    }));
    const ready = () => cluster.store.peek(Kinds.Deployment, "openfaas-fn", "a")?.status?.readyReplicas ?? 0;
    assert.equal(ready(), 0);
    await rt.runPromise(TestClock.adjust("1 second"));
    assert.equal(ready(), 0, "still pulling after 1s");
    await rt.runPromise(TestClock.adjust("10 seconds"));
    assert.equal(ready(), 1);
    const pods = cluster.store.list(Kinds.Pod, "openfaas-fn").items;
    assert.equal(pods.length, 1);
    assert.equal(pods[0].status.phase, "Running");
  } finally {
    await rt.dispose();
  }
});

Deno.test("kubelet: a pod IP is not handed out again while its pod lives, and is kept on restart", async () => {
  await withCluster({ nodes: 1 }, async ({ cluster, advance }) => {
    const { store } = cluster;
    const ipOf = (name: string) => store.peek(Kinds.Pod, "default", name)?.status?.podIP as string;
    store.create(Kinds.Pod, "default", pod("keep", { image: "sim/crashloop" }));
    const kept = ipOf("keep");
    assert.match(kept, /^10\.244\.1\.\d+$/);
    for (let i = 0; i < 260; i++) {
      store.create(Kinds.Pod, "default", pod(`churn-${i}`));
      const ip = ipOf(`churn-${i}`);
      assert.ok(ip && ip !== kept, `churn-${i} got ${ip}, the IP of a live pod`);
      store.delete(Kinds.Pod, "default", `churn-${i}`, { gracePeriodSeconds: 0 });
    }
    store.create(Kinds.Pod, "default", pod("other"));
    const live = [...store.scan(Kinds.Pod, "default")];
    assert.deepEqual(live.map((p) => p.metadata.name).sort(), ["keep", "other"]);
    assert.equal(new Set(live.map((p) => p.status.podIP)).size, 2);
    // The crashing container restarts; the pod keeps its IP.
    await advance("2 minutes");
    const status = store.peek(Kinds.Pod, "default", "keep")!.status;
    assert.ok(status.containerStatuses[0].restartCount >= 1);
    assert.equal(status.podIP, kept);
  });
});

Deno.test("kubelet: with every pod IP of its node taken, a pod waits for one (FailedCreatePodSandBox)", async () => {
  await withCluster({ nodes: 1 }, async ({ cluster, advance }) => {
    const { store } = cluster;
    store.mutate(Kinds.Node, undefined, "sim-node-1", (o) => {
      o.status.allocatable.pods = "300";
    });
    const ipOf = (name: string) =>
      store.peek(Kinds.Pod, "default", name)?.status?.podIP as string | undefined;
    for (let i = 0; i < 250; i++) store.create(Kinds.Pod, "default", pod(`p-${i}`));
    const ips = new Set(Array.from({ length: 250 }, (_, i) => ipOf(`p-${i}`)));
    assert.equal(ips.size, 250);
    store.create(Kinds.Pod, "default", pod("late"));
    assert.equal(ipOf("late"), undefined);
    const waiting = store.peek(Kinds.Pod, "default", "late")!.status.containerStatuses[0].state.waiting;
    assert.equal(waiting.reason, "ContainerCreating");
    const events = [...store.scan(Kinds.Event, "default")].filter((e) => e.involvedObject.name === "late");
    assert.ok(events.some((e) => e.reason === "FailedCreatePodSandBox"), JSON.stringify(events));
    const freed = ipOf("p-7");
    store.delete(Kinds.Pod, "default", "p-7", { gracePeriodSeconds: 0 });
    await advance("10 seconds");
    assert.equal(ipOf("late"), freed);
    await advance("30 seconds");
    assert.equal(store.peek(Kinds.Pod, "default", "late")!.status.phase, "Running");
  });
});
