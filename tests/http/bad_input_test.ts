/**
 * Bad input gets a clear 4xx naming the field and changes nothing: replica counts beyond int32, a
 * huge quantity, NUL in the environment, malformed and invalid bodies, bodies over the limit.
 */
import assert from "node:assert/strict";
import { apiTest, type Harness, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

const fn = (service: string, extra: Record<string, unknown> = {}) => ({
  service,
  image: "functions/alpine:latest",
  envProcess: "cat",
  ...extra,
});

const replicasOf = (h: Harness, name: string) =>
  h.cluster.store.get(Kinds.Deployment, "openfaas-fn", name).spec.replicas;

// ---------------------------------------------------------------------------
// 1. Replica counts beyond int32
// ---------------------------------------------------------------------------

Deno.test("scale: replicas outside 0..2147483647, fractional, exponent or not a number are 400s naming replicas", () =>
  withProvider(async (h) => {
    assert.equal((await h.call("POST", "/system/functions", fn("sc"))).status, 202);
    const before = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "sc").metadata.resourceVersion;
    for (
      const replicas of [
        "2147483648",
        "4294967296",
        "1e15",
        "99999999999999999999999",
        "-1",
        "1.5",
        // Go's uint64 decoding refuses these too, though they denote integers.
        "2.0",
        "1e2",
        "-0",
        '"3"',
        "null",
      ]
    ) {
      const r = await h.call(
        "POST",
        "/system/scale-function/sc",
        `{"serviceName":"sc","replicas":${replicas}}`,
      );
      assert.equal(r.status, 400, `${replicas}: ${r.text}`);
      assert.match(r.text, /^invalid request body: replicas: /, replicas);
    }
    assert.match(
      (await h.call("POST", "/system/scale-function/sc", '{"replicas":2147483648}')).text,
      /replicas: 2147483648 must be an integer from 0 to 2147483647/,
    );
    assert.equal(
      h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "sc").metadata.resourceVersion,
      before,
      "nothing changed",
    );
    for (const replicas of [0, 3]) {
      assert.equal((await h.call("POST", "/system/scale-function/sc", { replicas })).status, 202);
      assert.equal(replicasOf(h, "sc"), replicas);
    }
  }));

Deno.test("deploy and update: scale.min/max beyond int32 are 400s naming the label; a body 'replicas' is ignored as Go ignores it", () =>
  withProvider(async (h) => {
    for (const key of ["com.openfaas.scale.min", "com.openfaas.scale.max"]) {
      for (const value of ["2147483648", "-1", "1.5", "1e3"]) {
        const r = await h.call("POST", "/system/functions", fn("lbl", { labels: { [key]: value } }));
        assert.equal(r.status, 400, `${key}=${value}`);
        assert.ok(r.text.startsWith("labels"), r.text);
        assert.ok(r.text.includes(key), r.text);
      }
    }
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
    // faas-provider's FunctionDeployment has no replicas field: Go drops the key, so do we.
    assert.equal(
      (await h.call("POST", "/system/functions", fn("lbl", { replicas: 2147483648 }))).status,
      202,
    );
    assert.equal(replicasOf(h, "lbl"), 1);
    const up = await h.call(
      "PUT",
      "/system/functions",
      fn("lbl", { labels: { "com.openfaas.scale.min": "2147483648" } }),
    );
    assert.equal(up.status, 400);
    assert.match(up.text, /com\.openfaas\.scale\.min/);
    assert.equal(replicasOf(h, "lbl"), 1);
  }));

// ---------------------------------------------------------------------------
// 2. A long resource quantity
// ---------------------------------------------------------------------------

Deno.test("a quantity of 262,144 digits and a letter is refused at once, naming the field, without echoing it", () =>
  withProvider(async (h) => {
    const memory = "1".repeat(262_144) + "x";
    const started = performance.now();
    const r = await h.call("POST", "/system/functions", fn("big", { limits: { memory } }));
    const elapsedMs = performance.now() - started;
    assert.equal(r.status, 400);
    assert.match(
      r.text,
      /^limits\.memory: "1+\.\.\." \(262145 characters\) is not a valid quantity: must be at most 64 characters/,
    );
    assert.ok(r.text.length < 1000, `the message is short (${r.text.length} characters)`);
    // Generous: the answer takes milliseconds; the quadratic pattern this replaces took ~30 s here.
    assert.ok(elapsedMs < 5_000, `answered in ${elapsedMs.toFixed(0)} ms`);
    for (const field of ["requests.cpu", "limits.nvidia.com/gpu"]) {
      const [kind, res] = [field.slice(0, field.indexOf(".")), field.slice(field.indexOf(".") + 1)];
      const t = await h.call("POST", "/system/functions", fn("big", { [kind]: { [res]: memory } }));
      assert.equal(t.status, 400);
      assert.ok(t.text.startsWith(`${field}: `), t.text.slice(0, 200));
    }
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
  }));

