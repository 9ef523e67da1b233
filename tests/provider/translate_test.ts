/**
 * Property tests for the function API: the pure FunctionDeployment <->
 * Deployment mapping, the same round trip through HTTP on the simulator,
 * rejection of invalid input without touching the cluster, and a model-based
 * test of deploy / update / scale / delete / time interleavings.
 */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { FunctionDeployment, FunctionStatus } from "../../src/domain/types.ts";
import { validateFunctionDeployment } from "../../src/domain/function.ts";
import {
  canonicalQuantity,
  compareQuantity,
  isDnsLabel,
  kubernetesQuantityString,
  parseConstraint,
} from "../../src/domain/validation.ts";
import { applyUpdate, type SecretRef, toFunctionStatus, toKubernetes } from "../../src/provider/translate.ts";
import { type Harness, startProvider, testConfig, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

const cfg = testConfig();
const defaultNs = cfg.functionNamespace;
const scaleMin = "com.openfaas.scale.min";

// ---------------------------------------------------------------------------
// Arbitraries of valid pieces
// ---------------------------------------------------------------------------

/** fc.dictionary builds null-prototype objects; requests decoded from JSON have Object's. */
const plain = <T>(o: Record<string, T>): Record<string, T> => ({ ...o });

const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";

/** DNS-1123 labels, mostly short, sometimes exactly 63 characters. */
const dnsLabel: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/) },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom(...lowerAlnum),
      fc.string({ unit: fc.constantFrom(...lowerAlnum, "-"), minLength: 61, maxLength: 61 }),
      fc.constantFrom(...lowerAlnum),
    ).map(([a, b, c]) => a + b + c),
  },
);

const imageTag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
const imageRef: fc.Arbitrary<string> = fc.oneof(
  imageTag.map((t) => `functions/alpine:${t}`),
  fc.tuple(
    fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z0-9]{1,5})?$/),
    fc.stringMatching(/^[a-z0-9]{1,8}([._-][a-z0-9]{1,5})?$/),
    imageTag,
  ).map(([org, name, tag]) => `ghcr.io/${org}/${name}:${tag}`),
);

/** A label/annotation name part: `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63 characters. */
const namePart: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^([A-Za-z0-9][-A-Za-z0-9_.]{0,10})?[A-Za-z0-9]$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/) },
);
const dnsSubdomain = fc.array(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?$/), {
  minLength: 1,
  maxLength: 3,
}).map((parts) => parts.join("."));
const qualifiedKey: fc.Arbitrary<string> = fc.tuple(fc.option(dnsSubdomain, { nil: undefined }), namePart)
  .map(([prefix, name]) => (prefix === undefined ? name : `${prefix}/${name}`));

const reservedLabelKeys = new Set(["faas_function", "uid", "pod-template-hash", scaleMin]);
/** Random keys stay clear of the provider's own labels and of the validated scaling labels. */
const labelKey = qualifiedKey.filter((k) =>
  !reservedLabelKeys.has(k) && !k.startsWith("com.openfaas.scale.")
);
const labelValue: fc.Arbitrary<string> = fc.oneof({ weight: 1, arbitrary: fc.constant("") }, {
  weight: 6,
  arbitrary: namePart,
});

/** `com.openfaas.scale.min`: positive integers, and zero (which faas-netes ignores). */
const validScaleMin = fc.oneof(fc.integer({ min: 1, max: 10 }).map(String), fc.constantFrom("07", "1"));
const anyScaleMin = fc.oneof(validScaleMin, fc.constantFrom("0", "00"));

const labelsArb = (scaleMinValue: fc.Arbitrary<string>): fc.Arbitrary<Record<string, string>> =>
  fc.tuple(
    fc.dictionary(labelKey, labelValue, { maxKeys: 4 }).map(plain),
    fc.option(scaleMinValue, { nil: undefined }),
  ).map(([labels, min]) => (min === undefined ? labels : { ...labels, [scaleMin]: min }));

/** Annotation keys: the label key rule on the lowercased key, so an uppercase prefix is fine. */
const annotationKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: qualifiedKey },
  {
    weight: 1,
    arbitrary: fc.tuple(dnsSubdomain, namePart).map(([p, n]) => `${p.toUpperCase()}/${n}`),
  },
  // Keys with a meaning to the provider or its users, stored as given (probe annotations have their own tests).
  { weight: 1, arbitrary: fc.constantFrom("prometheus.io.scrape", "topic") },
);
const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("", " ", "true", "false", '{"a":1}', "line\nbreak"),
);
const annotationsArb = (key: fc.Arbitrary<string> = annotationKey) =>
  fc.dictionary(key, anyString, { maxKeys: 4 }).map(plain);
/** Annotation keys the simulator accepts too (see the ignored test on uppercase prefixes). */
const lowercaseAnnotationKey = annotationKey.filter((k) => k === k.toLowerCase());

const envName = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom("write_timeout", "read_timeout", "PATH") },
).filter((n) => n !== "fprocess");
const envValue = fc.oneof(
  { weight: 4, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom("10s", "1m30s", "5", "-5s", "abc", "0") },
);
const envVarsArb = fc.dictionary(envName, envValue, { maxKeys: 4 }).map(plain);

/** Constraints with distinct keys, in the accepted spellings. */
const constraintsArb: fc.Arbitrary<string[]> = fc.uniqueArray(fc.tuple(qualifiedKey, labelValue), {
  maxLength: 3,
  selector: ([k]) => k,
}).chain((kvs) =>
  fc.tuple(
    ...kvs.map(([k, v]) => fc.constantFrom(`${k}=${v}`, `${k} == ${v}`, ` ${k} = ${v} `, `${k}==${v}`)),
  )
);

