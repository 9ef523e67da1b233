/** Bodies and query strings read the way Go (the Gateway, faas-cli, faas-netes) reads them. */
import assert from "node:assert/strict";
import { apiTest, type Harness, withProvider } from "../support/harness.ts";
import { envFunction, replicasOf } from "../support/functions.ts";
import { Kinds } from "../../sim/kinds.ts";

const fn = (service: string, extra: Record<string, unknown> = {}) =>
  envFunction(service, { envProcess: "cat", ...extra });

const deployReady = async (h: Harness, service: string) => {
  assert.equal((await h.call("POST", "/system/functions", fn(service))).status, 202);
  await h.advance(10_000);
  assert.equal(JSON.parse((await h.call("GET", `/system/function/${service}`)).text).availableReplicas, 1);
};

apiTest(
  "JSON keys match case-insensitively and unknown keys are ignored, as Go clients expect",
  async (h) => {
    const r = await h.call("POST", "/system/functions", {
      Service: "ci",
      Image: "functions/alpine:latest",
      EnvProcess: "cat",
      extra: true,
    });
    assert.equal(r.status, 202);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/ci")).text).envProcess, "cat");
  },
);

Deno.test("keys that differ only in case: the last one wins on deploy, scale, delete and secrets, as Go decodes them", () =>
  withProvider(async (h) => {
    const d = await h.call(
      "POST",
      "/system/functions",
      '{"service":"a","Service":"b","image":"functions/alpine:latest","envVars":{"A":"1"},"EnvVars":{"B":"2"}}',
    );
    assert.equal(d.status, 202, d.text);
    assert.equal(h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "a"), undefined);
    const s = JSON.parse((await h.call("GET", "/system/function/b")).text);
    assert.deepEqual(s.envVars, { A: "1", B: "2" }, "a repeated map field merges");
    // Map keys keep their case: these are two variables.
    assert.equal(
      (await h.call("PUT", "/system/functions", fn("b", { envVars: { Team: "x", team: "y" } }))).status,
      202,
    );
    assert.deepEqual(JSON.parse((await h.call("GET", "/system/function/b")).text).envVars, {
      Team: "x",
      team: "y",
    });

    assert.equal(
      (await h.call("POST", "/system/scale-function/b", '{"replicas":0,"Replicas":3}')).status,
      202,
    );
    assert.equal(replicasOf(h, "b"), 3);
    assert.equal(
      (await h.call("POST", "/system/scale-function/b", '{"REPLICAS":5,"replicas":2}')).status,
      202,
    );
    assert.equal(replicasOf(h, "b"), 2);

    assert.equal(
      (await h.call("POST", "/system/secrets", '{"name":"one","NAME":"two","Value":"v"}')).status,
      202,
    );
    assert.equal(h.cluster.store.peek(Kinds.Secret, "openfaas-fn", "one"), undefined);
    assert.equal(atob(h.cluster.store.get(Kinds.Secret, "openfaas-fn", "two").data.two), "v");

    const del = await h.call("DELETE", "/system/functions", '{"functionName":"nope","FunctionName":"b"}');
    assert.equal(del.status, 202, del.text);
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
  }));

Deno.test("namespace bodies decode as Go too: the last name wins and repeated label maps merge", () =>
  withProvider(async (h) => {
    const r = await h.call(
      "POST",
      "/system/namespace/",
      '{"name":"x-fn","NAME":"team-fn","labels":{"openfaas":"1"},"Labels":{"team":"a"}}',
    );
    assert.equal(r.status, 201, r.text);
    assert.equal(h.cluster.store.peek(Kinds.Namespace, undefined, "x-fn"), undefined);
    const ns = h.cluster.store.get(Kinds.Namespace, undefined, "team-fn");
    assert.equal(ns.metadata.labels.openfaas, "1");
    assert.equal(ns.metadata.labels.team, "a");
  }, { config: { clusterRole: true } }));

