/** End to end on the simulator: deploy through the API, invoke through /function, read logs. */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

const deploy = async (h: Harness, body: Record<string, unknown>) => {
  const r = await h.call("POST", "/system/functions", { image: "functions/alpine:latest", ...body });
  assert.equal(r.status, 202, r.text);
};

/** Deploys and waits (virtual time) until the function is available. */
const deployReady = async (h: Harness, body: Record<string, unknown>) => {
  await deploy(h, body);
  await h.advance(10_000);
  const s = JSON.parse((await h.call("GET", `/system/function/${body.service}`)).text);
  assert.equal(s.availableReplicas, 1, JSON.stringify(s));
};

const invoke = (h: Harness, method: string, path: string, body?: string, headers?: Record<string, string>) =>
  h.advanceUntil(h.call(method, path, body, headers));

Deno.test("invoke: every verb reaches an env function, which sees Http_Method, query and path", () =>
  withProvider(async (h) => {
    await deployReady(h, {
      service: "env-test-verbs",
      envProcess: "env",
      envVars: { custom_env: "custom_env_value" },
    });
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
      const r = await invoke(
        h,
        method,
        "/function/env-test-verbs.openfaas-fn",
        method === "GET" ? undefined : "x",
      );
      assert.equal(r.status, 200, `${method}: ${r.text}`);
      assert.match(r.text, new RegExp(`Http_Method=${method}`));
      assert.match(r.text, /custom_env=custom_env_value/);
      assert.ok(r.headers.get("x-call-id"));
      assert.ok(r.headers.get("x-start-time"));
    }
    const q = await invoke(h, "GET", "/function/env-test-verbs/sub/path?testing=1");
    assert.match(q.text, /Http_Query=testing=1/);
    assert.match(q.text, /Http_Path=\/sub\/path/);
  }));

Deno.test("invoke: a 256 KiB body is echoed byte-exact by cat", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "echo", envProcess: "cat" });
    const data = new Uint8Array(256 * 1024).map((_, i) => (i * 7 + 3) % 256);
    const res = await h.advanceUntil(fetch(`${h.url}/function/echo`, { method: "POST", body: data }));
    const back = new Uint8Array(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.equal(back.length, data.length);
    assert.deepEqual(back, data);
  }));

Deno.test("invoke: a secret is read back by cat /var/openfaas/secrets/<name>", () =>
  withProvider(async (h) => {
    assert.equal(
      (await h.call("POST", "/system/secrets", { name: "secret-string", value: "s3cr3t value" })).status,
      202,
    );
    await deployReady(h, {
      service: "secret-string",
      envProcess: "cat /var/openfaas/secrets/secret-string",
      secrets: ["secret-string"],
    });
    const r = await invoke(h, "POST", "/function/secret-string", "");
    assert.equal(r.status, 200);
    assert.equal(r.text, "s3cr3t value");
    // rotation, then a redeploy (as the certifier does) picks the new value up
    await h.call("PUT", "/system/secrets", { name: "secret-string", value: "rotated" });
    await h.call("PUT", "/system/functions", {
      service: "secret-string",
      image: "functions/alpine:latest",
      envProcess: "cat /var/openfaas/secrets/secret-string",
      secrets: ["secret-string"],
      annotations: { redeploy: "1" },
    });
    await h.advance(30_000);
    assert.equal((await invoke(h, "POST", "/function/secret-string", "")).text, "rotated");
  }));

Deno.test("invoke: the redirector's 302 is passed through unfollowed", () =>
  withProvider(async (h) => {
    await deployReady(h, {
      service: "redirector-test",
      image: "theaxer/redirector:latest",
      envVars: { destination: "http://127.0.0.1:9/" },
    });
    const r = await invoke(h, "POST", "/function/redirector-test", "");
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "http://127.0.0.1:9/");
  }));

Deno.test("invoke: write_timeout is honoured: a slower answer is lost and the proxy says 502", () =>
  withProvider(async (h) => {
    await deployReady(h, {
      service: "slow-writer",
      envProcess: "sleep 2; echo late",
      envVars: { write_timeout: "1s" },
    });
    const r = await invoke(h, "POST", "/function/slow-writer", "");
    assert.equal(r.status, 502);
    assert.equal(r.headers.get("x-openfaas-internal"), "proxy");
    await deployReady(h, {
      service: "quick-writer",
      envProcess: "sleep 2; echo ok",
      envVars: { write_timeout: "3s" },
    });
    assert.equal((await invoke(h, "POST", "/function/quick-writer", "")).text, "ok\n");
  }));

Deno.test("invoke: a failing fprocess gives 500; sha512sum matches coreutils", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "fails", envProcess: "cat /nonexistent" });
    assert.equal((await invoke(h, "POST", "/function/fails", "")).status, 500);
    await deployReady(h, { service: "stronghash", envProcess: "sha512sum" });
    const r = await invoke(h, "POST", "/function/stronghash", "hello");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", new TextEncoder().encode("hello")));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(r.text, `${hex}  -\n`);
  }));

