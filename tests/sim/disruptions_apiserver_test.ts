/**
 * An API server restart (sim/disruptions.ts): every open watch ends, in process and over HTTP; a
 * resume from before the restart gets 410 Expired and a relist works; an outage window answers 503;
 * the provider's caches recover by themselves.
 */
import assert from "node:assert/strict";
import { Effect, Stream } from "effect";
import { getJson, readEvents, withSimServer } from "../support/simcluster.ts";
import { withProvider } from "../support/harness.ts";
import { envFunction, functionStatus } from "../support/functions.ts";
import { KubeApi, type WatchEvent } from "../../src/kube/api.ts";
import { Kinds } from "../../sim/kinds.ts";
import { Disruptions } from "../../sim/disruptions.ts";
import { deploymentFixture } from "../support/fixtures.ts";

const secrets = "/api/v1/namespaces/default/secrets";

/** `pending`, or a rejection after `ms` of real time (a watch that should have ended but did not). */
const within = <T>(pending: Promise<T>, what: string, ms = 3_000): Promise<T> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    pending,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not end`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

const secret = (name: string) => ({ metadata: { name }, data: {} });

Deno.test("disruptions: an API server restart ends every watch (in process and HTTP); a resume gets 410, a relist works", () =>
  withSimServer(async ({ cluster, rt, url }) => {
    const d = Disruptions.of(cluster);
    cluster.store.create(Kinds.Secret, "default", secret("a"));
    const before = String(cluster.store.resourceVersion);
    // An in-process watch (SimTransport) and one over HTTP, both open.
    const inProcess = rt.runPromise(
      Effect.flatMap(Effect.service(KubeApi), (api) => Stream.runCollect(api.watch<unknown>(secrets))),
    );
    const http = await fetch(`${url}${secrets}?watch=1&resourceVersion=${before}`);
    assert.equal(http.status, 200);
    await new Promise((r) => setTimeout(r, 10));
    cluster.store.create(Kinds.Secret, "default", secret("a2"));

    assert.ok(d.restartApiServer() >= 2, "both watches were open");
    const seen = (await within(inProcess, "the in-process watch")) as readonly WatchEvent[];
    assert.deepEqual(seen.map((e) => e.type), ["ADDED", "ADDED"], "the stream ended after its events");
    const overHttp = await readEvents(http, 10, 2_000);
    assert.deepEqual(overHttp.map((e) => e.object.metadata.name), ["a2"], "one event, then the stream ended");

    // Resuming from before the restart: 410 Expired, in process and over HTTP.
    const resumed = await within(
      rt.runPromise(Effect.flatMap(
        Effect.service(KubeApi),
        (api) => Effect.flip(Stream.runCollect(api.watch<unknown>(secrets, { resourceVersion: before }))),
      )),
      "the resumed in-process watch",
    );
    assert.equal(resumed.status, 410);
    assert.match(resumed.message, /too old resource version/);
    const gone = await readEvents(await fetch(`${url}${secrets}?watch=1&resourceVersion=${before}`), 1);
    assert.equal(gone[0].type, "ERROR");
    assert.equal(gone[0].object.code, 410);

    // Relist, then watch from the list's resourceVersion: the next change arrives.
    const list = await getJson(`${url}${secrets}`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((p: { metadata: { name: string } }) => p.metadata.name), [
      "a",
      "a2",
    ]);
    const watch = await fetch(
      `${url}${secrets}?watch=1&resourceVersion=${list.body.metadata.resourceVersion}`,
    );
    cluster.store.create(Kinds.Secret, "default", secret("b"));
    const next = await readEvents(watch, 1);
    assert.equal(next[0].type, "ADDED");
    assert.equal(next[0].object.metadata.name, "b");
  }));

Deno.test("disruptions: an API server restart with an outage answers 503 with Retry-After until it is back", () =>
  withSimServer(async ({ cluster, rt, url, advance }) => {
    const d = Disruptions.of(cluster);
    d.restartApiServer({ unavailableMs: 5_000 });
    assert.equal(d.apiServerUp, false);
    const down = await getJson(`${url}${secrets}`);
    assert.equal(down.status, 503);
    assert.equal(down.body.reason, "ServiceUnavailable");
    assert.equal(down.headers.get("retry-after"), "1");
    assert.equal(
      (await fetch(`${url}${secrets}?watch=1`).then(async (r) => (await r.body?.cancel(), r))).status,
      503,
    );
    const failure = await rt.runPromise(
      Effect.flatMap(
        Effect.service(KubeApi),
        (api) => Effect.flip(api.request({ method: "GET", path: secrets })),
      ),
    );
    assert.equal(failure.status, 503);
    assert.equal(failure.retryAfterSeconds, 1);
    // A second restart during the outage does not shorten it.
    await advance(3_000);
    d.restartApiServer({ unavailableMs: 1_000 });
    await advance(1_500);
    assert.equal((await getJson(`${url}${secrets}`)).status, 503);
    await advance(1_000);
    assert.equal(d.apiServerUp, true);
    assert.equal((await getJson(`${url}${secrets}`)).status, 200);
  }));

Deno.test("disruptions: the provider's caches recover from an API server restart (relist after 410) and see later changes", () =>
  withProvider(async (h) => {
    const d = Disruptions.of(h.cluster);
    d.restartApiServer({ unavailableMs: 2_000 });
    // The deploy is retried through the outage (503 is transient).
    const deployed = await h.advanceUntil(h.call("POST", "/system/functions", envFunction("after-restart")));
    assert.equal(deployed.status, 202, deployed.text);
    await h.advance(10_000);
    const s = await functionStatus(h, "after-restart");
    assert.equal(s.availableReplicas, 1, "the caches saw the Deployment and its pod become ready");
    // What the informers ask for after the restart: a resume from their last resourceVersion (410), then a list.
    const calls: string[] = [];
    h.cluster.api.interceptor = (req) => {
      if (req.path.endsWith("/deployments")) {
        const watch = req.method === "WATCH" || req.query?.watch ? "watch" : "list";
        calls.push(`${watch}${req.query?.resourceVersion ? " from " + req.query.resourceVersion : ""}`);
      }
      return undefined;
    };
    const lastRv = h.cluster.store.resourceVersion;
    d.restartApiServer();
    await h.advance(5_000);
    h.cluster.api.interceptor = undefined;
    const resumedFrom = Number(/^watch from (\d+)$/.exec(calls[0] ?? "")?.[1]);
    assert.ok(resumedFrom > 0 && resumedFrom <= lastRv, calls.join(", "));
    assert.ok(calls.includes("list"), `relisted: ${calls.join(", ")}`);
    const scaled = await h.call("POST", "/system/scale-function/after-restart", {
      serviceName: "after-restart",
      replicas: 2,
    });
    assert.equal(scaled.status, 202, scaled.text);
    await h.advance(10_000);
    assert.equal((await functionStatus(h, "after-restart")).availableReplicas, 2);
  }));

Deno.test("disruptions: an API server restart also ends followed pod logs (in process and HTTP), as it drops every connection", () =>
  withSimServer(async ({ cluster, advance, url }) => {
    const res = cluster.api.handle({
      method: "POST",
      path: "/apis/apps/v1/namespaces/openfaas-fn/deployments",
      body: deploymentFixture("logger"),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await advance(30_000);
    const [pod] = [...cluster.store.scan(Kinds.Pod, "openfaas-fn")];
    const path = `/api/v1/namespaces/openfaas-fn/pods/${pod.metadata.name}/log`;
    let ended = false;
    cluster.api.readLog(path, { follow: "true" }, () => {}, () => (ended = true));
    const http = await fetch(`${url}${path}?follow=true`);
    assert.equal(http.status, 200);
    const text = http.text();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(ended, false, "a followed log stays open while the API server runs");
    Disruptions.of(cluster).restartApiServer();
    assert.equal(ended, true, "the in-process log stream ended");
    await within(text, "the followed log over HTTP");
  }));