const suffixed = (n: fc.Arbitrary<string>, suffixes: string[]) =>
  fc.tuple(n, fc.constantFrom(...suffixes)).map(([a, s]) => a + s);
const digits = fc.integer({ min: 0, max: 4096 }).map(String);
const decimal = fc.tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 999 }))
  .map(([a, b]) => `${a}.${b}`);
const memoryQuantity: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: digits.map((n) => `${n}Mi`) },
  { weight: 2, arbitrary: suffixed(fc.oneof(digits, decimal), ["", "k", "M", "G", "Ki", "Mi", "Gi"]) },
  { weight: 1, arbitrary: fc.constantFrom("1e3", "5E6", "128974848", "129e6", "123Mi", "1.5Gi", "0") },
);
const cpuQuantity: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: digits.map((n) => `${n}m`) },
  { weight: 2, arbitrary: suffixed(fc.oneof(digits, decimal), ["", "m"]) },
  { weight: 1, arbitrary: fc.constantFrom("0.5", "0.05", "1.500", "100u", "2", "0") },
);

/** Optional request and limit for one resource, with request <= limit when both are given. */
const pairOf = (q: fc.Arbitrary<string>) =>
  fc.tuple(fc.option(q, { nil: undefined }), fc.option(q, { nil: undefined })).map(([a, b]) =>
    a !== undefined && b !== undefined && compareQuantity(a, b) > 0 ? [b, a] : [a, b]
  );

const resourcesArb = fc.tuple(
  pairOf(memoryQuantity),
  pairOf(cpuQuantity),
  fc.option(fc.integer({ min: 0, max: 4 }).map(String), { nil: undefined }),
  fc.boolean(),
).map(([[reqMem, limMem], [reqCpu, limCpu], gpu, emptyObjects]) => {
  const pick = (o: Record<string, string | undefined>) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
    return out;
  };
  const requests = pick({ memory: reqMem, cpu: reqCpu });
  const limits = pick({ memory: limMem, cpu: limCpu, "nvidia.com/gpu": gpu });
  return {
    requests: Object.keys(requests).length > 0 || emptyObjects ? requests : undefined,
    limits: Object.keys(limits).length > 0 || emptyObjects ? limits : undefined,
  };
});

const secretPool = ["api-key", "db-password", "token"];

interface Gen {
  readonly labelScaleMin?: fc.Arbitrary<string>;
  readonly secrets?: fc.Arbitrary<string[]>;
  readonly name?: fc.Arbitrary<string>;
  readonly annotationKey?: fc.Arbitrary<string>;
}

/** A valid FunctionDeployment; fields are left out at random. */
const deploymentArb = (gen: Gen = {}): fc.Arbitrary<FunctionDeployment> =>
  fc.record({
    service: gen.name ?? dnsLabel,
    image: imageRef,
    namespace: fc.constantFrom(defaultNs, ""),
    envProcess: fc.oneof(fc.constantFrom("env", "cat", "sha512sum", "", "python3 index.py"), anyString),
    envVars: envVarsArb,
    constraints: constraintsArb,
    secrets: gen.secrets ?? fc.subarray(secretPool),
    labels: labelsArb(gen.labelScaleMin ?? anyScaleMin),
    annotations: annotationsArb(gen.annotationKey),
    resources: resourcesArb,
    readOnlyRootFilesystem: fc.boolean(),
  }, {
    requiredKeys: ["service", "image"],
  }).map(({ resources, ...r }) => {
    const out: Record<string, unknown> = { ...r };
    if (resources?.requests) out.requests = resources.requests;
    if (resources?.limits) out.limits = resources.limits;
    return out as FunctionDeployment;
  });

// ---------------------------------------------------------------------------
// What a status must say about a request
// ---------------------------------------------------------------------------

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The request's constraints as `k=v` sorted by key (the last one wins for a repeated key). */
const expectedConstraints = (req: FunctionDeployment): string[] | undefined => {
  const m = new Map<string, string>();
  for (const c of req.constraints ?? []) {
    const kv = parseConstraint(c);
    assert.ok(kv, `generated constraint ${JSON.stringify(c)} parses`);
    m.set(kv[0], kv[1]);
  }
  const out = [...m.entries()].sort(([a], [b]) => byCodeUnit(a, b)).map(([k, v]) => `${k}=${v}`);
  return out.length > 0 ? out : undefined;
};

/**
 * The status reports the canonical form of what the API server stored, and it stores Kubernetes'
 * `String()` of the request's quantity. The suffix family is not kept in the string: `62.5Ki` is
 * stored as `64000`, which reads back as `64k`.
 */
const expectedResources = (r: FunctionDeployment["limits"]): Record<string, string> | undefined => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r ?? {})) {
    if (typeof v === "string" && v !== "") out[k] = canonicalQuantity(kubernetesQuantityString(v)!)!;
  }
  return Object.keys(out).length > 0 ? out : undefined;
};

