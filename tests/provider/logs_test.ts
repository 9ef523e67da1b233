/**
 * GET /system/logs: the watchdog's lines of a function as NDJSON, tail, since and follow (which picks up
 * pods that start later and ends at write_timeout); a followed stream whose client goes away ends on
 * the provider side (its `pods/{name}/log` reads and its pod watch are cancelled at the simulated API
 * server), and each line's timestamp is the virtual time it was written.
 */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";
import { withSimCluster } from "../support/simcluster.ts";
import { deploymentFixture, lineReader } from "../support/fixtures.ts";
import type { SimApiServer } from "../../sim/apiserver.ts";
import { Faults, installFaults } from "../../sim/faults.ts";
import { Kinds } from "../../sim/kinds.ts";
import { ApiError } from "../../sim/apierror.ts";

const deployReady = async (h: Harness, service: string) => {
  const r = await h.call("POST", "/system/functions", {
    service,
    image: "functions/alpine:latest",
    envProcess: "cat",
  });
  assert.equal(r.status, 202, r.text);
  await h.advance(10_000);
  const s = JSON.parse((await h.call("GET", `/system/function/${service}`)).text);
  assert.equal(s.availableReplicas, 1, JSON.stringify(s));
};

const invoke = (h: Harness, method: string, path: string, body?: string) =>
  h.advanceUntil(h.call(method, path, body));

/**
 * Counts the log reads and pod watches open at the simulated API server (the provider's side of a
 * followed log stream), by wrapping the server's `readLog` and `watch` as sim/faults.ts wraps `watch`.
 */
const openStreams = (api: SimApiServer, selector: string) => {
  const readLog = api.readLog;
  const watch = api.watch;
  const open = { logs: 0, podWatches: 0 };
  api.readLog = function (this: SimApiServer, path, query, onLine, onEnd) {
    let ended = false;
    const end = () => {
      if (!ended) open.logs--;
      ended = true;
    };
    open.logs++;
    let cancel: () => void;
    try {
      cancel = readLog.call(this, path, query, onLine, () => {
        end();
        onEnd();
      });
    } catch (e) {
      end();
      throw e;
    }
    return () => {
      end();
      cancel();
    };
  };
  api.watch = function (this: SimApiServer, path, query, sink) {
    const mine = /\/pods$/.test(path) && query.labelSelector === selector;
    const cancel = watch.call(this, path, query, sink);
    if (!mine) return cancel;
    open.podWatches++;
    let done = false;
    return () => {
      if (!done) open.podWatches--;
      done = true;
      cancel();
    };
  };
  return {
    open,
    restore: () => {
      delete (api as { readLog?: unknown }).readLog;
      delete (api as { watch?: unknown }).watch;
    },
  };
};

/** Waits (real time, bounded) until `done()` holds. */
const eventually = async (done: () => boolean, ms = 2_000) => {
  for (let t = 0; t < ms && !done(); t += 5) await new Promise((r) => setTimeout(r, 5));
  return done();
};

for (
  const [how, leave] of [
    ["the reader is cancelled", (_: AbortController, r: ReadableStreamDefaultReader<string>) => r.cancel()],
    [
      "the request is aborted",
      (a: AbortController, _: ReadableStreamDefaultReader<string>) => Promise.resolve(a.abort()),
    ],
  ] as const
) {
  Deno.test(`logs: a followed stream ends at the API server when ${how}`, () =>
    withProvider(async (h) => {
      await deployReady(h, "follower");
      // Scale to two pods: the stream holds one log read per pod, plus the watch for pods that start later.
      await h.call("POST", "/system/scale-function/follower", { serviceName: "follower", replicas: 2 });
      await h.advance(10_000);
      const streams = openStreams(h.cluster.api, "faas_function=follower");
      try {
        const abort = new AbortController();
        const res = await fetch(`${h.url}/system/logs?name=follower&follow=true`, { signal: abort.signal });
        assert.equal(res.status, 200);
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        const next = lineReader(reader);
        const first = await next();
        assert.equal(first?.name, "follower");
        assert.equal(
          await eventually(() => streams.open.logs === 2 && streams.open.podWatches === 1),
          true,
          `while the client reads: ${JSON.stringify(streams.open)}`,
        );
        await leave(abort, reader).catch(() => {});
        // No new log line and no virtual time needed: the disconnect alone ends the provider's reads,
        // long before write_timeout (10 minutes here).
        assert.equal(
          await eventually(() => streams.open.logs === 0 && streams.open.podWatches === 0),
          true,
          `after the client went away: still open ${JSON.stringify(streams.open)}`,
        );
        // And a line written afterwards has nowhere to go (nothing re-subscribed).
        await h.advanceUntil(h.call("POST", "/function/follower", "after"));
        await h.advance(1_000);
        assert.deepEqual(streams.open, { logs: 0, podWatches: 0 });
      } finally {
        streams.restore();
      }
    }, { config: { writeTimeoutMs: 10 * 60_000 } }));
}

