/**
 * Pods on the host's network (sim/podnet): with the "loopback" pod network, pod IPs come from
 * 127.10.0.0/16 and every running pod answers on a real socket as through the in-process network;
 * sockets follow the pods (deletion, crashes, restarts, node loss, the cluster's shutdown).
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { defaultPodCidr, nodePodNet, parsePodCidr, PodIps } from "../../sim/controllers/kubelet/podips.ts";
import type { PodRun } from "../../sim/controllers/kubelet/run.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { SimCluster } from "../../sim/cluster.ts";
import { listeningCondition } from "../../sim/podnet/listeners.ts";
import { openFileLimit, socketBudget } from "../../sim/podnet/budget.ts";
import { type SimContext, simRuntime, withSimCluster } from "../support/simcluster.ts";
import { withProvider } from "../support/harness.ts";
import { deployFunction, envFunction, podsOf } from "../support/functions.ts";
import { assertRefused, loopbackPodIp, refuses } from "../support/podnet.ts";
import { TestClock } from "effect/testing";

const run = (): PodRun => ({
  uid: "u",
  ns: "default",
  name: "p",
  container: "c",
  image: "i",
  cancel: [],
  pullFailures: 0,
  ipFailures: 0,
  restarts: 0,
});

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, labels: { app: name } },
  spec: { containers: [{ name: "c", image: "ghcr.io/openfaas/of-echo:latest", ...extra }] },
});

/** `pending`, advancing virtual time in steps while real I/O runs (at most 60 s of virtual time). */
const settle = async <T>(ctx: SimContext, pending: Promise<T>): Promise<T> => {
  let settled = false;
  pending.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < 600 && !settled; i++) {
    await new Promise((r) => setTimeout(r, 1));
    if (!settled) await ctx.advance(100);
  }
  return await pending;
};

const podOf = (ctx: SimContext, name: string, ns = "default"): KObj =>
  ctx.cluster.store.get(Kinds.Pod, ns, name);

/** The pod's container log, as written so far. */
const logLines = (ctx: SimContext, name: string, ns = "default") => {
  const lines: string[] = [];
  ctx.cluster.logs.read(
    ns,
    name,
    { container: "c", follow: false, timestamps: false },
    (l) => lines.push(l),
    () => {},
  )();
  return lines;
};

const ipOf = (ctx: SimContext, name: string): string => podOf(ctx, name).status.podIP;

const loopback = (fn: (ctx: SimContext) => Promise<void>, nodes = 3) =>
  withSimCluster(fn, { podNetwork: "loopback", nodes });

Deno.test("podnet: pod IP ranges: 10.244.n / 127.10.n per node, spilling into the next /16 past 255 nodes", () => {
  assert.equal(nodePodNet("virtual", 1), "10.244.1");
  assert.equal(nodePodNet("virtual", 255), "10.244.255");
  assert.equal(nodePodNet("virtual", 256), "10.245.0");
  assert.equal(nodePodNet("virtual", 1000), "10.247.232");
  assert.equal(nodePodNet("virtual", 3071), "10.255.255");
  assert.equal(nodePodNet("virtual", 3072), undefined);
  assert.equal(nodePodNet("loopback", 1), "127.10.1");
  assert.equal(nodePodNet("loopback", 1000), "127.13.232");
  assert.equal(nodePodNet("loopback", 62975), "127.255.255");
  assert.equal(nodePodNet("loopback", 62976), undefined);

  // Another range: node n gets A.(B + n / 256).(n % 256).
  const moved = new PodIps("loopback", "127.60.0.0/16");
  assert.equal(moved.allocate(run(), "sim-node-1"), "127.60.1.3");
  assert.equal(moved.allocate(run(), "sim-node-300"), "127.61.44.3");
  assert.equal(moved.allocate(run(), "sim-node-50175"), "127.255.255.3");
  assert.equal(moved.allocate(run(), "sim-node-50176"), undefined);
  assert.equal(new PodIps("virtual", "10.100.0.0/16").allocate(run(), "sim-node-2"), "10.100.2.3");
  assert.throws(() => parsePodCidr("loopback", "10.244.0.0/16"), /loopback pods need 127\.B\.0\.0\/16/);
  assert.throws(() => parsePodCidr("virtual", "127.20.0.0/16"), /must not be loopback/);
  assert.throws(
    () => parsePodCidr("virtual", "10.244.1.0/24"),
    /expected A\.B\.0\.0\/16, e\.g\. 10\.244\.0\.0\/16/,
  );
  assert.deepEqual(parsePodCidr("loopback", defaultPodCidr("loopback")), [127, 10]);

  const ips = new PodIps("loopback");
  assert.equal(ips.allocate(run(), "sim-node-1"), "127.10.1.3");
  assert.equal(ips.allocate(run(), "sim-node-1000"), "127.13.232.3");
  // Nodes without a number (or with one already taken) get ranges of their own, never a numbered node's.
  const a = ips.allocate(run(), "worker-a")!, b = ips.allocate(run(), "worker-b")!;
  const again = ips.allocate(run(), "node-1")!;
  assert.equal(a, "127.10.0.3");
  assert.equal(b, "127.255.255.3");
  assert.equal(again, "127.255.254.3");
  // Past the last range: no IP, and the sandbox error says why.
  const tiny = new PodIps("virtual");
  assert.equal(tiny.allocate(run(), "sim-node-5000"), undefined);
  assert.match(tiny.noIpMessage("sim-node-5000"), /no pod IP range left for node sim-node-5000/);
  assert.match(
    tiny.noIpMessage("sim-node-2"),
    /no IP addresses available in range set: 10\.244\.2\.2-10\.244\.2\.251/,
  );
});