/** faas-netes' getMinReplicaCount: a positive integer (strconv.Atoi), else none. */
const minReplicas = (labels: Record<string, string> | null | undefined): number | undefined => {
  const raw = labels?.[scaleMin];
  if (raw === undefined || !/^[+-]?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 ? n : undefined;
};

const expectedReplicas = (labels: Record<string, string> | null | undefined) => minReplicas(labels) ?? 1;

/**
 * Every field of the status that comes from the request (not replicas). Labels and annotations are
 * exactly the request's plus what the provider adds (src/provider/translate.ts): the `faas_function`
 * label, `prometheus.io.scrape: "false"` unless the request sets it, and after an update the `uid`
 * label that forces a rollout (`uid`: its expected value, or `true` for any non-empty value).
 */
const assertStatusMatches = (
  s: FunctionStatus,
  req: FunctionDeployment,
  ns: string,
  updated: { uid: string | true } | undefined = undefined,
) => {
  assert.equal(s.name, req.service);
  assert.equal(s.image, req.image);
  assert.equal(s.namespace, ns);
  assert.equal(s.envProcess, req.envProcess || undefined);
  const env = req.envVars ?? {};
  assert.deepEqual(s.envVars, Object.keys(env).length > 0 ? env : undefined);
  assert.deepEqual(s.constraints, expectedConstraints(req));
  const secrets = [...(req.secrets ?? [])].sort();
  assert.deepEqual(s.secrets, secrets.length > 0 ? secrets : undefined);
  assert.ok(s.labels, "labels are present");
  const uid = updated === undefined ? undefined : updated.uid === true ? s.labels.uid : updated.uid;
  if (updated !== undefined) assert.ok(typeof uid === "string" && uid !== "", "an update sets a uid label");
  assert.deepEqual(
    { ...s.labels },
    { ...req.labels, ...(uid === undefined ? {} : { uid }), faas_function: req.service },
    "labels: the request's plus faas_function (and uid after an update)",
  );
  assert.ok(s.annotations, "annotations are present");
  assert.deepEqual(
    { ...s.annotations },
    { "prometheus.io.scrape": "false", ...req.annotations },
    "annotations: the request's plus prometheus.io.scrape=false unless given",
  );
  assert.deepEqual(s.limits, expectedResources(req.limits));
  assert.deepEqual(s.requests, expectedResources(req.requests));
  assert.equal(s.readOnlyRootFilesystem, req.readOnlyRootFilesystem === true ? true : undefined);
};

const secretRefsArb = (names: readonly string[]) =>
  fc.tuple(
    ...names.map((name) =>
      fc.record({
        name: fc.constant(name),
        type: fc.constantFrom("Opaque", "kubernetes.io/dockerconfigjson", undefined),
        keys: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9._-]{0,8}$/), { maxLength: 3 }),
      })
    ),
  ) as fc.Arbitrary<SecretRef[]>;

/** A request with generated secret names and matching SecretRefs (some of them pull secrets). */
const withSecretRefs = (gen: Gen = {}) =>
  deploymentArb({ ...gen, secrets: fc.uniqueArray(dnsLabel, { maxLength: 3 }) }).chain((req) =>
    secretRefsArb(req.secrets ?? []).map((refs) => ({ req, refs }))
  );

/** The deployment as the API server would hand it back: with a creation time and a status. */
const stored = (d: Deployment, available: number): Deployment => ({
  ...structuredClone(d),
  metadata: { ...d.metadata, creationTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "7" },
  status: { replicas: d.spec?.replicas, availableReplicas: available },
});

// ---------------------------------------------------------------------------
// 1. Pure translation
// ---------------------------------------------------------------------------

Deno.test("property: toFunctionStatus(toKubernetes(req)) round-trips the request", () => {
  fc.assert(
    fc.property(withSecretRefs(), dnsLabel, fc.nat(5), ({ req, refs }, ns, available) => {
      assert.equal(validateFunctionDeployment(req), undefined, "the generated request is valid");
      const { deployment, service } = toKubernetes(req, ns, refs, cfg);
      const s = toFunctionStatus(stored(deployment, available));
      assertStatusMatches(s, req, ns);
      assert.equal(s.replicas, expectedReplicas(req.labels));
      assert.equal(s.availableReplicas, available);
      assert.equal(s.createdAt, "2026-01-01T00:00:00Z");
      assert.equal(s.invocationCount, 0);
      // The Service selects exactly the function's pods.
      assert.deepEqual(service.spec?.selector, { faas_function: req.service });
      assert.equal(deployment.spec?.template.metadata?.labels?.faas_function, req.service);
    }),
    { numRuns: runs(150) },
  );
});

Deno.test("property: applyUpdate gives the status of the update and keeps replicas unless scale.min is set", () => {
  fc.assert(
    fc.property(
      withSecretRefs(),
      // Updates with scale.min absent or a positive integer (invalid values: next test).
      withSecretRefs({ labelScaleMin: validScaleMin }),
      fc.integer({ min: 0, max: 20 }),
      fc.bigInt({ min: 0n, max: 10n ** 18n }),
      ({ req: first, refs: firstRefs }, { req: second, refs }, scaled, rollout) => {
        const update = { ...second, service: first.service };
        const existing = toKubernetes(first, defaultNs, firstRefs, cfg).deployment;
        existing.spec!.replicas = scaled;
        const updated = applyUpdate(stored(existing, 0), update, refs, cfg, String(rollout));
        const s = toFunctionStatus(updated);
        assertStatusMatches(s, update, defaultNs, { uid: String(rollout) });
        assert.equal(s.replicas, minReplicas(update.labels) ?? scaled);
        assert.equal(s.createdAt, "2026-01-01T00:00:00Z", "metadata of the existing object is kept");
        assert.equal(updated.metadata?.resourceVersion, "7", "optimistic concurrency is preserved");
        assert.equal(updated.spec?.template.metadata?.labels?.uid, String(rollout), "a rollout is forced");
        // Nothing of the first request leaks into the update (labels, annotations, env).
        for (const k of Object.keys(first.labels ?? {})) {
          if (!(k in (update.labels ?? {}))) assert.equal(s.labels?.[k], undefined, `stale label ${k}`);
        }
        for (const k of Object.keys(first.annotations ?? {})) {
          if (!(k in (update.annotations ?? {})) && k !== "prometheus.io.scrape") {
            assert.equal(s.annotations?.[k], undefined, `stale annotation ${k}`);
          }
        }
      },
    ),
    { numRuns: runs(100) },
  );
});

