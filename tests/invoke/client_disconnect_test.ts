/** The invoke proxy: client disconnects, malformed names, endpoint index, bookkeeping that must not grow. */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { type Harness, withProvider } from "../support/harness.ts";
import { realUpstream, routeTo, startUpstream } from "../support/upstream.ts";
import { Kinds } from "../../sim/kinds.ts";
import { Caches } from "../../src/kube/caches.ts";
import { Invocations } from "../../src/metrics/invocations.ts";
import { makeProxy } from "../../src/invoke/proxy.ts";
import { metrics, Registry } from "../../src/metrics/registry.ts";

/** Resolves once `check` holds, polling on the wall clock (real sockets are involved); fails after `ms`. */
const eventually = async (check: () => boolean | Promise<boolean>, what: string, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const inFlight = (h: Harness, name: string) =>
  h.run(Effect.map(Effect.service(Invocations), (i) => i.load(name, "openfaas-fn")?.inFlight ?? 0));

const invocationsWith = (name: string, code: number) =>
  metrics.invocations.get({ function_name: `${name}.openfaas-fn`, code: String(code) });

/** A pod that holds every request until its client (the proxy) aborts it, or `maxMs` passes. */
const holdingUpstream = (maxMs = 10_000) => {
  let received!: () => void, aborted!: () => void;
  const gotRequest = new Promise<void>((r) => (received = r));
  const sawAbort = new Promise<void>((r) => (aborted = r));
  const up = startUpstream((req) => {
    received();
    return new Promise<Response>((resolve) => {
      const timer = setTimeout(() => resolve(new Response("late")), maxMs);
      req.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        aborted();
        resolve(new Response("aborted"));
      });
    });
  });
  return { ...up, gotRequest, sawAbort };
};

Deno.test("proxy: a client that leaves before the pod answers aborts the pod's request; recorded once as 499", async () => {
  const up = holdingUpstream();
  try {
    await withProvider(async (h) => {
      await routeTo(h, "hang", up.port);
      const before = { c499: invocationsWith("hang", 499), c502: invocationsWith("hang", 502) };
      const client = new AbortController();
      const pending = fetch(`${h.url}/function/hang`, { method: "POST", body: "x", signal: client.signal })
        .then(() => "answered", (e) => (e as Error).name);
      await up.gotRequest;
      assert.equal(await inFlight(h, "hang"), 1);
      client.abort();
      assert.equal(await pending, "AbortError");
      let podAborted = false;
      up.sawAbort.then(() => (podAborted = true));
      await eventually(() => podAborted, "the pod sees its request aborted");
      await eventually(async () => (await inFlight(h, "hang")) === 0, "the in-flight count returns to 0");
      assert.equal(invocationsWith("hang", 499) - before.c499, 1, "counted once, as client closed");
      assert.equal(invocationsWith("hang", 502) - before.c502, 0, "not as an unreachable pod");
      assert.equal(metrics.inFlight.get({ function_name: "hang.openfaas-fn" }), 0);
    }, { ...realUpstream, config: { readTimeoutMs: 60_000 } });
  } finally {
    await up.close();
  }
});

