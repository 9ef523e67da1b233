/** Functions through the API: deploy, read back, update, scale and delete. */
import assert from "node:assert/strict";
import { apiTest, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import fc, { runs } from "../support/fc.ts";
import type { FunctionDeployment, FunctionStatus } from "../../src/domain/types.ts";
import {
  assertStatusMatches,
  createSecrets,
  defaultNs,
  deploymentArb,
  dnsSubdomain,
  expectedReplicas,
  getStatus,
  lowercaseAnnotationKey,
  minReplicas,
  namePart,
  validScaleMin,
} from "../support/function_requests.ts";

const fn = (service: string, extra: Record<string, unknown> = {}) => ({
  service,
  image: "functions/alpine:latest",
  envProcess: "env",
  ...extra,
});

/** A request with every field set, and the status it must read back as, spelled out by hand. */
const spelledOut = {
  request: fn("env-test", {
    envVars: { custom_env: "custom_env_value" },
    labels: { canary_build: "true" },
    annotations: { "some-json": '{\n  "a": 1\n}' },
    limits: { memory: "5Mi", cpu: "100m" },
    requests: { memory: "0.5Mi", cpu: "0.05" },
    constraints: ["disktype=ssd"],
    readOnlyRootFilesystem: true,
  }) as FunctionDeployment,
  status: {
    name: "env-test",
    namespace: "openfaas-fn",
    image: "functions/alpine:latest",
    envProcess: "env",
    envVars: { custom_env: "custom_env_value" },
    constraints: ["disktype=ssd"],
    limits: { memory: "5Mi", cpu: "100m" },
    requests: { memory: "512Ki", cpu: "50m" },
    readOnlyRootFilesystem: true,
    labels: { faas_function: "env-test", canary_build: "true" },
    annotations: { "some-json": '{\n  "a": 1\n}', "prometheus.io.scrape": "false" },
    replicas: 1,
    createdAt: "2026-01-01T00:00:00Z",
  } as Partial<FunctionStatus>,
};

Deno.test("deploy then GET /system/function/{name} and /system/functions round-trip the request (property, both transports)", async () => {
  await fc.assert(
    fc.asyncProperty(
      deploymentArb({ annotationKey: lowercaseAnnotationKey }),
      fc.integer({ min: 0, max: 20_000 }),
      fc.constantFrom("in-process" as const, "http" as const),
      fc.constant<Partial<FunctionStatus> | undefined>(undefined),
      async (req, wait, transport, spelled) => {
        await withProvider(async (h) => {
          await createSecrets(h);
          const r = await h.call("POST", "/system/functions", req);
          assert.equal(r.status, 202, r.text);
          assert.equal(r.text, "");
          assertStatusMatches(await getStatus(h, req.service), req, defaultNs);
          await h.advance(wait);
          const res = await h.call("GET", `/system/function/${req.service}`);
          assert.equal(res.status, 200, res.text);
          assert.equal(res.headers.get("content-type"), "application/json");
          const s = JSON.parse(res.text) as FunctionStatus;
          assertStatusMatches(s, req, defaultNs);
          assert.equal(s.replicas, expectedReplicas(req.labels));
          assert.equal(s.createdAt, "2026-01-01T00:00:00Z");
          // The hand-written expectation, where there is one, is checked field by field as well.
          for (const [k, v] of Object.entries(spelled ?? {})) {
            assert.deepEqual(s[k as keyof FunctionStatus], v, k);
          }
          const list = JSON.parse((await h.call("GET", "/system/functions")).text) as FunctionStatus[];
          assert.deepEqual(list, [s]);
        }, { sim: { transport } });
      },
    ),
    {
      numRuns: runs(25),
      examples: [
        [spelledOut.request, 0, "in-process", spelledOut.status],
        [spelledOut.request, 0, "http", spelledOut.status],
      ],
    },
  );
});

apiTest("status omits envVars, limits and requests that were not given", async (h) => {
  assert.equal(
    (await h.call("POST", "/system/functions", fn("stronghash", { envProcess: "sha512sum" }))).status,
    202,
  );
  const s = JSON.parse((await h.call("GET", "/system/function/stronghash")).text);
  assert.equal("envVars" in s, false);
  assert.equal("limits" in s, false);
  assert.equal("requests" in s, false);
  assert.equal("secrets" in s, false);
  assert.equal("constraints" in s, false);
  assert.equal(s.envProcess, "sha512sum");
});

apiTest("functions become available after their pods are ready, in virtual time", async (h) => {
  await h.call("POST", "/system/functions", fn("ready"));
  let s = JSON.parse((await h.call("GET", "/system/function/ready")).text);
  assert.equal(s.availableReplicas, 0);
  await h.advance(10_000);
  s = JSON.parse((await h.call("GET", "/system/function/ready")).text);
  assert.equal(s.availableReplicas, 1);
});

apiTest("com.openfaas.scale.min sets the initial replicas, readable immediately", async (h) => {
  await h.call(
    "POST",
    "/system/functions",
    fn("test-min-scale", { labels: { "com.openfaas.scale.min": "2" } }),
  );
  const s = JSON.parse((await h.call("GET", "/system/function/test-min-scale")).text);
  assert.equal(s.replicas, 2);
});

apiTest("scale to 0 and above 5 is accepted and visible in the next status read", async (h) => {
  await h.call("POST", "/system/functions", fn("scaled"));
  for (const replicas of [0, 7]) {
    const r = await h.call("POST", "/system/scale-function/scaled", {
      serviceName: "scaled",
      replicas,
      namespace: "openfaas-fn",
    });
    assert.equal(r.status, 202);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/scaled")).text).replicas, replicas);
  }
  // namespace from the query when the body has none (what the Gateway sends)
  const q = await h.call("POST", "/system/scale-function/scaled?namespace=openfaas-fn", {
    serviceName: "scaled",
    replicas: 1,
  });
  assert.equal(q.status, 202);
  assert.equal(JSON.parse((await h.call("GET", "/system/function/scaled")).text).replicas, 1);
});

apiTest("unknown function: 404 on status, update, delete and scale", async (h) => {
  assert.equal((await h.call("GET", "/system/function/nope")).status, 404);
  assert.equal((await h.call("PUT", "/system/functions", fn("nope"))).status, 404);
  assert.equal((await h.call("DELETE", "/system/functions", { functionName: "nope" })).status, 404);
  assert.equal(
    (await h.call("POST", "/system/scale-function/nope", { serviceName: "nope", replicas: 1 })).status,
    404,
  );
});

apiTest("duplicate deploy is 409 and changes nothing", async (h) => {
  await h.call("POST", "/system/functions", fn("dup"));
  const before = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "dup");
  const r = await h.call("POST", "/system/functions", fn("dup", { image: "functions/alpine:other" }));
  assert.equal(r.status, 409);
  assert.match(r.text, /already exists/);
  const after = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "dup");
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
});