Deno.test("podnet: a running pod answers on its loopback IP as its image does; a deleted pod refuses connections", () =>
  loopback(async (ctx) => {
    const { store, listeners } = ctx.cluster;
    assert.ok(listeners);
    store.create(
      Kinds.Pod,
      "default",
      pod("echo", { ports: [{ containerPort: 8080 }, { containerPort: 9090 }] }),
    );
    const ip = ipOf(ctx, "echo");
    assert.match(ip, loopbackPodIp);
    assert.ok(await refuses(ip), "not listening while the image is pulled");
    await ctx.advance("5 seconds");
    assert.equal(podOf(ctx, "echo").status.phase, "Running");
    assert.equal(listeners.listening, 2, "one socket per declared port");
    for (const port of [8080, 9090]) {
      const res = await settle(ctx, fetch(`http://${ip}:${port}/hello?x=1`, { method: "POST", body: "hi" }));
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.equal(res.headers.get("content-length"), String(new TextEncoder().encode(text).length));
      const body = JSON.parse(text);
      assert.equal(body.path, "/hello");
      assert.equal(body.query, "x=1");
      assert.equal(body.body, "hi");
      assert.equal(body.pod, "echo");
      assert.equal(body.headers.host, `${ip}:${port}`);
    }
    // The image's access log is the pod's log, as for the in-process network.
    const logs = logLines(ctx, "echo").join("\n");
    assert.match(logs, /POST \/hello\?x=1 - 200 OK/);
    // Deleted (gracePeriodSeconds 0): the socket closes.
    store.delete(Kinds.Pod, "default", "echo", { gracePeriodSeconds: 0 });
    await ctx.advance("1 second");
    await assertRefused(ip, 8080);
    await assertRefused(ip, 9090);
    assert.equal(listeners.listening, 0);
  }));