Deno.test({
  name:
    "property: applyUpdate keeps replicas when scale.min is not a positive integer (faas-netes getMinReplicaCount)",
  fn: () => {
    fc.assert(
      fc.property(
        deploymentArb(),
        fc.constantFrom("0", "00"),
        fc.integer({ min: 0, max: 20 }),
        (req, min, scaled) => {
          const existing = toKubernetes(req, defaultNs, [], cfg).deployment;
          existing.spec!.replicas = scaled;
          const update = { ...req, secrets: [], labels: { ...req.labels, [scaleMin]: min } };
          const s = toFunctionStatus(applyUpdate(existing, update, [], cfg, "1"));
          assert.equal(s.replicas, scaled);
        },
      ),
      { numRuns: runs(50) },
    );
  },
});

Deno.test("property: toKubernetes builds objects a real API server accepts", () => {
  fc.assert(
    fc.property(withSecretRefs(), ({ req, refs }) => {
      const { deployment, service } = toKubernetes(req, defaultNs, refs, cfg);
      const pod = deployment.spec!.template.spec!;
      for (const c of pod.containers) assert.ok(isDnsLabel(c.name), `container name ${c.name}`);
      const grace = pod.terminationGracePeriodSeconds;
      assert.ok(Number.isSafeInteger(grace) && grace! >= 0, `terminationGracePeriodSeconds ${grace}`);
      const replicas = deployment.spec!.replicas!;
      assert.ok(Number.isInteger(replicas) && replicas >= 0 && replicas < 2 ** 31, `replicas ${replicas}`);
      assert.equal(service.metadata?.name, req.service);
      const names = pod.containers[0].env!.map((e) => e.name);
      assert.equal(new Set(names).size, names.length, "env names are unique");
      const volumes = (pod.volumes ?? []).map((v) => v.name);
      assert.equal(new Set(volumes).size, volumes.length, "volume names are unique");
      for (const m of pod.containers[0].volumeMounts ?? []) assert.ok(volumes.includes(m.name), m.name);
    }),
    { numRuns: runs(150) },
  );
});

Deno.test({
  name: "property: write_timeout gives a non-negative integer terminationGracePeriodSeconds",
  fn: () => {
    const duration = fc.tuple(
      fc.constantFrom("", "-", "+"),
      fc.integer({ min: 0, max: 600 }),
      fc.constantFrom("s", "ms", "m", "h", "", ".5s", "us", "h1m"),
    )
      .map(([sign, n, unit]) => `${sign}${n}${unit}`);
    fc.assert(
      fc.property(deploymentArb(), duration, (req, wt) => {
        const r = { ...req, envVars: { ...req.envVars, write_timeout: wt } };
        assert.equal(validateFunctionDeployment(r), undefined);
        const grace =
          toKubernetes(r, defaultNs, [], cfg).deployment.spec!.template.spec!.terminationGracePeriodSeconds;
        assert.ok(
          Number.isSafeInteger(grace) && grace! >= 0,
          `write_timeout ${wt}: terminationGracePeriodSeconds ${grace}`,
        );
      }),
      { numRuns: runs(200) },
    );
  },
});

Deno.test({
  name: "property: a scale.min label that passes validation gives replicas a real API server accepts",
  fn: () => {
    fc.assert(
      fc.property(
        deploymentArb(),
        fc.oneof(
          fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
          fc.constantFrom("2147483647", "2147483648"),
        ),
        (req, min) => {
          const r = { ...req, labels: { ...req.labels, [scaleMin]: min } };
          fc.pre(validateFunctionDeployment(r) === undefined);
          const replicas = toKubernetes(r, defaultNs, [], cfg).deployment.spec!.replicas!;
          assert.ok(
            Number.isInteger(replicas) && replicas >= 0 && replicas < 2 ** 31,
            `${min}: replicas ${replicas}`,
          );
        },
      ),
      { numRuns: runs(100) },
    );
  },
});

Deno.test({
  name: "property: volume names of valid requests are DNS-1123 labels",
  fn: () => {
    fc.assert(
      fc.property(
        withSecretRefs({ name: fc.stringMatching(/^[a-z]{40,63}$/) }).filter(({ req }) =>
          validateFunctionDeployment(req) === undefined
        ),
        ({ req, refs }) => {
          const pod = toKubernetes(req, defaultNs, refs, cfg).deployment.spec!.template.spec!;
          for (const v of pod.volumes ?? []) assert.ok(isDnsLabel(v.name), `volume name ${v.name}`);
        },
      ),
      { numRuns: runs(100) },
    );
  },
});

// ---------------------------------------------------------------------------
// 2. Through the HTTP API
// ---------------------------------------------------------------------------