apiTest("update replaces the spec, keeps replicas unless scale.min is given, and rolls pods", async (h) => {
  await h.call("POST", "/system/functions", fn("upd", { envVars: { a: "1" } }));
  await h.advance(10_000);
  await h.call("POST", "/system/scale-function/upd", { serviceName: "upd", replicas: 3 });
  await h.advance(10_000);
  const oldPods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.map((p) => p.metadata.name);
  const r = await h.call(
    "PUT",
    "/system/functions",
    fn("upd", { image: "ghcr.io/openfaas/alpine:latest", envVars: { b: "2" } }),
  );
  assert.equal(r.status, 202);
  const s = JSON.parse((await h.call("GET", "/system/function/upd")).text);
  assert.equal(s.image, "ghcr.io/openfaas/alpine:latest");
  assert.deepEqual(s.envVars, { b: "2" });
  assert.equal(s.replicas, 3);
  await h.advance(60_000);
  const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items;
  assert.equal(pods.length, 3);
  assert.ok(pods.every((p) => !oldPods.includes(p.metadata.name)), "every pod was replaced");
  assert.equal(JSON.parse((await h.call("GET", "/system/function/upd")).text).availableReplicas, 3);
  await h.call("PUT", "/system/functions", fn("upd", { labels: { "com.openfaas.scale.min": "2" } }));
  assert.equal(JSON.parse((await h.call("GET", "/system/function/upd")).text).replicas, 2);
});