Deno.test("podnet: a container that crashes or is OOMKilled stops listening; a restarted one listens again", () =>
  loopback(async (ctx) => {
    const { store, listeners } = ctx.cluster;
    // Killed by its liveness probe a minute after each start, restarted after a 10 s back-off.
    store.create(
      Kinds.Pod,
      "default",
      pod("flaky", {
        image: "sim/unhealthy",
        livenessProbe: { httpGet: { path: "/_/health", port: 8080 }, periodSeconds: 2, failureThreshold: 3 },
      }),
    );
    store.create(Kinds.Pod, "default", pod("crash", { image: "sim/crashloop" }));
    store.create(
      Kinds.Pod,
      "default",
      pod("oom", { image: "sim/oom", resources: { limits: { memory: "128Mi" } } }),
    );
    await ctx.advance("1700 millis");
    const flaky = ipOf(ctx, "flaky");
    const state = (name: string) => podOf(ctx, name).status.containerStatuses[0].state;
    assert.ok(state("flaky").running);
    assert.ok(!(await refuses(flaky)), "the started container listens");
    // The crash image never serves: its container runs, but nothing listens.
    assert.ok(state("crash").running);
    assert.ok(await refuses(ipOf(ctx, "crash")));
    // The OOM image serves until it is killed, a second after its start.
    const oom = ipOf(ctx, "oom");
    assert.ok(state("oom").running);
    assert.ok(!(await refuses(oom)));
    assert.equal(listeners!.listening, 2);
    await ctx.advance("1 second");
    assert.equal(state("oom").waiting?.reason, "CrashLoopBackOff");
    assert.equal(podOf(ctx, "oom").status.containerStatuses[0].lastState.terminated.reason, "OOMKilled");
    await assertRefused(oom);
    assert.equal(listeners!.listening, 1);
    // Killed by the liveness probe: the socket closes with the container.
    await ctx.advance("66 seconds");
    assert.equal(podOf(ctx, "flaky").status.containerStatuses[0].restartCount, 1);
    assert.ok(state("flaky").waiting, JSON.stringify(state("flaky")));
    await assertRefused(flaky);
    assert.equal(listeners!.listening, 0);
    // Restarted after the back-off, on the same IP.
    await ctx.advance("10 seconds");
    assert.ok(state("flaky").running);
    assert.equal(ipOf(ctx, "flaky"), flaky);
    const res = await settle(ctx, fetch(`http://${flaky}:8080/again`));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).path, "/again");
    assert.equal(listeners!.listening, 1);
  }));

Deno.test("podnet: the pods of a deleted node stop listening", () =>
  loopback(async (ctx) => {
    const { store, listeners } = ctx.cluster;
    store.create(Kinds.Pod, "default", {
      ...pod("gone"),
      spec: { ...pod("gone").spec, nodeName: "sim-node-2" },
    });
    store.create(Kinds.Pod, "default", {
      ...pod("kept"),
      spec: { ...pod("kept").spec, nodeName: "sim-node-1" },
    });
    await ctx.advance("5 seconds");
    assert.match(ipOf(ctx, "gone"), /^127\.10\.2\./);
    assert.match(ipOf(ctx, "kept"), /^127\.10\.1\./);
    assert.equal(listeners!.listening, 2);
    store.delete(Kinds.Node, undefined, "sim-node-2");
    await ctx.advance("1 second");
    await assertRefused(ipOf(ctx, "gone"));
    assert.ok(!(await refuses(ipOf(ctx, "kept"))));
    assert.equal(listeners!.listening, 1);
  }));

Deno.test("podnet: a port that cannot be bound fails that pod only: Warning event, condition, log line; bound at a later change", () => {
  const errors: string[] = [];
  return withSimCluster(async (ctx) => {
    const { store, listeners } = ctx.cluster;
    // Another process holds the address the first pod on the (one) node gets.
    const squatter = Deno.listen({ hostname: "127.10.1.3", port: 8080 });
    let closed = false;
    try {
      store.create(Kinds.Pod, "default", pod("blocked"));
      store.create(Kinds.Pod, "default", pod("fine"));
      assert.equal(ipOf(ctx, "blocked"), "127.10.1.3");
      await ctx.advance("5 seconds");
      assert.equal(podOf(ctx, "blocked").status.phase, "Running");
      const message = "listen tcp 127.10.1.3:8080: bind: address already in use";
      const events = [...store.scan(Kinds.Event, "default")].filter((e) =>
        e.involvedObject.name === "blocked"
      );
      assert.ok(
        events.some((e) => e.type === "Warning" && e.reason === "FailedListen" && e.message === message),
        JSON.stringify(events),
      );
      const condition = podOf(ctx, "blocked").status.conditions.find((c: KObj) =>
        c.type === listeningCondition
      );
      assert.equal(condition?.status, "False");
      assert.equal(condition?.reason, "BindFailed");
      assert.equal(condition?.message, message);
      // The kubelet's own conditions are kept beside it.
      assert.equal(
        podOf(ctx, "blocked").status.conditions.find((c: KObj) => c.type === "Ready")?.status,
        "True",
      );
      assert.ok(
        logLines(ctx, "blocked").some((l) => l.endsWith(message)),
        logLines(ctx, "blocked").join("\n"),
      );
      assert.equal(errors.length, 1);
      assert.match(errors[0], /default\/blocked .*address already in use/);
      // The other pod is not affected.
      assert.ok(!(await refuses(ipOf(ctx, "fine"))));
      assert.equal(listeners!.listening, 1);
      // Once the address is free, the pod's next change binds it.
      squatter.close();
      closed = true;
      store.mutate(Kinds.Pod, "default", "blocked", (o) => {
        o.metadata.labels = { ...o.metadata.labels, touched: "yes" };
      });
      await ctx.advance("1 second");
      assert.equal(listeners!.listening, 2);
      const res = await settle(ctx, fetch("http://127.10.1.3:8080/"));
      assert.equal((await res.json()).pod, "blocked");
      const after = podOf(ctx, "blocked").status.conditions.find((c: KObj) => c.type === listeningCondition);
      assert.equal(after?.status, "True");
      assert.equal(errors.length, 1, "one report per failure");
    } finally {
      if (!closed) squatter.close();
    }
  }, { podNetwork: "loopback", nodes: 1, podListeners: { onBindError: (m) => errors.push(m) } });
});