const createSecrets = async (h: Harness) => {
  for (const name of secretPool) {
    const r = await h.call("POST", "/system/secrets", { name, value: `value-of-${name}` });
    assert.equal(r.status, 202, r.text);
  }
};

const getStatus = async (h: Harness, name: string): Promise<FunctionStatus> => {
  const r = await h.call("GET", `/system/function/${name}`);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text);
};

Deno.test("property: deploy then GET /system/function/{name} round-trips the request", async () => {
  await fc.assert(
    fc.asyncProperty(
      deploymentArb({ annotationKey: lowercaseAnnotationKey }),
      fc.integer({ min: 0, max: 20_000 }),
      async (req, wait) => {
        await withProvider(async (h) => {
          await createSecrets(h);
          const r = await h.call("POST", "/system/functions", req);
          assert.equal(r.status, 202, r.text);
          assertStatusMatches(await getStatus(h, req.service), req, defaultNs);
          await h.advance(wait);
          const s = await getStatus(h, req.service);
          assertStatusMatches(s, req, defaultNs);
          assert.equal(s.replicas, expectedReplicas(req.labels));
          assert.equal(s.createdAt, "2026-01-01T00:00:00Z");
          const list = JSON.parse((await h.call("GET", "/system/functions")).text) as FunctionStatus[];
          assert.deepEqual(list, [s]);
        });
      },
    ),
    { numRuns: runs(25) },
  );
});

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

// ---------------------------------------------------------------------------
// 3. Invalid input
// ---------------------------------------------------------------------------

/**
 * An invalid body, and (when it depends on the generated values) the field its message must name:
 * a regular expression source matched right after the invalidation's message prefix.
 */
type Body = ({ json: unknown } | { raw: string }) & { field?: string };

const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

const mutate = (f: (r: Record<string, unknown>) => string | void) => (req: FunctionDeployment): Body => {
  const copy = structuredClone(req) as Record<string, unknown>;
  const field = f(copy);
  return field === undefined ? { json: copy } : { json: copy, field };
};
const withField = <T>(field: string, arb: fc.Arbitrary<T>) =>
  arb.map((v) => mutate((r) => void (r[field] = v)));
const withEntry = <T>(field: string, arb: fc.Arbitrary<[string, T]>) =>
  arb.map(([k, v]) =>
    mutate((r) => {
      r[field] = { ...(r[field] as Record<string, unknown> | undefined ?? {}), [k]: v };
    })
  );

const badQuantity = fc.constantFrom("12XB", "-1Mi", "abc", "1.2.3", "Mi", "1 Gi", "--1", "1e", "0x10", ".");

/** What the provider must answer: the status, and the start of the message (naming the field). */
interface Expected {
  readonly status: 400 | 413;
  /** The message starts with this (the validation message names the field first). */
  readonly message: RegExp;
}
const field = (name: string): Expected => ({ status: 400, message: new RegExp(`^${name}\\b`) });
/** The field is only known per generated case: `Body.field`, with this message prefix. */
const perCase = (prefix = ""): Expected => ({ status: 400, message: new RegExp(`^${prefix}`) });