Deno.test("logs: the watchdog's lines of that function, non-follow stream ends, tail honoured", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "test-logger", envProcess: "cat" });
    assert.equal((await invoke(h, "POST", "/function/test-logger", "openfaas-fn")).text, "openfaas-fn");
    const res = await h.call("GET", "/system/logs?name=test-logger&namespace=openfaas-fn&follow=false");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length >= 3);
    for (const m of lines) {
      assert.equal(m.name, "test-logger");
      assert.equal(m.namespace, "openfaas-fn");
      assert.match(m.instance, /^test-logger-/);
      assert.ok(!Number.isNaN(Date.parse(m.timestamp)));
    }
    const texts = lines.map((m) => m.text.replace(/^[\d/: ]+/, ""));
    assert.ok(texts.some((t) => t.startsWith("Forking fprocess")), texts.join("\n"));
    assert.ok(texts.some((t) => t.startsWith(`Wrote ${"openfaas-fn".length} Bytes`)), texts.join("\n"));
    const tail = await h.call("GET", "/system/logs?name=test-logger&tail=1");
    assert.equal(tail.text.trim().split("\n").length, 1);
    assert.equal((await h.call("GET", "/system/logs?name=test-logger&tail=x")).status, 422);
    assert.equal((await h.call("GET", "/system/logs?name=test-logger&since=yesterday")).status, 422);
    // 400, not 404: the Gateway reports a provider 404 on logs as "not implemented".
    const unknown = await h.call("GET", "/system/logs?name=nope");
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /function nope not found/);
    const since = await h.call(
      "GET",
      `/system/logs?name=test-logger&since=${encodeURIComponent("2030-01-01T00:00:00Z")}`,
    );
    assert.equal(since.text, "");
  }));

Deno.test("logs: without tail or since only the last 5 minutes are read (faas-netes' default)", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "old-logs", envProcess: "cat" });
    const texts = async (query: string) => {
      const r = await h.call("GET", `/system/logs?name=old-logs&follow=false${query}`);
      assert.equal(r.status, 200, r.text);
      return r.text.trim() === "" ? [] : r.text.trim().split("\n").map((l) => JSON.parse(l).text as string);
    };
    const startup = await texts("");
    assert.ok(startup.length >= 2, "the start-up lines are recent");
    await h.advance(6 * 60_000);
    assert.deepEqual(await texts(""), [], "start-up lines older than 5 minutes are left out");
    await invoke(h, "POST", "/function/old-logs", "hi");
    const recent = await texts("");
    assert.ok(recent.length >= 1 && recent.length < startup.length + 1, recent.join("\n"));
    assert.ok(recent.every((t) => !startup.includes(t)), "only the invocation's lines");
    // tail, or an explicit since, reads further back.
    assert.equal((await texts("&tail=1000")).length, startup.length + recent.length);
    const since = encodeURIComponent("2026-01-01T00:00:00Z");
    assert.equal((await texts(`&since=${since}`)).length, startup.length + recent.length);
  }));

Deno.test("logs: follow picks up new output and ends at write_timeout", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "follow", envProcess: "cat" });
    const res = await h.request("GET", "/system/logs?name=follow&follow=true&tail=0");
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await invoke(h, "POST", "/function/follow", "abc");
    const first = JSON.parse(new TextDecoder().decode((await reader.read()).value).split("\n")[0]);
    assert.equal(first.name, "follow");
    // the stream ends by itself at write_timeout (virtual time)
    const rest = (async () => {
      while (!(await reader.read()).done);
      return "ended";
    })();
    assert.equal(await h.advanceUntil(rest, 1_000), "ended");
  }, { config: { writeTimeoutMs: 20_000 } }));

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

Deno.test("status explains why a function is not ready: image pull, crash loop, OOM, no capacity", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "badimage", image: "registry.invalid/none:1" });
    await deploy(h, { service: "crasher", image: "sim/crashloop:latest" });
    await deploy(h, { service: "oom", image: "sim/oom:latest", limits: { memory: "128Mi" } });
    await deploy(h, { service: "huge", requests: { cpu: "64" } });
    await h.advance(60_000);
    const reason = async (name: string) =>
      JSON.parse((await h.call("GET", `/system/function/${name}`)).text).readiness;
    const bad = await reason("badimage");
    assert.ok(["ImagePullBackOff", "ErrImagePull"].includes(bad.reason), JSON.stringify(bad));
    assert.match(bad.message, /registry.invalid\/none:1/);
    assert.equal((await reason("crasher")).reason, "CrashLoopBackOff");
    assert.equal((await reason("oom")).reason, "OOMKilled");
    const huge = await reason("huge");
    assert.equal(huge.reason, "Unschedulable");
    assert.match(huge.message, /Insufficient cpu/);
    const list = JSON.parse((await h.call("GET", "/system/functions")).text);
    assert.equal(
      list.find((f: { name: string }) => f.name === "crasher").readiness.reason,
      "CrashLoopBackOff",
    );
  }));

Deno.test("logs: follow picks up pods that start later; instance filters to one pod", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "grow", envProcess: "cat" });
    const res = await h.request("GET", "/system/logs?name=grow&follow=true");
    const reader = res.body!.getReader();
    const instances = new Set<string>();
    let buffer = "";
    const collect = (async () => {
      while (instances.size < 2) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += new TextDecoder().decode(value);
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const l of lines) if (l) instances.add(JSON.parse(l).instance);
      }
      await reader.cancel();
      return instances.size;
    })();
    await h.call("POST", "/system/scale-function/grow", { serviceName: "grow", replicas: 2 });
    assert.equal(await h.advanceUntil(collect, 500), 2, "lines from the pod that started later arrived");
    const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.map((p) => p.metadata.name!);
    const one = await h.call("GET", `/system/logs?name=grow&instance=${pods[1]}`);
    const seen = new Set(one.text.trim().split("\n").map((l) => JSON.parse(l).instance));
    assert.deepEqual([...seen], [pods[1]]);
  }));