/** RFC 3339 with a fractional second, in UTC, as the kubelet writes it (`--timestamps`). */
const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

Deno.test("logs: each line carries an RFC 3339 timestamp of the virtual time it was written", () =>
  withProvider(async (h) => {
    await deployReady(h, "stamped");
    const invokeAt = async (body: string) => {
      const before = h.cluster.clock.now();
      const r = await h.advanceUntil(h.call("POST", "/function/stamped", body), 10);
      assert.equal(r.status, 200, r.text);
      return { before, after: h.cluster.clock.now() };
    };
    await h.advance(37_250);
    const first = await invokeAt("one");
    await h.advance(90_000);
    const second = await invokeAt("two");
    assert.ok(second.before - first.before >= 90_000);

    const res = await h.call("GET", "/system/logs?name=stamped&tail=1000");
    assert.equal(res.status, 200);
    const lines: { timestamp: string; text: string }[] = res.text.trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    for (const l of lines) assert.match(l.timestamp, rfc3339, JSON.stringify(l));
    const times = lines.map((l) => Date.parse(l.timestamp));
    assert.deepEqual([...times].sort((a, b) => a - b), times, "in the order written");
    // Everything was written in virtual time (the clock starts at 2026-01-01), not the wall clock.
    const start = Date.parse("2026-01-01T00:00:00Z");
    assert.ok(
      times.every((t) => t >= start && t <= h.cluster.clock.now()),
      lines.map((l) => l.timestamp).join(),
    );

    const forks = lines.filter((l) => l.text.includes("Forking fprocess."));
    assert.equal(forks.length, 2, lines.map((l) => l.text).join("\n"));
    for (const [i, window] of [first, second].entries()) {
      const at = Date.parse(forks[i].timestamp);
      assert.ok(
        at >= window.before && at <= window.after,
        `invocation ${i + 1}: ${forks[i].timestamp} not within [${new Date(window.before).toISOString()}, ${
          new Date(window.after).toISOString()
        }]`,
      );
      // The watchdog's own Go log prefix (second precision) says the same time.
      const prefix = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d:\d\d:\d\d) /.exec(forks[i].text);
      assert.ok(prefix, forks[i].text);
      assert.equal(
        `${prefix[1]}-${prefix[2]}-${prefix[3]}T${prefix[4]}`,
        new Date(Math.floor(at / 1000) * 1000).toISOString().slice(0, 19),
      );
    }
    // The start-up lines were written when the container started: after the deploy's image pull.
    const startup = lines.filter((l) => Date.parse(l.timestamp) < first.before);
    assert.ok(startup.length >= 1, "start-up lines come first");
    assert.ok(
      startup.every((l) => Date.parse(l.timestamp) > start && Date.parse(l.timestamp) < start + 10_000),
    );
  }));

Deno.test({
  name: "logs: injected faults (the API server's interceptor) reach pods/log reads too",
  fn: () =>
    withSimCluster(async ({ cluster, advance }) => {
      cluster.store.create(Kinds.Deployment, "openfaas-fn", deploymentFixture("logged"));
      await advance("10 seconds");
      const [pod] = cluster.store.list(Kinds.Pod, "openfaas-fn").items;
      const path = `/api/v1/namespaces/openfaas-fn/pods/${pod.metadata.name}/log`;
      const lines: string[] = [];
      cluster.api.readLog(path, {}, (l) => lines.push(l), () => {});
      assert.ok(lines.length > 0, "the container has logged");
      const faults = new Faults({ rate: 1, statuses: [503] });
      const uninstall = installFaults(cluster.api, faults);
      try {
        const get = cluster.api.handle({
          method: "GET",
          path: `/api/v1/namespaces/openfaas-fn/pods/${pod.metadata.name}`,
        });
        assert.equal(get.status, 503, "faults are on for reads");
        assert.throws(
          () => cluster.api.readLog(path, {}, () => {}, () => {}),
          (e: unknown) => e instanceof ApiError && e.code === 503,
          "a log read fails like any other read",
        );
      } finally {
        uninstall();
      }
    }),
});

Deno.test("logs: the watchdog's lines of that function, non-follow stream ends, tail honoured", () =>
  withProvider(async (h) => {
    await deployReady(h, "test-logger");
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
    await deployReady(h, "old-logs");
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
    await deployReady(h, "follow");
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

Deno.test("logs: follow picks up pods that start later; instance filters to one pod", () =>
  withProvider(async (h) => {
    await deployReady(h, "grow");
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