/** One way to break a valid request, the name of the way (for failure messages), and the answer. */
const invalidations: [string, Expected, fc.Arbitrary<(req: FunctionDeployment) => Body>][] = [
  [
    "uppercase name",
    field("service"),
    fc.tuple(fc.nat(), fc.constantFrom(..."ABCXYZ")).map(([i, c]) =>
      mutate((r) => {
        const s = r.service as string;
        const at = i % (s.length + 1);
        r.service = s.slice(0, at) + c + s.slice(at);
      })
    ),
  ],
  [
    "name too long",
    field("service"),
    fc.stringMatching(/^[a-z]{64,80}$/).map((s) => mutate((r) => void (r.service = s))),
  ],
  ["leading dash", field("service"), fc.constant(mutate((r) => void (r.service = `-${r.service}`)))],
  [
    "bad name characters",
    field("service"),
    fc.constantFrom("a_b", "a.b", "a b", "a/b", "trailing-", "", "ü").map((s) =>
      mutate((r) => void (r.service = s))
    ),
  ],
  [
    "bad image",
    field("image"),
    withField(
      "image",
      fc.constantFrom(
        "",
        "functions/alpine:",
        "functions/alpine:-bad",
        "Functions/Alpine:latest",
        "functions//alpine",
        "functions/alpine@sha256:abc",
        ":latest",
        "functions/alpine latest",
        `functions/alpine:${"x".repeat(200)}`,
        "functions/-alpine",
      ),
    ),
  ],
  [
    "bad quantity",
    perCase(),
    fc.tuple(
      fc.constantFrom("limits", "requests"),
      fc.constantFrom("memory", "cpu", "nvidia.com/gpu"),
      badQuantity,
    )
      .map(([kind, res, q]) =>
        mutate((r) => {
          r[kind] = { ...(r[kind] as object | undefined ?? {}), [res]: q };
          return escapeRegExp(`${kind}.${res}: `);
        })
      ),
  ],
  [
    "request above limit",
    perCase(),
    fc.tuple(
      fc.constantFrom("memory", "cpu"),
      fc.integer({ min: 1, max: 4000 }),
      fc.integer({ min: 1, max: 100 }),
    )
      .map(([res, n, d]) => {
        const unit = res === "memory" ? "Mi" : "m";
        return mutate((r) => {
          r.limits = { ...(r.limits as object | undefined ?? {}), [res]: `${n}${unit}` };
          r.requests = { ...(r.requests as object | undefined ?? {}), [res]: `${n + d}${unit}` };
          return escapeRegExp(
            `requests.${res} (${n + d}${unit}) must be less than or equal to limits.${res} `,
          );
        });
      }),
  ],
  [
    "bad label key",
    field("labels"),
    withEntry(
      "labels",
      fc.tuple(
        fc.constantFrom(
          "-bad",
          "a/b/c",
          "UPPER.prefix/x",
          "x".repeat(64),
          "",
          "/x",
          "x/",
          "a b",
          "pod-template-hash",
        ),
        labelValue,
      ),
    ),
  ],
  [
    "bad scaling label",
    perCase("labels"),
    fc.constantFrom<[string, string]>(
      [scaleMin, "x"],
      [scaleMin, "1.5"],
      [scaleMin, ""],
      [scaleMin, "-1"],
      ["com.openfaas.scale.max", "0"],
      ["com.openfaas.scale.zero", "yes"],
    ).map(([k, v]) =>
      mutate((r) => {
        r.labels = { ...(r.labels as object | undefined), [k]: v };
        // "-1" is not even a label value (`labels["...min"]: `); a max of 0 below a generated
        // scale.min is reported on the pair, naming scale.min first.
        return v === "-1"
          ? escapeRegExp(`[${JSON.stringify(k)}]: `)
          : k === "com.openfaas.scale.max"
          ? ": com\\.openfaas\\.scale\\.(min|max) "
          : escapeRegExp(`: ${k}: `);
      })
    ),
  ],
  [
    "bad label value",
    perCase(),
    fc.tuple(labelKey, fc.constantFrom("-v", "x".repeat(64), "a b", "v-", "ü", "a/b")).map(([k, v]) =>
      mutate((r) => {
        r.labels = { ...(r.labels as object | undefined ?? {}), [k]: v };
        return escapeRegExp(`labels[${JSON.stringify(k)}]: `);
      })
    ),
  ],
  [
    "bad annotation key",
    field("annotations"),
    withEntry(
      "annotations",
      fc.tuple(fc.constantFrom("-bad", "a/b/c", "", "x".repeat(64), "a b"), anyString),
    ),
  ],
  [
    "bad env var name",
    field("envVars"),
    withEntry("envVars", fc.tuple(fc.constantFrom("1abc", "a b", "", "a=b", "ü", "a/b"), anyString)),
  ],
  [
    "bad constraint",
    field("constraints"),
    fc.constantFrom("novalue", "=v", "k=v=w", "bad key=v", "k=-v", "k==v==w", "", "  ").map((c) =>
      mutate((r) => void (r.constraints = [...(r.constraints as string[] | undefined ?? []), c]))
    ),
  ],
  [
    "unknown secret",
    perCase(),
    fc.constantFrom("missing-secret", "Bad_Secret", "x".repeat(64)).map((s) =>
      mutate((r) => {
        const secrets = [...(r.secrets as string[] | undefined ?? []), s];
        r.secrets = secrets;
        return s === "missing-secret"
          ? `secrets: secret "missing-secret" not found`
          : `secrets\\[${secrets.length - 1}\\]: `;
      })
    ),
  ],
  [
    "repeated secret",
    perCase(),
    fc.constantFrom(...secretPool).map((s) =>
      mutate((r) => {
        r.secrets = [...(r.secrets as string[] | undefined ?? []), s, s];
        return escapeRegExp(`secrets: "${s}" is listed twice`);
      })
    ),
  ],
  [
    "faas_function label that is not the name",
    field("labels"),
    fc.constant(
      mutate((r) => void (r.labels = { ...(r.labels as object), faas_function: `${r.service}x` })),
    ),
  ],
  [
    "wrong JSON type",
    perCase("invalid request body: "),
    fc.constantFrom<[string, unknown]>(
      ["service", 1],
      ["service", { name: "a" }],
      ["image", false],
      ["image", ["functions/alpine:latest"]],
      ["envProcess", 3],
      ["envVars", "A=1"],
      ["envVars", { A: 1 }],
      ["labels", ["a=b"]],
      ["labels", { a: true }],
      ["annotations", { a: 1 }],
      ["constraints", "a=b"],
      ["constraints", [1]],
      ["secrets", { a: "b" }],
      ["limits", { memory: 5 }],
      ["requests", "100m"],
      ["readOnlyRootFilesystem", "yes"],
      ["readOnlyRootFilesystem", 1],
      ["namespace", 7],
    ).map(([k, v]) =>
      mutate((r) => {
        r[k] = v;
        return `${k}\\b`;
      })
    ),
  ],
  [
    // Go's zero value: an absent (or null) string is "", which the validation reports as required.
    "missing service or image",
    perCase(),
    fc.tuple(fc.constantFrom("service", "image"), fc.boolean()).map(([k, asNull]) =>
      mutate((r) => {
        if (asNull) r[k] = null;
        else delete r[k];
        return escapeRegExp(`${k}: is required`);
      })
    ),
  ],
  [
    "bad namespace",
    field("namespace"),
    fc.constantFrom("Bad_NS", "-ns", "x".repeat(64)).map((ns) => mutate((r) => void (r.namespace = ns))),
  ],
  [
    "non-object body",
    { status: 400, message: /^request body must be a JSON object$/m },
    fc.constantFrom<unknown>([], [{ service: "a" }], 1, "a string", null, true).map((v) => () => ({
      json: v,
    })),
  ],
  [
    "malformed JSON",
    { status: 400, message: /^invalid request body: malformed JSON: / },
    fc.nat().map((n) => (req: FunctionDeployment) => {
      const text = JSON.stringify(req);
      const cut = 1 + (n % (text.length - 1)); // a strict non-empty prefix is never valid JSON
      return { raw: text.slice(0, cut) };
    }),
  ],
  [
    "malformed JSON text",
    { status: 400, message: /^invalid request body: malformed JSON: / },
    fc.constantFrom("{", "{'service':'a'}", "{service: a}", "", "  ", "nul", '{"service":"a",}').map(
      (t) => () => ({
        raw: t,
      }),
    ),
  ],
  [
    "annotations over 256KiB",
    {
      status: 400,
      message: /^annotations: total size of keys and values \(\d+ bytes\) must not exceed 262144/,
    },
    fc.constant(mutate((r) => void (r.annotations = { big: "x".repeat(300 * 1024) }))),
  ],
  [
    "body over max_body_bytes",
    { status: 413, message: /^request body is larger than the limit of 1048576 bytes$/m },
    fc.constant(mutate((r) => void (r.annotations = { big: "x".repeat(1100 * 1024) }))),
  ],
];