// ---------------------------------------------------------------------------
// 3. NUL in the environment
// ---------------------------------------------------------------------------

Deno.test("NUL in an envVars value or envProcess is a 400 naming the field, on deploy and update", () =>
  withProvider(async (h) => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ envVars: { FOO: "a\u0000b" } }, /^envVars\.FOO: the value must not contain a NUL character/],
      [{ envVars: { OK: "x", FOO: "\u0000" } }, /^envVars\.FOO: /],
      [{ envProcess: "cat\u0000/etc/passwd" }, /^envProcess: the value must not contain a NUL character/],
      // One environment string longer than Linux's MAX_ARG_STRLEN cannot be passed to a process either.
      [{ envVars: { BIG: "x".repeat(131_072) } }, /^envVars\.BIG: the value is too long/],
      [{ envProcess: "x".repeat(131_072) }, /^envProcess: the value is too long/],
    ];
    for (const [extra, message] of cases) {
      const r = await h.call("POST", "/system/functions", fn("nul", extra));
      assert.equal(r.status, 400, JSON.stringify(extra).slice(0, 80));
      assert.match(r.text, message);
    }
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
    assert.equal(
      (await h.call("POST", "/system/functions", fn("nul", { envVars: { A: "line\nbreak" } }))).status,
      202,
    );
    const before = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "nul").metadata.resourceVersion;
    for (const [extra, message] of cases) {
      const r = await h.call("PUT", "/system/functions", fn("nul", extra));
      assert.equal(r.status, 400);
      assert.match(r.text, message);
    }
    assert.equal(
      h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "nul").metadata.resourceVersion,
      before,
    );
  }));

apiTest("bad input gets a 4xx naming the field and changes nothing", async (h) => {
  const cases: [unknown, number, RegExp][] = [
    ["{not json", 400, /malformed JSON/],
    [[1, 2], 400, /JSON object/],
    [{ image: "functions/alpine" }, 400, /service/],
    [{ service: 5, image: "functions/alpine" }, 400, /service: expected string/],
    [fn("Bad_Name"), 400, /service/],
    [fn("a".repeat(64)), 400, /service/],
    [fn("ok", { image: "Not An Image" }), 400, /image/],
    [fn("ok", { image: "" }), 400, /image/],
    [fn("ok", { limits: { memory: "12Q" } }), 400, /limits\.memory/],
    [fn("ok", { requests: { memory: "256Mi" }, limits: { memory: "128Mi" } }), 400, /requests\.memory/],
    [fn("ok", { labels: { "bad key!": "x" } }), 400, /labels/],
    [fn("ok", { labels: { ok: "bad value!" } }), 400, /labels/],
    [fn("ok", { annotations: { "-bad": "x" } }), 400, /annotations/],
    [fn("ok", { envVars: { "1BAD": "x" } }), 400, /envVars/],
    [fn("ok", { envVars: { A: 1 } }), 400, /envVars\.A/],
    [fn("ok", { constraints: ["nonsense"] }), 400, /constraints\[0\]/],
    [fn("ok", { secrets: "api-key" }), 400, /secrets/],
    [fn("ok", { readOnlyRootFilesystem: "yes" }), 400, /readOnlyRootFilesystem/],
    [fn("ok", { namespace: "Bad_NS" }), 400, /namespace/],
  ];
  for (const [body, status, message] of cases) {
    // A string is sent as is (malformed JSON); anything else is sent as JSON by the harness.
    const r = await h.call("POST", "/system/functions", body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(r.text, message, JSON.stringify(body));
    assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
  }
  const scaleBad = await h.call("POST", "/system/scale-function/x", { serviceName: "x", replicas: -1 });
  assert.equal(scaleBad.status, 400);
  assert.equal(
    (await h.call("POST", "/system/scale-function/x", { serviceName: "x", replicas: 1.5 })).status,
    400,
  );
  assert.equal((await h.call("POST", "/system/secrets", { name: "Bad Name", value: "x" })).status, 400);
  assert.equal((await h.call("POST", "/system/secrets", { name: "ok", rawValue: "***" })).status, 400);
  assert.equal(h.cluster.store.list(Kinds.Deployment).items.length, 0);
  assert.equal(h.cluster.store.list(Kinds.Secret).items.length, 0);
});

apiTest("bodies over the limit get 413", async (h) => {
  const big = fn("big", { annotations: { a: "x".repeat(2048) } });
  const r = await h.call("POST", "/system/functions", big);
  assert.equal(r.status, 413);
  assert.equal(h.cluster.store.list(Kinds.Deployment).items.length, 0);
  assert.equal((await h.call("POST", "/system/functions", fn("small"))).status, 202);
}, { config: { maxBodyBytes: 1024 } });
