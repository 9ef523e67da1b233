/**
 * The provider on the simulator in real time (the live clock, as `deno task start` runs it),
 * served on 127.0.0.1: while a function scales to 2,000 replicas, back down and is deleted with
 * thousands of pods, `/healthz` keeps answering within a second. The autoscaler is off
 * (`scaling: false`), so the replica counts asked for are the ones the cluster works towards.
 */
import assert from "node:assert/strict";
import { Effect, Layer, ManagedRuntime } from "effect";
import { makeProvider } from "../../src/app.ts";
import { simBackend } from "../../sim/layer.ts";
import { SimCluster } from "../../sim/cluster.ts";
import { Kinds } from "../../sim/kinds.ts";
import { isPodReady } from "../../sim/controllers/deployment.ts";
import { testConfig } from "../support/harness.ts";

const within = <T>(what: string, p: Promise<T>, ms: number): Promise<T> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

Deno.test("sim scale, real time: /healthz answers within 1 s while a function scales to 2,000, back, and is deleted", async () => {
  const testStart = performance.now();
  // 20 nodes x 110 pods: room for 2,000.
  const config = testConfig({ scaling: false, simNodes: 20 });
  const provider = makeProvider(config);
  const runtime = ManagedRuntime.make(provider.layer.pipe(Layer.provideMerge(simBackend(config))));
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    await within(
      "the caches' first sync",
      runtime.runPromise(provider.synced),
      10_000,
    );
    const cluster = await runtime.runPromise(Effect.service(SimCluster));
    const handler = await runtime.runPromise(provider.handler);
    server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
    const url = `http://127.0.0.1:${server.addr.port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, text: await res.text() };
    };
    const pods = () => [...cluster.store.scan(Kinds.Pod, "openfaas-fn")];
    /** Probes /healthz every 50 ms until `done`, for at most `maxMs`; returns how many probes ran. */
    const probeUntil = async (what: string, done: () => boolean, maxMs: number) => {
      const deadline = performance.now() + maxMs;
      let probes = 0;
      while (!done()) {
        assert.ok(performance.now() < deadline, `${what}: not done within ${maxMs} ms`);
        const start = performance.now();
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        await res.body?.cancel();
        const ms = performance.now() - start;
        assert.equal(res.status, 200);
        assert.ok(ms < 1_000, `${what}: /healthz took ${ms.toFixed(0)} ms`);
        probes++;
        await new Promise((r) => setTimeout(r, 50));
      }
      return probes;
    };

    // write_timeout 1s: a stopped pod drains for a second, not the watchdog's default ten.
    const deploy = await call("POST", "/system/functions", {
      service: "wide",
      image: "functions/alpine:latest",
      envVars: { write_timeout: "1s" },
    });
    assert.equal(deploy.status, 202, deploy.text);

    const up = await call("POST", "/system/scale-function/wide", { serviceName: "wide", replicas: 2_000 });
    assert.equal(up.status, 202, up.text);
    const available = async () =>
      JSON.parse((await call("GET", "/system/function/wide")).text).availableReplicas as number;
    const upProbes = await probeUntil(
      "2,000 ready pods",
      () => pods().filter(isPodReady).length === 2_000,
      30_000,
    );
    assert.ok(upProbes >= 5, `${upProbes} probes while scaling up`);
    // The provider's caches follow: it reports what the cluster has.
    const deadline = performance.now() + 5_000;
    while ((await available()) !== 2_000) {
      assert.ok(performance.now() < deadline, "the provider reports 2,000 available replicas");
      await new Promise((r) => setTimeout(r, 100));
    }

    const down = await call("POST", "/system/scale-function/wide", { serviceName: "wide", replicas: 1 });
    assert.equal(down.status, 202, down.text);
    await probeUntil("back to 1 pod", () => pods().length === 1, 20_000);

    // Once more to 2,000, then delete the function while its pods are there.
    const again = await call("POST", "/system/scale-function/wide", { serviceName: "wide", replicas: 2_000 });
    assert.equal(again.status, 202, again.text);
    await probeUntil("2,000 pods again", () => pods().length === 2_000, 20_000);
    const removed = await call("DELETE", "/system/functions", { functionName: "wide" });
    assert.equal(removed.status, 202, removed.text);
    const deleteProbes = await probeUntil("every pod gone", () => pods().length === 0, 30_000);
    assert.ok(deleteProbes >= 2, `${deleteProbes} probes while deleting`);
    assert.equal(cluster.store.peek(Kinds.Deployment, "openfaas-fn", "wide"), undefined);
    assert.ok(performance.now() - testStart < 60_000, "the whole run within a minute");
  } finally {
    await server?.shutdown();
    await within("shutting down", runtime.dispose(), 10_000);
  }
});