/** The function every invalid update targets: it exists, so only validation can reject the update. */
const existing = "existing-fn";

const invalidRequestArb = fc.oneof(
  ...invalidations.map(([what, expected, arb]) =>
    fc.tuple(
      fc.constant(what),
      fc.constant(expected),
      arb,
      deploymentArb({ secrets: fc.subarray(secretPool) }),
    )
  ),
).map(([what, expected, f, req]) => ({
  what,
  expected,
  deploy: f(req),
  update: f({ ...req, service: existing }),
}));

/** Asserts the exact status, a plain-text message that names the field, and no change to the cluster. */
const assertRejected = (
  what: string,
  expected: Expected,
  body: Body,
  r: { status: number; text: string; headers: Headers },
) => {
  assert.equal(r.status, expected.status, `${what}: status ${r.status}: ${r.text}`);
  assert.match(r.headers.get("content-type") ?? "", /^text\/plain/, what);
  assert.match(r.text, expected.message, `${what}: ${r.text}`);
  if (body.field !== undefined) {
    const named = new RegExp(`^${expected.message.source.replace(/^\^/, "")}${body.field}`);
    assert.match(r.text, named, `${what}: ${r.text}`);
  }
};

Deno.test("property: invalid deploy and update requests get the exact 4xx, a message naming the field, and leave the cluster untouched", async () => {
  const h = await startProvider();
  try {
    await createSecrets(h);
    const created = await h.call("POST", "/system/functions", {
      service: existing,
      image: "functions/alpine:latest",
      labels: { keep: "me" },
    });
    assert.equal(created.status, 202, created.text);
    await h.advance(30_000);
    const existingBefore = JSON.stringify(h.cluster.store.peek(Kinds.Deployment, defaultNs, existing));
    await fc.assert(
      fc.asyncProperty(invalidRequestArb, async ({ what, expected, deploy, update }) => {
        const before = h.cluster.store.resourceVersion;
        const send = (method: string, body: Body) =>
          h.call(method, "/system/functions", "raw" in body ? body.raw : JSON.stringify(body.json), {
            "Content-Type": "application/json",
          });
        assertRejected(what, expected, deploy, await send("POST", deploy));
        assert.equal(h.cluster.store.resourceVersion, before, `${what}: resourceVersion unchanged`);
        assert.deepEqual(
          h.cluster.store.list(Kinds.Deployment).items.map((d) => d.metadata.name),
          [existing],
          `${what}: no new Deployment`,
        );
        assert.deepEqual(
          h.cluster.store.list(Kinds.Service).items.map((d) => d.metadata.name),
          [existing],
          `${what}: no new Service`,
        );
        // The same invalidation on an update of a function that exists: rejected by validation, not 404.
        assertRejected(`${what} (update)`, expected, update, await send("PUT", update));
        assert.equal(h.cluster.store.resourceVersion, before, `${what}: resourceVersion unchanged by update`);
        assert.equal(
          JSON.stringify(h.cluster.store.peek(Kinds.Deployment, defaultNs, existing)),
          existingBefore,
          `${what}: the existing function is unchanged by the rejected update`,
        );
      }),
      { numRuns: runs(300) },
    );
  } finally {
    await h.close();
  }
});

// ---------------------------------------------------------------------------
// 4. Model-based: deploy / update / scale / delete / time
// ---------------------------------------------------------------------------

interface ModelFn {
  image: string;
  envProcess: string | undefined;
  labels: Record<string, string>;
  replicas: number;
}
type Model = { fns: Map<string, ModelFn>; log: string[] };

const modelNames = ["alpha", "beta", "gamma-1"];
const modelName = fc.constantFrom(...modelNames);
const modelSpec = fc.record({
  image: fc.constantFrom(
    "functions/alpine:latest",
    "functions/alpine:3.20",
    "ghcr.io/openfaas/alpine:latest",
    "sim/slow-start:1",
    "ghcr.io/acme/unknown:1",
  ),
  envProcess: fc.constantFrom("env", "cat", undefined),
  labels: labelsArb(validScaleMin),
});
type Spec = typeof modelSpec extends fc.Arbitrary<infer T> ? T : never;

const requestOf = (name: string, spec: Spec): FunctionDeployment => ({
  service: name,
  image: spec.image,
  ...(spec.envProcess === undefined ? {} : { envProcess: spec.envProcess }),
  labels: spec.labels,
});

