/**
 * `GET /system/function/{name}` is served without the router (app.ts): the same answers as the router's
 * status route, the same metrics, and JSON text that is reused only while the function is unchanged.
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import { statusPathName } from "../../src/http/routes/functions.ts";
import { jsonText } from "../../src/http/respond.ts";
import { Functions } from "../../src/provider/functions.ts";
import { withProvider } from "../support/harness.ts";
import { deployFunction } from "../support/functions.ts";
import { metricsText, sample } from "../support/metrics.ts";

Deno.test("statusPathName: the name of a status path as the route matches it, else undefined", () => {
  const base = "http://127.0.0.1:8080";
  const cases: [string, string | undefined][] = [
    ["/system/function/echo", "echo"],
    ["/system/function/fn-0001.v2_x", "fn-0001.v2_x"],
    ["/system/function/echo?namespace=openfaas-fn", "echo"],
    ["/system/function/echo?", "echo"],
    ["/system/function/echo#top", "echo"],
    ["/system/function/", undefined],
    ["/system/function/?x=1", undefined],
    ["/system/function/echo/", undefined],
    ["/system/function/a/b", undefined],
    ["/system/function/%65cho", undefined],
    ["/system/function/ech o", undefined],
    ["/system/functions", undefined],
    ["/system/function", undefined],
    ["/system/scale-function/echo", undefined],
    ["/function/echo", undefined],
    ["/x/system/function/echo", undefined],
  ];
  for (const [path, name] of cases) assert.equal(statusPathName(`${base}${path}`), name, path);
  assert.equal(statusPathName("http://[::1]:8080/system/function/echo"), "echo");
});

/** The parts of an answer a client sees. */
const answer = async (res: Response) => ({
  status: res.status,
  body: await res.text(),
  type: res.headers.get("content-type"),
  nosniff: res.headers.get("x-content-type-options"),
  challenge: res.headers.get("www-authenticate"),
});

Deno.test("status without the router answers every case as the router's status route does", () =>
  withProvider(async (h) => {
    const auth = { Authorization: `Basic ${btoa("admin:pw")}` };
    const created = await h.call("POST", "/system/functions", {
      service: "echo",
      image: "functions/alpine:latest",
      labels: { team: "a" },
    }, auth);
    assert.equal(created.status, 202, created.text);
    await h.advance(30_000);
    // `%65cho` is `echo` to the router; the path without the router takes only literal names, so a name
    // with its first letter percent-encoded goes through the router.
    const cases: [string, Record<string, string>][] = [
      ["echo", auth],
      ["echo?namespace=openfaas-fn", auth],
      ["echo?namespace=&namespace=other", auth],
      ["echo?namespace=kube-system", auth],
      ["echo?namespace=nope", auth],
      ["echo?namespace=Bad_NS", auth],
      ["echo?usage=1", auth],
      ["echo?usage=maybe", auth],
      ["missing", auth],
      ["echo", {}],
      ["echo", { Authorization: `Basic ${btoa("admin:wrong")}` }],
    ];
    for (const [rest, headers] of cases) {
      const direct = await answer(await h.request("GET", `/system/function/${rest}`, undefined, headers));
      const routed = await answer(
        await h.request(
          "GET",
          `/system/function/%${rest.charCodeAt(0).toString(16)}${rest.slice(1)}`,
          undefined,
          headers,
        ),
      );
      assert.deepEqual(direct, routed, rest);
    }
    const ok = await answer(await h.request("GET", "/system/function/echo", undefined, auth));
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).labels.team, "a");
    // A name no function can have: the router and the direct path both say not found.
    const bad = await answer(await h.request("GET", "/system/function/Bad.Name", undefined, auth));
    assert.deepEqual(
      bad,
      await answer(await h.request("GET", "/system/function/%42ad.Name", undefined, auth)),
    );
    assert.equal(bad.status, 404);
    // HEAD still goes through the router: the status line and headers of GET, no body.
    const head = await h.request("HEAD", "/system/function/echo", undefined, auth);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "application/json");
    assert.equal(await head.text(), "");
  }, { config: { clusterRole: true }, credentials: { user: "admin", password: "pw" } }));

Deno.test("status without the router is counted in the request metrics, a 401 included", () =>
  withProvider(async (h) => {
    const auth = { Authorization: `Basic ${btoa("admin:pw")}` };
    const body = { service: "echo", image: "functions/alpine:latest" };
    assert.equal((await h.call("POST", "/system/functions", body, auth)).status, 202);
    const series = (code: number) =>
      `provider_http_request_duration_seconds_count{code="${code}",method="GET",path="/system/function"}`;
    const scrape = async () => {
      const text = await metricsText(h);
      return [200, 401, 404].map((code) => sample(text, series(code)));
    };
    const before = await scrape();
    await (await h.request("GET", "/system/function/echo", undefined, auth)).text();
    await (await h.request("GET", "/system/function/echo", undefined, auth)).text();
    await (await h.request("GET", "/system/function/echo")).text();
    await (await h.request("GET", "/system/function/missing", undefined, auth)).text();
    const after = await scrape();
    assert.deepEqual(after.map((n, i) => n - before[i]), [2, 1, 1]);
  }, { credentials: { user: "admin", password: "pw" } }));

Deno.test("a function's status JSON is encoded again when its Deployment changes, equal to a fresh encoding", () =>
  withProvider(async (h) => {
    await deployFunction(h, { service: "echo", labels: { v: "1" } });
    await h.advance(30_000);
    /** The served text, and the status the use case gives now encoded afresh (a copy: no cached text). */
    const served = async () => {
      const text = (await h.call("GET", "/system/function/echo")).text;
      const fresh = await h.run(Effect.flatMap(Effect.service(Functions), (f) => f.status("echo")));
      return { text, fresh: JSON.stringify(structuredClone(fresh)) };
    };
    const first = await served();
    assert.equal(first.text, first.fresh);
    assert.equal(JSON.parse(first.text).labels.v, "1");
    assert.equal((await served()).text, first.text);

    const updated = await h.call("PUT", "/system/functions", {
      service: "echo",
      image: "functions/alpine:latest",
      labels: { v: "2" },
    });
    assert.equal(updated.status, 202, updated.text);
    await h.advance(30_000);
    const second = await served();
    assert.equal(second.text, second.fresh);
    assert.equal(JSON.parse(second.text).labels.v, "2");

    // Scaled: the replica counts change in the Deployment, and so in the text.
    assert.equal(
      (await h.call("POST", "/system/scale-function/echo", { serviceName: "echo", replicas: 2 })).status,
      202,
    );
    await h.advance(30_000);
    const third = await served();
    assert.equal(third.text, third.fresh);
    assert.equal(JSON.parse(third.text).replicas, 2);
  }));

Deno.test("jsonText: one encoding per object, kept while the object lives", () => {
  const a = { name: "a", n: 1 };
  const b = { name: "a", n: 1 };
  assert.equal(jsonText(a), JSON.stringify(a));
  assert.equal(jsonText(a), jsonText(a));
  // The text belongs to the object: another object (a changed status is a new one) is encoded on its own.
  assert.equal(jsonText(b), JSON.stringify(b));
  assert.equal(jsonText({ ...a, n: 2 }), '{"name":"a","n":2}');
});