Deno.test("logs: tail is strconv.Atoi (else 422), since is RFC 3339 (else 422), and the last repeated value wins", () =>
  withProvider(async (h) => {
    await deployReady(h, "lg");
    const logs = (query: string) => h.call("GET", `/system/logs?name=lg&${query}`);
    for (
      const tail of ["1e3", "0x10", "1.5", "abc", "9223372036854775808", "-9223372036854775809", "1_0", " 1"]
    ) {
      const r = await logs(`tail=${encodeURIComponent(tail)}`);
      assert.equal(r.status, 422, `tail=${tail}`);
      assert.match(r.text, /^could not parse the log request: tail: /);
    }
    for (const tail of ["5", "%2B5", "-1", "007", "9223372036854775807"]) {
      assert.equal((await logs(`tail=${tail}`)).status, 200, `tail=${tail}`);
    }
    for (
      const since of ["2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "2026-01-01", "2026-01-01T24:00:00Z"]
    ) {
      const r = await logs(`since=${since}`);
      assert.equal(r.status, 422, `since=${since}`);
      assert.match(r.text, /^could not parse the log request: since: /);
    }
    assert.equal((await logs("since=2026-01-01T00:00:00%2B01:00")).status, 200);
    // faas-provider's log handler takes the LAST value of a repeated parameter.
    assert.equal((await logs("tail=5&tail=abc")).status, 422);
    assert.equal((await logs("tail=abc&tail=5")).status, 200);
    assert.equal((await logs("since=bad&since=2026-01-01T00:00:00Z")).status, 200);
    assert.equal((await h.call("GET", "/system/logs?name=nope&name=lg&tail=1")).status, 200);
    assert.equal(
      (await h.call("GET", "/system/logs?name=lg&namespace=kube-system&namespace=openfaas-fn&tail=1")).status,
      200,
    );
  }));

Deno.test("logs: follow is strconv.ParseBool of the last value (anything else is false)", () =>
  withProvider(async (h) => {
    await deployReady(h, "fl");
    /** Whether the stream ends within 5 s of virtual time (a followed one lasts until write_timeout, 60 s). */
    const ends = async (follow: string) => {
      const res = await h.request("GET", `/system/logs?name=fl&${follow}`);
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      const drained = (async () => {
        while (!(await reader.read()).done) { /* lines */ }
      })();
      try {
        await h.advanceUntil(drained, 500, 5_000);
        return true;
      } catch {
        await reader.cancel();
        return false;
      }
    };
    assert.equal(await ends("follow=1&follow=0"), true);
    assert.equal(await ends("follow=TRUE&follow=yes"), true, "yes is not a Go bool: false");
    assert.equal(await ends("follow=false&follow=T"), false);
  }, { config: { writeTimeoutMs: 60_000 } }));

Deno.test("other routes read a query parameter as url.Values.Get: the first well-formed value", () =>
  withProvider(async (h) => {
    assert.equal((await h.call("POST", "/system/functions", fn("q"))).status, 202);
    // First value wins.
    assert.equal(
      (await h.call("GET", "/system/functions?namespace=openfaas-fn&namespace=kube-system")).status,
      200,
    );
    assert.equal(
      (await h.call("GET", "/system/functions?namespace=kube-system&namespace=openfaas-fn")).status,
      401,
    );
    // Go drops a pair containing ';' or a malformed %-escape before taking the first.
    assert.equal(
      (await h.call("GET", "/system/functions?namespace=openfaas-fn;x&namespace=kube-system")).status,
      401,
    );
    assert.equal((await h.call("GET", "/system/function/q?namespace=%zz&namespace=openfaas-fn")).status, 200);
    // Keys are unescaped too, '+' is a space.
    assert.equal((await h.call("GET", "/system/function/q?%6Eamespace=kube-system")).status, 401);
    assert.equal((await h.call("GET", "/system/function/q?namespace=+openfaas-fn")).status, 400);
  }));

Deno.test("usage is strconv.ParseBool of the first value: t and TRUE ask for it, tRuE and yes do not", () =>
  withProvider(async (h) => {
    await deployReady(h, "us");
    await h.call("POST", "/function/us", "load");
    await h.advance(15_000);
    const usage = async (q: string) =>
      JSON.parse((await h.call("GET", `/system/function/us?${q}`)).text).usage !== undefined;
    assert.equal(await usage("usage=1"), true, "usage=1 reads the metrics API");
    for (const q of ["usage=t", "usage=T", "usage=TRUE", "usage=True", "usage=true&usage=0"]) {
      assert.equal(await usage(q), true, q);
    }
    for (const q of ["usage=tRuE", "usage=yes", "usage=0", "usage=false", "usage=0&usage=1", "usage="]) {
      assert.equal(await usage(q), false, q);
    }
  }));