/** The API answers exactly what the model holds: list, each status, and 404 for the others. */
const checkAgainstModel = async (m: Model, h: Harness) => {
  const where = `after ${m.log.join("; ")}`;
  const listed = await h.call("GET", "/system/functions");
  assert.equal(listed.status, 200, where);
  const list = JSON.parse(listed.text) as FunctionStatus[];
  const names = [...m.fns.keys()].sort();
  assert.deepEqual(list.map((f) => f.name), names, where);
  // Exactly one Service per function: none left behind by delete, none missing after deploy.
  const services = h.cluster.store.list(Kinds.Service, defaultNs).items.map((o) => o.metadata.name).sort();
  assert.deepEqual(services, names, `${where}: services`);
  for (const name of modelNames) {
    const r = await h.call("GET", `/system/function/${name}`);
    const want = m.fns.get(name);
    if (!want) {
      assert.equal(r.status, 404, `${where}: GET ${name}`);
      continue;
    }
    assert.equal(r.status, 200, `${where}: GET ${name}: ${r.text}`);
    const s = JSON.parse(r.text) as FunctionStatus;
    assert.equal(s.image, want.image, `${where}: ${name} image`);
    assert.equal(s.envProcess, want.envProcess, `${where}: ${name} envProcess`);
    for (const [k, v] of Object.entries(want.labels)) {
      assert.equal(s.labels?.[k], v, `${where}: ${name} ${k}`);
    }
    assert.equal(s.labels?.faas_function, name, where);
    assert.equal(s.replicas, want.replicas, `${where}: ${name} replicas`);
    assert.deepEqual(list.find((f) => f.name === name), s, `${where}: list and status agree on ${name}`);
  }
};

type Cmd = fc.AsyncCommand<Model, Harness>;

const expectStatus = (m: Model, what: string, got: { status: number; text: string }, want: number) => {
  m.log.push(`${what} -> ${got.status}`);
  assert.equal(got.status, want, `${m.log.join("; ")}: expected ${want}: ${got.text}`);
};

class Deploy implements Cmd {
  constructor(readonly name: string, readonly spec: Spec) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    const r = await h.call("POST", "/system/functions", requestOf(this.name, this.spec));
    const exists = m.fns.has(this.name);
    expectStatus(m, this.toString(), r, exists ? 409 : 202);
    if (!exists) {
      m.fns.set(this.name, {
        image: this.spec.image,
        envProcess: this.spec.envProcess,
        labels: this.spec.labels,
        replicas: expectedReplicas(this.spec.labels),
      });
    }
    await checkAgainstModel(m, h);
  }
  toString = () => `deploy ${this.name} ${JSON.stringify(this.spec)}`;
}

class Update implements Cmd {
  constructor(readonly name: string, readonly spec: Spec) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    const r = await h.call("PUT", "/system/functions", requestOf(this.name, this.spec));
    const current = m.fns.get(this.name);
    expectStatus(m, this.toString(), r, current ? 202 : 404);
    if (current) {
      m.fns.set(this.name, {
        image: this.spec.image,
        envProcess: this.spec.envProcess,
        labels: this.spec.labels,
        replicas: minReplicas(this.spec.labels) ?? current.replicas,
      });
    }
    await checkAgainstModel(m, h);
  }
  toString = () => `update ${this.name} ${JSON.stringify(this.spec)}`;
}

class Scale implements Cmd {
  constructor(readonly name: string, readonly replicas: number) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    const r = await h.call("POST", `/system/scale-function/${this.name}`, {
      serviceName: this.name,
      replicas: this.replicas,
    });
    const current = m.fns.get(this.name);
    expectStatus(m, this.toString(), r, current ? 202 : 404);
    if (current) current.replicas = this.replicas;
    await checkAgainstModel(m, h);
  }
  toString = () => `scale ${this.name} ${this.replicas}`;
}

class Delete implements Cmd {
  constructor(readonly name: string) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    const r = await h.call("DELETE", "/system/functions", { functionName: this.name });
    expectStatus(m, this.toString(), r, m.fns.has(this.name) ? 202 : 404);
    m.fns.delete(this.name);
    await checkAgainstModel(m, h);
  }
  toString = () => `delete ${this.name}`;
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    await h.advance(this.ms);
    m.log.push(this.toString());
    await checkAgainstModel(m, h);
  }
  toString = () => `advance ${this.ms}ms`;
}

const deployCmd = fc.tuple(modelName, modelSpec).map(([n, s]) => new Deploy(n, s));
const commandsArb = fc.commands<Model, Harness, false>([
  deployCmd,
  deployCmd,
  fc.tuple(modelName, modelSpec).map(([n, s]) => new Update(n, s)),
  fc.tuple(modelName, fc.integer({ min: 0, max: 10 })).map(([n, r]) => new Scale(n, r)),
  modelName.map((n) => new Delete(n)),
  fc.constantFrom(0, 500, 2_000, 10_000, 60_000).map((ms) => new Advance(ms)),
], { maxCommands: 30, size: "medium" });

Deno.test("property: any interleaving of deploy, update, scale, delete and time matches a model", async () => {
  await fc.assert(
    fc.asyncProperty(commandsArb, async (cmds) => {
      const h = await startProvider();
      try {
        await fc.asyncModelRun(() => ({ model: { fns: new Map(), log: [] } as Model, real: h }), cmds);
      } finally {
        await h.close();
      }
    }),
    { numRuns: runs(80) },
  );
});