Deno.test("proxy: the client's signal is followed only until the pod answers: a streamed body is delivered whole", async () => {
  let cancelled = false;
  const up = startUpstream(() => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 10));
        if (i++ < 5) c.enqueue(new TextEncoder().encode(`chunk ${i}\n`));
        else c.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/plain" } });
  });
  try {
    await withProvider(async (h) => {
      await routeTo(h, "streamer", up.port);
      const before = { ok: invocationsWith("streamer", 200), closed: invocationsWith("streamer", 499) };
      for (let n = 0; n < 3; n++) {
        const res = await h.request("GET", "/function/streamer");
        assert.equal(await res.text(), "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n");
      }
      await eventually(async () => (await inFlight(h, "streamer")) === 0, "in flight back to 0");
      // Give a late (legacy) abort of the finished requests' signals the chance to count them again.
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(cancelled, false);
      assert.equal(invocationsWith("streamer", 200) - before.ok, 3, "each invocation counted once");
      assert.equal(invocationsWith("streamer", 499) - before.closed, 0);
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: a client that leaves during a streamed body cancels it at the pod; counted once with the pod's status", async () => {
  let cancelled!: () => void;
  const podCancelled = new Promise<void>((r) => (cancelled = r));
  const up = startUpstream(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 10));
          c.enqueue(new TextEncoder().encode("tick\n"));
        },
        cancel() {
          cancelled();
        },
      }),
      { headers: { "Content-Type": "text/event-stream" } },
    )
  );
  try {
    await withProvider(async (h) => {
      await routeTo(h, "ticker", up.port);
      const before = { ok: invocationsWith("ticker", 200), closed: invocationsWith("ticker", 499) };
      const client = new AbortController();
      const res = await fetch(`${h.url}/function/ticker`, { signal: client.signal });
      const reader = res.body!.getReader();
      assert.equal(new TextDecoder().decode((await reader.read()).value), "tick\n");
      client.abort();
      await reader.read().catch(() => {});
      let gone = false;
      podCancelled.then(() => (gone = true));
      await eventually(() => gone, "the pod's response body is cancelled");
      await eventually(async () => (await inFlight(h, "ticker")) === 0, "in flight back to 0");
      assert.equal(invocationsWith("ticker", 200) - before.ok, 1);
      assert.equal(invocationsWith("ticker", 499) - before.closed, 0);
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: in the simulator, a client that leaves stops the simulated handling", () =>
  withProvider(async (h) => {
    const r = await h.call("POST", "/system/functions", { service: "sleeper", image: "sim/sleep:latest" });
    assert.equal(r.status, 202, r.text);
    await h.advance(10_000);
    const before = invocationsWith("sleeper", 499);
    const client = new AbortController();
    // Ten minutes of virtual time that the test does not advance: only the abort can end it.
    const pending = fetch(`${h.url}/function/sleeper?duration_ms=600000`, { signal: client.signal })
      .then(() => "answered", (e) => (e as Error).name);
    try {
      await eventually(async () => (await inFlight(h, "sleeper")) === 1, "the request reaches the pod");
      client.abort();
      assert.equal(await pending, "AbortError");
      await eventually(async () => (await inFlight(h, "sleeper")) === 0, "the in-flight count returns to 0");
      assert.equal(invocationsWith("sleeper", 499) - before, 1);
    } finally {
      await h.advance(600_000); // lets a request the abort did not stop end, so the server can close
    }
  }, { config: { readTimeoutMs: 3_600_000 } }));

Deno.test("proxy: a malformed percent-encoding in the function name is a 400 from the proxy, not a 500", () =>
  withProvider(async (h) => {
    for (const path of ["/function/%zz", "/function/%E0%A4%A.openfaas-fn/sub?x=1", "/function/%"]) {
      const res = await h.call("POST", path, "x");
      assert.equal(res.status, 400, path);
      assert.equal(res.headers.get("x-openfaas-internal"), "proxy", path);
      assert.match(res.text, /function name/, path);
    }
  }));

Deno.test("proxy: pods leave the in-flight table when their requests end", async () => {
  const up = startUpstream(() => new Response("ok"));
  const held = holdingUpstream(2_000);
  try {
    await withProvider(async (h) => {
      await routeTo(h, "quick", up.port);
      await routeTo(h, "held", held.port);
      const proxy = await h.run(makeProxy());
      for (let i = 0; i < 3; i++) {
        const res = await proxy(new Request("http://provider/function/quick", { method: "POST", body: "x" }));
        assert.equal(await res.text(), "ok");
      }
      assert.equal(proxy.inFlightByIp.size, 0, "no entry for an idle pod");
      // An aborted request releases its pod too.
      const client = new AbortController();
      const pending = proxy(new Request("http://provider/function/held", { signal: client.signal }));
      await held.gotRequest;
      assert.equal(proxy.inFlightByIp.get("127.0.0.1"), 1);
      client.abort();
      assert.equal((await pending).status, 499);
      assert.equal(proxy.inFlightByIp.size, 0);
    }, realUpstream);
  } finally {
    await up.close();
    await held.close();
  }
});

Deno.test("proxy: after an EndpointSlice change the endpoint index is rebuilt in one pass, with the same answers", async () => {
  const up = startUpstream((req) => new Response(new URL(req.url).pathname));
  try {
    await withProvider(async (h) => {
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
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: hop-by-hop headers are dropped both ways; host and content-length are not hop-by-hop in responses", async () => {
  let seen: Headers | undefined;
  const up = startUpstream((req) => {
    seen = req.headers;
    return new Response("body", {
      headers: {
        "Content-Length": "4",
        "Proxy-Authenticate": "Basic",
        "Host": "pod.example",
        "X-Call-Id": "from-the-pod",
      },
    });
  });
  try {
    await withProvider(async (h) => {
      await routeTo(h, "hops", up.port);
      const res = await h.request("GET", "/function/hops", undefined, {
        "Proxy-Authorization": "Basic abc",
        "X-Kept": "yes",
      });
      assert.equal(await res.text(), "body");
      assert.equal(res.headers.get("content-length"), "4");
      assert.equal(res.headers.get("host"), "pod.example");
      assert.equal(res.headers.get("proxy-authenticate"), null);
      assert.notEqual(res.headers.get("x-call-id"), "from-the-pod", "the proxy's own X-Call-Id wins");
      assert.equal(seen?.get("proxy-authorization"), null);
      assert.equal(seen?.get("x-kept"), "yes");
      assert.equal(seen?.get("x-forwarded-host"), new URL(h.url).host);
    }, realUpstream);
  } finally {
    await up.close();
  }
});

Deno.test("metrics: infinities and NaN are written as Prometheus writes them", () => {
  const r = new Registry();
  const g = r.gauge("test_values", "Values.");
  g.set({ v: "neg" }, -Infinity);
  g.set({ v: "pos" }, Infinity);
  g.set({ v: "nan" }, NaN);
  g.set({ v: "half" }, 0.5);
  const text = r.expose();
  assert.match(text, /^test_values\{v="neg"\} -Inf$/m);
  assert.match(text, /^test_values\{v="pos"\} \+Inf$/m);
  assert.match(text, /^test_values\{v="nan"\} NaN$/m);
  assert.match(text, /^test_values\{v="half"\} 0\.5$/m);
});
