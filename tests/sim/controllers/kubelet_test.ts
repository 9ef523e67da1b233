/**
 * The simulated cluster seen through the provider, in virtual time (issues 2 §2 and 3 §1, §4): the
 * slow-start and hang images, image pull back-off, an unschedulable memory request, and the
 * Deployment status fields during a deploy and a rolling update.
 */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../../support/harness.ts";
import { Kinds, type KObj } from "../../../sim/kinds.ts";

const deploy = async (h: Harness, body: Record<string, unknown>) => {
  const r = await h.call("POST", "/system/functions", { image: "functions/alpine:latest", ...body });
  assert.equal(r.status, 202, r.text);
};

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

const status = async (h: Harness, name: string): Promise<Status> => {
  const r = await h.call("GET", `/system/function/${name}`);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text);
};

const podsOf = (h: Harness, name: string) =>
  h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.filter((p) =>
    p.metadata.labels?.faas_function === name
  );

/** Samples `f` once per second of virtual time for `seconds` seconds; index i is i seconds after the start. */
const everySecond = async <T>(h: Harness, seconds: number, f: () => Promise<T> | T): Promise<T[]> => {
  const out: T[] = [await f()];
  for (let i = 1; i <= seconds; i++) {
    await h.advance(1_000);
    out.push(await f());
  }
  return out;
};

Deno.test("images gaps: an image pull failure backs off 10 s, 20 s, 40 s (kubelet Events and container state)", () =>
  withProvider(async (h) => {
    // Every write of the pod's Events, with the virtual time it happened (the Event aggregates repeats).
    const writes: { at: number; reason: string; message: string; count: number }[] = [];
    const unsubscribe = h.cluster.store.subscribe((e) => {
      if (e.kind !== Kinds.Event || e.type === "DELETED") return;
      if (e.object.involvedObject?.kind !== "Pod" || !e.object.involvedObject.name?.startsWith("nopull-")) {
        return;
      }
      writes.push({
        at: h.cluster.env.now(),
        reason: e.object.reason,
        message: e.object.message,
        count: e.object.count,
      });
    });
    try {
      await deploy(h, { service: "nopull", image: "registry.invalid/none:1" });
      const t0 = h.cluster.env.now();
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
    } finally {
      unsubscribe();
    }
  }));

Deno.test("scheduler gaps: a memory request no node can hold stays Pending with Insufficient memory", () =>
  withProvider(async (h) => {
    // Nodes have 16Gi; the request fits none of the three. Its CPU request is small, so memory is the reason.
    await deploy(h, { service: "bigmem", requests: { memory: "20Gi", cpu: "100m" } });
    await h.advance(60_000);
    const [pod] = podsOf(h, "bigmem");
    assert.equal(pod.status.phase, "Pending");
    assert.equal(pod.spec.nodeName, undefined, "not bound to a node");
    assert.equal(pod.status.containerStatuses, undefined, "no container was started");
    const scheduled = pod.status.conditions.find((c: { type: string }) => c.type === "PodScheduled");
    assert.equal(scheduled.status, "False");
    assert.equal(scheduled.reason, "Unschedulable");
    assert.match(scheduled.message, /^0\/3 nodes are available: 3 Insufficient memory\./);
    assert.doesNotMatch(scheduled.message, /Insufficient cpu/);
    const events = h.cluster.store.list(Kinds.Event, "openfaas-fn").items.filter((e) =>
      e.involvedObject.name === pod.metadata.name && e.reason === "FailedScheduling"
    );
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].type, "Warning");
    assert.match(events[0].message, /3 Insufficient memory/);
    const s = await status(h, "bigmem");
    assert.equal(s.availableReplicas, 0);
    assert.equal(s.readiness?.reason, "Unschedulable");
    assert.match(s.readiness!.message, /Insufficient memory/);
    assert.equal(s.readiness!.pod, pod.metadata.name);
    // A request that fits is scheduled at once on the same cluster.
    await deploy(h, { service: "smallmem", requests: { memory: "1Gi" } });
    await h.advance(10_000);
    assert.equal((await status(h, "smallmem")).availableReplicas, 1);
    assert.equal(podsOf(h, "bigmem")[0].spec.nodeName, undefined, "still Pending");
  }));

const condition = (d: KObj, type: string) =>
  (d.status?.conditions ?? []).find((c: { type: string }) => c.type === type);

/** Steady state: every status field agrees with the spec and both conditions are True. */
const assertSteady = (d: KObj, replicas: number, what: string) => {
  assert.equal(d.status.observedGeneration, d.metadata.generation, `${what}: observedGeneration`);
  assert.equal(d.status.replicas, replicas, `${what}: replicas`);
  assert.equal(d.status.readyReplicas, replicas, `${what}: readyReplicas`);
  assert.equal(d.status.availableReplicas, replicas, `${what}: availableReplicas`);
  assert.equal(d.status.updatedReplicas, replicas, `${what}: updatedReplicas`);
  assert.equal(d.status.unavailableReplicas, undefined, `${what}: no unavailableReplicas`);
  const available = condition(d, "Available");
  assert.equal(available?.status, "True", `${what}: ${JSON.stringify(d.status.conditions)}`);
  assert.equal(available?.reason, "MinimumReplicasAvailable");
  const progressing = condition(d, "Progressing");
  assert.equal(progressing?.status, "True", `${what}: ${JSON.stringify(d.status.conditions)}`);
  assert.equal(progressing?.reason, "NewReplicaSetAvailable");
};

