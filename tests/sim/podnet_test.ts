/**
 * Pods on the host's network (sim/podnet): with the "loopback" pod network, pod IPs come from
 * 127.10.0.0/16 and every running pod answers on a real socket as through the in-process network;
 * sockets follow the pods (deletion, crashes, restarts, node loss, the cluster's shutdown).
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { nodePodNet, PodIps } from "../../sim/controllers/kubelet/podips.ts";
import type { PodRun } from "../../sim/controllers/kubelet/run.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { SimCluster } from "../../sim/cluster.ts";
import { listeningCondition } from "../../sim/podnet/listeners.ts";
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