apiTest("delete removes deployment, service and pods; namespace from body or query", async (h) => {
  await h.call("POST", "/system/functions", fn("gone"));
  await h.call("POST", "/system/functions", fn("gone2"));
  await h.advance(10_000);
  assert.equal(
    (await h.call("DELETE", "/system/functions", { functionName: "gone", namespace: "openfaas-fn" }))
      .status,
    202,
  );
  assert.equal(
    (await h.call("DELETE", "/system/functions?namespace=openfaas-fn", { functionName: "gone2" })).status,
    202,
  );
  assert.equal((await h.call("GET", "/system/function/gone")).status, 404);
  assert.deepEqual(JSON.parse((await h.call("GET", "/system/functions")).text), []);
  assert.equal(h.cluster.store.list(Kinds.Service, "openfaas-fn").items.length, 0);
  // The pods terminate gracefully: the watchdog drains for write_timeout (10 s), then they are gone.
  const terminating = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items;
  assert.ok(terminating.every((p) => p.metadata.deletionTimestamp), "what is left is terminating");
  await h.advance(11_000);
  assert.equal(h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.length, 0);
});

Deno.test("status, scale and delete of an impossible name answer 404 (faas-netes: no such function)", () =>
  withProvider(async (h) => {
    for (
      const [method, path, body] of [
        ["GET", "/system/function/Bad_Name", undefined],
        ["POST", "/system/scale-function/Bad_Name", { serviceName: "Bad_Name", replicas: 1 }],
        ["DELETE", "/system/functions", { functionName: "Bad_Name" }],
      ] as const
    ) {
      const r = await h.call(method, path, body);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(r.text, /function Bad_Name not found: name: "Bad_Name"/);
    }
  }));

Deno.test("property: deploy, scale, then PUT /system/functions: status is the update's", async () => {
  const lowercase = { annotationKey: lowercaseAnnotationKey };
  await fc.assert(
    fc.asyncProperty(
      deploymentArb(lowercase),
      deploymentArb({ ...lowercase, labelScaleMin: validScaleMin }),
      fc.integer({ min: 0, max: 10 }),
      async (first, second, scaled) => {
        const update = { ...second, service: first.service };
        await withProvider(async (h) => {
          await createSecrets(h);
          assert.equal((await h.call("POST", "/system/functions", first)).status, 202);
          await h.advance(5_000);
          const sc = await h.call("POST", `/system/scale-function/${first.service}`, { replicas: scaled });
          assert.equal(sc.status, 202, sc.text);
          const r = await h.call("PUT", "/system/functions", update);
          assert.equal(r.status, 202, r.text);
          const s = await getStatus(h, update.service);
          assertStatusMatches(s, update, defaultNs, { uid: true });
          assert.equal(s.replicas, minReplicas(update.labels) ?? scaled);
          await h.advance(30_000);
          const later = await getStatus(h, update.service);
          assertStatusMatches(later, update, defaultNs, { uid: s.labels!.uid });
          assert.equal(later.replicas, s.replicas);
        });
      },
    ),
    { numRuns: runs(20) },
  );
});

Deno.test({
  name: "property: annotation keys with an uppercase prefix (valid in Kubernetes) deploy and round-trip",
  fn: async () => {
    await fc.assert(
      fc.asyncProperty(
        deploymentArb({
          annotationKey: fc.tuple(dnsSubdomain, namePart).map(([p, n]) => `${p.toUpperCase()}/${n}`),
        }).filter((r) => Object.keys(r.annotations ?? {}).some((k) => k !== k.toLowerCase())),
        async (req) => {
          await withProvider(async (h) => {
            await createSecrets(h);
            const r = await h.call("POST", "/system/functions", req);
            assert.equal(r.status, 202, r.text);
            assertStatusMatches(await getStatus(h, req.service), req, defaultNs);
          });
        },
      ),
      { numRuns: runs(10) },
    );
  },
});
