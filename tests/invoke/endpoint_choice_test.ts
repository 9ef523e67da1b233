/**
 * Which pod the proxy sends a request to: the least loaded ready endpoint of the function, from an
 * index rebuilt once per EndpointSlice change; pods leave the in-flight table when their requests end.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { withProvider } from "../support/harness.ts";
import { holdingPod, routeTo, withUpstream } from "../support/upstream.ts";
import { Kinds } from "../../sim/kinds.ts";
import { Invocations } from "../../src/metrics/invocations.ts";
import { Caches } from "../../src/kube/caches.ts";
import { makeProxy } from "../../src/invoke/proxy.ts";

Deno.test("proxy: with two ready pods, a request goes to the one without a request in flight", () =>
  withProvider(async (h) => {
    // `sleep $Http_X_Delay` holds a request for the given (virtual) seconds; HOSTNAME is the pod's name.
    const deployed = await h.call("POST", "/system/functions", {
      service: "lb",
      image: "functions/alpine:latest",
      envProcess: "sh -c 'sleep $Http_X_Delay; hostname'",
      labels: { "com.openfaas.scale.min": "2" },
    });
    assert.equal(deployed.status, 202, deployed.text);
    await h.advance(10_000);
    const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.map((p) => p.metadata.name!).sort();
    assert.equal(pods.length, 2);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/lb")).text).availableReplicas, 2);
    const invocations = await h.run(Effect.service(Invocations));
    const inFlight = () => invocations.load("lb", "openfaas-fn")?.inFlight ?? 0;

    // Hold one request open on one pod (pod A)...
    const slowStarted = h.cluster.clock.now();
    const slow = h.call("POST", "/function/lb", "", { "X-Delay": "3" });
    for (let i = 0; i < 200 && inFlight() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(inFlight(), 1, "the slow request is in flight");
    // ...the next ones all go to the other pod (B): random picking would hit A about half the time.
    const hosts: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await h.advanceUntil(h.call("POST", "/function/lb", "", { "X-Delay": "0" }), 10);
      assert.equal(r.status, 200, r.text);
      hosts.push(r.text.trim());
    }
    const held = await h.advanceUntil(slow);
    assert.equal(held.status, 200, held.text);
    assert.ok(h.cluster.clock.now() - slowStarted >= 3_000, "the slow request was held for its 3 s");
    const a = held.text.trim();
    assert.ok(pods.includes(a), `the slow request answered from a pod: ${a}`);
    const b = pods.find((p) => p !== a)!;
    assert.deepEqual(hosts, Array(6).fill(b), `while ${a} was busy: ${hosts.join(", ")}`);
  }));

Deno.test("proxy: pods leave the in-flight table when their requests end", async () => {
  // One pod at 127.0.0.1 for both functions: "held" requests (path /hold) wait until aborted.
  const held = holdingPod(2_000);
  const pod = (req: Request) =>
    new URL(req.url).pathname === "/hold" ? held.handler(req) : new Response("ok");
  await withUpstream(pod, async (h, up) => {
    await routeTo(h, "quick", up.port);
    await routeTo(h, "held", up.port);
    const proxy = await h.run(makeProxy());
    for (let i = 0; i < 3; i++) {
      const res = await proxy(new Request("http://provider/function/quick", { method: "POST", body: "x" }));
      assert.equal(await res.text(), "ok");
    }
    assert.equal(proxy.inFlightByIp.size, 0, "no entry for an idle pod");
    // An aborted request releases its pod too.
    const client = new AbortController();
    const pending = proxy(new Request("http://provider/function/held/hold", { signal: client.signal }));
    await held.gotRequest;
    assert.equal(proxy.inFlightByIp.get("127.0.0.1"), 1);
    client.abort();
    assert.equal((await pending).status, 499);
    assert.equal(proxy.inFlightByIp.size, 0);
  });
});

Deno.test("proxy: after an EndpointSlice change the endpoint index is rebuilt in one pass, with the same answers", async () => {
  await withUpstream((req) => new Response(new URL(req.url).pathname), async (h, up) => {
    const names = ["alpha", "beta", "gamma"];
    for (const n of names) await routeTo(h, n, up.port);
    // Not ready, another namespace, another service: none of them is an endpoint of alpha.
    h.cluster.store.create(Kinds.EndpointSlice, "openfaas-fn", {
      metadata: { name: "alpha-unready", labels: { "kubernetes.io/service-name": "alpha" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.9"], conditions: { ready: false } }],
      ports: [{ name: "http", port: 9, protocol: "TCP" }],
    });
    h.cluster.store.create(Kinds.Namespace, "", { metadata: { name: "elsewhere" } });
    h.cluster.store.create(Kinds.EndpointSlice, "elsewhere", {
      metadata: { name: "alpha-elsewhere", labels: { "kubernetes.io/service-name": "alpha" } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.10"], conditions: { ready: true } }],
      ports: [{ name: "http", port: 9, protocol: "TCP" }],
    });
    await h.advance(1);
    let lists = 0;
    const proxy = await h.run(Effect.gen(function* () {
      const caches = yield* Caches;
      const counted = {
        ...caches,
        endpointSlices: {
          ...caches.endpointSlices,
          list: (ns?: string) => {
            lists++;
            return caches.endpointSlices.list(ns);
          },
        },
      };
      return yield* makeProxy().pipe(Effect.provideService(Caches, counted));
    }));
    for (let round = 0; round < 2; round++) {
      lists = 0;
      for (const n of names) {
        const res = await proxy(new Request(`http://provider/function/${n}/p`));
        assert.equal(res.status, 200, n);
        assert.equal(await res.text(), "/p");
      }
      assert.equal(lists, round === 0 ? 1 : 0, `round ${round}: one listing per cache version`);
    }
    for (let i = 0; i < 20; i++) {
      const res = await proxy(new Request("http://provider/function/alpha"));
      assert.equal(res.status, 200, "only alpha's ready endpoint in its own namespace is used");
      await res.body?.cancel();
    }
  });
});