Deno.test("podnet: the cluster's shutdown closes every pod socket, cutting requests in flight", async () => {
  const rt = simRuntime({ podNetwork: "loopback" });
  let ips: string[] = [];
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    for (const name of ["a", "b", "c"]) {
      cluster.store.create(Kinds.Pod, "default", pod(name, { image: "sim/sleep" }));
    }
    await rt.runPromise(TestClock.adjust("5 seconds"));
    ips = ["a", "b", "c"].map((n) => cluster.store.get(Kinds.Pod, "default", n).status.podIP);
    assert.equal(cluster.listeners!.listening, 3);
    // A request that sleeps an hour of virtual time: it is in flight when the cluster stops.
    const inFlight = fetch(`http://${ips[0]}:8080/?duration_ms=3600000`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    await rt.dispose();
    await assert.rejects(inFlight);
  } finally {
    await rt.dispose();
  }
  for (const ip of ips) await assertRefused(ip);
});

Deno.test("podnet: a streamed response is cut when its pod is deleted", () =>
  loopback(async (ctx) => {
    ctx.cluster.store.create(Kinds.Pod, "default", pod("stream"));
    await ctx.advance("5 seconds");
    const ip = ipOf(ctx, "stream");
    const res = await settle(
      ctx,
      fetch(`http://${ip}:8080/?n=5&interval=3600000`, {
        headers: { accept: "text/event-stream" },
      }),
    );
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value!, /^id: 1\ndata: .*"pod":"stream"/);
    const next = reader.read();
    ctx.cluster.store.delete(Kinds.Pod, "default", "stream", { gracePeriodSeconds: 0 });
    await assert.rejects(next);
    await assertRefused(ip);
  }));