Deno.test("deployment gaps: steady-state status fields, and a rolling update never below replicas - maxUnavailable", () =>
  withProvider(async (h) => {
    const body = { service: "roll", envProcess: "env", labels: { "com.openfaas.scale.min": "2" } };
    await deploy(h, body);
    await h.advance(15_000);
    const get = () => h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "roll");
    const before = get();
    assertSteady(before, 2, "after the deploy");
    const strategy = before.spec.strategy;
    assert.deepEqual(strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const minAvailable = before.spec.replicas - strategy.rollingUpdate.maxUnavailable;
    assert.equal(minAvailable, 2);

    // Every status the Deployment ever has during the update (not only what a sample sees).
    const written: KObj[] = [];
    const unsubscribe = h.cluster.store.subscribe((e) => {
      if (e.kind === Kinds.Deployment && e.type === "MODIFIED" && e.object.metadata.name === "roll") {
        written.push(structuredClone(e.object));
      }
    });
    try {
      const updated = await h.call("PUT", "/system/functions", {
        ...body,
        image: "ghcr.io/openfaas/alpine:latest",
      });
      assert.equal(updated.status, 202, updated.text);
      assert.equal(
        get().metadata.generation,
        before.metadata.generation + 1,
        "a template change is a new generation",
      );
      let sawUnavailable = 0;
      const samples = await everySecond(h, 30, async () => {
        const d = get();
        const pods = podsOf(h, "roll").filter((p) => !p.metadata.deletionTimestamp);
        const ready = (p: KObj) =>
          (p.status?.conditions ?? []).some((c: { type: string; status: string }) =>
            c.type === "Ready" && c.status === "True"
          );
        const notReady = pods.filter((p) => !ready(p)).length;
        if (notReady > 0) {
          sawUnavailable++;
          assert.ok(
            (d.status.unavailableReplicas ?? 0) >= 1,
            `${notReady} new pod(s) not ready, yet unavailableReplicas is ${d.status.unavailableReplicas}`,
          );
          assert.equal(condition(d, "Progressing")?.reason, "ReplicaSetUpdated");
        }
        return { d, provider: await status(h, "roll") };
      });
      assert.ok(sawUnavailable >= 2, `samples caught new pods before they were ready (${sawUnavailable})`);
      for (const [t, { d, provider }] of samples.entries()) {
        assert.ok(d.status.availableReplicas >= minAvailable, `t=${t}s: ${JSON.stringify(d.status)}`);
        assert.ok(
          provider.availableReplicas >= minAvailable,
          `t=${t}s: provider says ${provider.availableReplicas}`,
        );
        assert.ok(d.status.replicas <= d.spec.replicas + 1, `t=${t}s: at most maxSurge extra pods`);
        assert.equal(condition(d, "Available")?.status, "True", `t=${t}s`);
      }
      for (const d of written) {
        assert.ok(
          (d.status?.availableReplicas ?? 0) >= minAvailable,
          `a status write dropped below ${minAvailable}: ${JSON.stringify(d.status)}`,
        );
      }
      const after = get();
      assertSteady(after, 2, "after the rolling update");
      assert.equal(after.metadata.generation, before.metadata.generation + 1);
      const pods = podsOf(h, "roll");
      assert.equal(pods.length, 2);
      assert.ok(pods.every((p) => p.spec.containers[0].image === "ghcr.io/openfaas/alpine:latest"));
      const final = await status(h, "roll");
      assert.equal(final.image, "ghcr.io/openfaas/alpine:latest");
      assert.equal(final.availableReplicas, 2);
    } finally {
      unsubscribe();
    }
  }));

Deno.test("scale-down terminates pods gracefully: out of the endpoints at once, drained, then removed", () =>
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

Deno.test("pod deletion honours gracePeriodSeconds: 0 removes at once, a short grace kills before the drain ends", () =>
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
      query: { gracePeriodSeconds: "-1" },
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

Deno.test("a failing liveness probe: unready, killed after failureThreshold probes, restarted, ready again", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "flaky", image: "sim/unhealthy:latest" });
    const status = async () => JSON.parse((await h.call("GET", "/system/function/flaky")).text);
    const pod = () => h.cluster.store.list(Kinds.Pod, "openfaas-fn").items[0];
    const started = Date.parse(pod().status.containerStatuses[0].state.running.startedAt);
    const now = () => h.cluster.env.now();
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
