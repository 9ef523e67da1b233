/**
 * Function requests for property tests: arbitraries of valid FunctionDeployments (and their pieces),
 * and what a function's status must then say about the request.
 */
import assert from "node:assert/strict";
import fc from "./fc.ts";
import type { FunctionDeployment, FunctionStatus } from "../../src/domain/types.ts";
import { canonicalQuantity, compareQuantity, kubernetesQuantityString } from "../../src/domain/quantity.ts";
import { parseConstraint } from "../../src/domain/validation.ts";
import { type Harness, testConfig } from "./harness.ts";

export const cfg = testConfig();
export const defaultNs = cfg.functionNamespace;
export const scaleMin = "com.openfaas.scale.min";

// ---------------------------------------------------------------------------
// Arbitraries of valid pieces
// ---------------------------------------------------------------------------

/** fc.dictionary builds null-prototype objects; requests decoded from JSON have Object's. */
const plain = <T>(o: Record<string, T>): Record<string, T> => ({ ...o });

const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";

/** DNS-1123 labels, mostly short, sometimes exactly 63 characters. */
export const dnsLabel: fc.Arbitrary<string> = fc.oneof(
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
export const namePart: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^([A-Za-z0-9][-A-Za-z0-9_.]{0,10})?[A-Za-z0-9]$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/) },
);
export const dnsSubdomain = fc.array(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?$/), {
  minLength: 1,
  maxLength: 3,
}).map((parts) => parts.join("."));
const qualifiedKey: fc.Arbitrary<string> = fc.tuple(
  fc.option(dnsSubdomain, { nil: undefined }),
  namePart,
)
  .map(([prefix, name]) => (prefix === undefined ? name : `${prefix}/${name}`));

const reservedLabelKeys = new Set(["faas_function", "uid", "pod-template-hash", scaleMin]);
/** Random keys stay clear of the provider's own labels and of the validated scaling labels. */
export const labelKey = qualifiedKey.filter((k) =>
  !reservedLabelKeys.has(k) && !k.startsWith("com.openfaas.scale.")
);
export const labelValue: fc.Arbitrary<string> = fc.oneof({ weight: 1, arbitrary: fc.constant("") }, {
  weight: 6,
  arbitrary: namePart,
});

/** `com.openfaas.scale.min`: positive integers, and zero (which faas-netes ignores). */
export const validScaleMin = fc.oneof(
  fc.integer({ min: 1, max: 10 }).map(String),
  fc.constantFrom("07", "1"),
);
const anyScaleMin = fc.oneof(validScaleMin, fc.constantFrom("0", "00"));

export const labelsArb = (scaleMinValue: fc.Arbitrary<string>): fc.Arbitrary<Record<string, string>> =>
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
export const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("", " ", "true", "false", '{"a":1}', "line\nbreak"),
);
const annotationsArb = (key: fc.Arbitrary<string> = annotationKey) =>
  fc.dictionary(key, anyString, { maxKeys: 4 }).map(plain);
/** Annotation keys the simulator accepts too (see the ignored test on uppercase prefixes). */
export const lowercaseAnnotationKey = annotationKey.filter((k) => k === k.toLowerCase());

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

export const secretPool = ["api-key", "db-password", "token"];

export interface Gen {
  readonly labelScaleMin?: fc.Arbitrary<string>;
  readonly secrets?: fc.Arbitrary<string[]>;
  readonly name?: fc.Arbitrary<string>;
  readonly annotationKey?: fc.Arbitrary<string>;
}

/** A valid FunctionDeployment; fields are left out at random. */
export const deploymentArb = (gen: Gen = {}): fc.Arbitrary<FunctionDeployment> =>
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
export const minReplicas = (labels: Record<string, string> | null | undefined): number | undefined => {
  const raw = labels?.[scaleMin];
  if (raw === undefined || !/^[+-]?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 ? n : undefined;
};

export const expectedReplicas = (labels: Record<string, string> | null | undefined) =>
  minReplicas(labels) ?? 1;

/**
 * Every field of the status that comes from the request (not replicas). Labels and annotations are
 * exactly the request's plus what the provider adds (src/provider/translate.ts): the `faas_function`
 * label, `prometheus.io.scrape: "false"` unless the request sets it, and after an update the `uid`
 * label that forces a rollout (`uid`: its expected value, or `true` for any non-empty value).
 */
export const assertStatusMatches = (
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

export const createSecrets = async (h: Harness) => {
  for (const name of secretPool) {
    const r = await h.call("POST", "/system/secrets", { name, value: `value-of-${name}` });
    assert.equal(r.status, 202, r.text);
  }
};

export const getStatus = async (h: Harness, name: string): Promise<FunctionStatus> => {
  const r = await h.call("GET", `/system/function/${name}`);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text);
};