Deno.test("podnet: the provider (over HTTP, real upstream) invokes through pod IPs; scale up adds listeners, deleted pods refuse", () =>
  withProvider(async (h) => {
    const listeners = h.cluster.listeners!;
    await deployFunction(h, envFunction("env-fn", { envVars: { greeting: "hello" } }));
    await h.advance(10_000);
    const [first] = podsOf(h, "env-fn");
    const ip = first.status.podIP;
    assert.match(ip, loopbackPodIp);
    // The EndpointSlice lists the pod's loopback IP, which the provider dials.
    const slices = [...h.cluster.store.scan(Kinds.EndpointSlice, "openfaas-fn")]
      .filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === "env-fn");
    assert.deepEqual(slices.flatMap((s) => s.endpoints.flatMap((e: KObj) => e.addresses)), [ip]);
    const invoked = await h.advanceUntil(h.call("POST", "/function/env-fn", "x"));
    assert.equal(invoked.status, 200, invoked.text);
    assert.match(invoked.text, /greeting=hello/);
    assert.match(invoked.text, new RegExp(`HOSTNAME=${first.metadata.name}`));
    // The same watchdog answers a direct request to the pod IP.
    const direct = await h.advanceUntil(fetch(`http://${ip}:8080/`, { method: "POST", body: "y" }));
    assert.equal(direct.status, 200);
    const text = await direct.text();
    assert.match(text, /greeting=hello/);
    assert.match(text, new RegExp(`Http_Host=${ip.replaceAll(".", "\\.")}:8080`));
    // Scale up: every new pod listens.
    const scaled = await h.call("POST", "/system/scale-function/env-fn", {
      serviceName: "env-fn",
      replicas: 3,
    });
    assert.equal(scaled.status, 202, scaled.text);
    await h.advance(10_000);
    const pods = podsOf(h, "env-fn");
    assert.equal(pods.length, 3);
    assert.equal(listeners.listening, 3);
    for (const p of pods) {
      const res = await h.advanceUntil(fetch(`http://${p.status.podIP}:8080/`));
      assert.match(await res.text(), new RegExp(`HOSTNAME=${p.metadata.name}`));
    }
    // A deleted pod stops listening once it has terminated; its replacement listens.
    h.cluster.store.delete(Kinds.Pod, "openfaas-fn", first.metadata.name!);
    await h.advance(15_000);
    await assertRefused(ip);
    const now = podsOf(h, "env-fn");
    assert.equal(now.length, 3);
    assert.ok(!now.some((p) => p.metadata.name === first.metadata.name));
    for (const p of now) assert.ok(!(await refuses(p.status.podIP)), `${p.metadata.name} listens`);
    // Removing the function closes every socket.
    assert.equal((await h.call("DELETE", "/system/functions", { functionName: "env-fn" })).status, 202);
    await h.advance(15_000);
    assert.equal(listeners.listening, 0);
    for (const p of pods) await assertRefused(p.status.podIP);
  }, { sim: { podNetwork: "loopback", transport: "http", upstream: "http" } }));

Deno.test("podnet: in-process runs keep the virtual network: 10.244 addresses, no sockets", () =>
  withSimCluster(async (ctx) => {
    assert.equal(ctx.cluster.listeners, undefined);
    ctx.cluster.store.create(Kinds.Pod, "default", pod("inproc"));
    await ctx.advance("5 seconds");
    assert.equal(podOf(ctx, "inproc").status.phase, "Running");
    assert.match(ipOf(ctx, "inproc"), /^10\.244\.\d+\.\d+$/);
  }));

Deno.test("podnet: the sockets stay within the open-file limit less a reserve; a pod past it binds once a socket frees", async () => {
  assert.deepEqual(socketBudget(20_000), { sockets: 19_000, limit: 20_000 });
  assert.deepEqual(socketBudget(1_024), { sockets: 512, limit: 1_024 });
  assert.equal(socketBudget(undefined).sockets, Number.POSITIVE_INFINITY);
  if (Deno.build.os === "linux") {
    // Readable with --allow-all only (Deno guards /proc/self); without it the limit is learnt when it is hit.
    const limit = openFileLimit();
    assert.ok(limit === undefined || limit > 0);
  }
  const errors: string[] = [];
  await withSimCluster(async (ctx) => {
    const { store, listeners } = ctx.cluster;
    store.create(Kinds.Pod, "default", pod("first"));
    await ctx.advance("5 seconds");
    store.create(Kinds.Pod, "default", pod("second"));
    await ctx.advance("5 seconds");
    assert.equal(podOf(ctx, "second").status.phase, "Running");
    assert.equal(listeners!.listening, 1);
    const second = ipOf(ctx, "second");
    const condition = () =>
      podOf(ctx, "second").status.conditions.find((c: KObj) => c.type === listeningCondition);
    assert.equal(condition()?.message, `listen tcp ${second}:8080: socket: too many open files`);
    assert.match(errors.join("\n"), /1 pod sockets open, the most the open-file limit of 1002 allows/);
    assert.ok(await refuses(second));
    // The first pod goes: its socket frees, and the second pod binds.
    store.delete(Kinds.Pod, "default", "first", { gracePeriodSeconds: 0 });
    await ctx.advance("1 second");
    // The freed socket is counted once it has closed (real time).
    const listening = () => listeners!.listening;
    for (let i = 0; i < 50 && listening() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(listening(), 1);
    assert.ok(!(await refuses(second)));
    assert.equal(condition()?.status, "True");
  }, {
    podNetwork: "loopback",
    podListeners: { budget: { sockets: 1, limit: 1002 }, onBindError: (m) => errors.push(m) },
  });
});
