import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import {
  canonicalQuantity,
  compareQuantity,
  formatQuantity,
  kubernetesQuantityString,
  parseQuantity,
  quantityToNumber,
  validateRequestsWithinLimits,
  validateResourceQuantity,
  validateResources,
} from "../../src/domain/quantity.ts";
import {
  parseConstraint,
  TOTAL_ANNOTATION_SIZE_LIMIT_BYTES,
  validateAnnotationKey,
  validateAnnotations,
  validateAnnotationsSize,
  validateConstraint,
  validateDnsLabel,
  validateDnsSubdomain,
  validateEnvVarName,
  validateLabelKey,
  validateLabels,
  validateLabelValue,
  validateSecretName,
} from "../../src/domain/validation.ts";
import { parseImageRef, validateImageRef } from "../../src/domain/imageref.ts";
import {
  CONSTRAINT_MAX_LENGTH,
  ENV_ENTRY_MAX_BYTES,
  LABEL_KEY_MAX_LENGTH,
  MAX_REPLICAS,
  utf8Length,
  validateEnvVarValue,
  validateReplicas,
} from "../../src/domain/validation.ts";
import { IMAGE_REF_MAX_LENGTH } from "../../src/domain/imageref.ts";
import { QUANTITY_MAX_LENGTH } from "../../src/domain/quantity.ts";

const RUNS = { numRuns: runs(300) };

// ---------------------------------------------------------------------------
// DNS labels and subdomains
// ---------------------------------------------------------------------------

const VALID_LABELS = ["a", "0", "abc", "a-b", "a--b", "nodeinfo", "fn-1", "1fn", "a".repeat(63), "x9-y8-z7"];
const INVALID_LABELS = [
  "",
  "Foo_1",
  "Foo",
  "a_b",
  "-a",
  "a-",
  "a.b",
  "a b",
  "a".repeat(64),
  "é",
  "a/b",
  " a",
];

Deno.test("validateDnsLabel accepts valid RFC 1123 labels", () => {
  for (const value of VALID_LABELS) assert.equal(validateDnsLabel("service", value), undefined, value);
});

Deno.test("validateDnsLabel rejects invalid labels and names the field", () => {
  for (const value of INVALID_LABELS) {
    const message = validateDnsLabel("service", value);
    assert.ok(message !== undefined, `expected ${JSON.stringify(value)} to be rejected`);
    assert.ok(message.startsWith(`service: ${JSON.stringify(value)} is not a valid name`), message);
  }
  assert.equal(
    validateDnsLabel("service", "Foo_1"),
    `service: "Foo_1" is not a valid name: must be a lowercase RFC 1123 label (a-z, 0-9, '-', start and end alphanumeric, at most 63 characters)`,
  );
});

const labelArb = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);

Deno.test("property: generated DNS labels pass, and fail once an uppercase letter is inserted", () => {
  fc.assert(
    fc.property(labelArb, fc.nat(), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"), (label, at, upper) => {
      assert.equal(validateDnsLabel("f", label), undefined);
      const i = at % (label.length + 1);
      const withUpper = label.slice(0, i) + upper + label.slice(i);
      assert.notEqual(validateDnsLabel("f", withUpper), undefined);
      assert.notEqual(validateSecretName("f", withUpper), undefined);
    }),
    RUNS,
  );
});

Deno.test("property: any string containing an uppercase letter is not a DNS label", () => {
  fc.assert(
    fc.property(fc.string(), fc.constantFrom(..."ABCXYZ"), fc.string(), (a, upper, b) => {
      assert.notEqual(validateDnsLabel("f", a + upper + b), undefined);
    }),
    RUNS,
  );
});

Deno.test("property: labels longer than 63 characters fail", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9]{64,100}$/), (label) => {
      assert.notEqual(validateDnsLabel("f", label), undefined);
    }),
    RUNS,
  );
});

Deno.test("validateDnsSubdomain", () => {
  for (const value of ["a", "a.b", "example.com", "my-svc.openfaas-fn.svc", "a".repeat(63) + ".b"]) {
    assert.equal(validateDnsSubdomain("name", value), undefined, value);
  }
  const long = Array.from({ length: 4 }, () => "a".repeat(63)).join("."); // 255 chars
  for (const value of ["", "A.b", "a..b", ".a", "a.", "a_b.c", "-a.b", "a.-b", long]) {
    const message = validateDnsSubdomain("name", value);
    assert.ok(message?.startsWith(`name: ${JSON.stringify(value)} is not a valid name`), value);
  }
  assert.equal(validateDnsSubdomain("name", long.slice(0, 253)), undefined);
});

Deno.test("validateSecretName uses the DNS label rule (no dots, at most 63 chars)", () => {
  assert.equal(validateSecretName("secret", "db-password"), undefined);
  assert.ok(validateSecretName("secret", "db.password")?.startsWith(`secret: "db.password"`));
  assert.notEqual(validateSecretName("secret", "a".repeat(64)), undefined);
  assert.notEqual(validateSecretName("secret", "Password"), undefined);
  assert.notEqual(validateSecretName("secret", ""), undefined);
});

// ---------------------------------------------------------------------------
// Image references
// ---------------------------------------------------------------------------

const HEX64 = "0123456789abcdef".repeat(4);

const VALID_IMAGES = [
  "functions/alpine:latest",
  "ghcr.io/openfaas/alpine:latest",
  "alpine",
  "localhost:5000/fn",
  "localhost/fn",
  "registry.example.com:443/a/b/c:v1.2",
  `alpine@sha256:${HEX64}`,
  `a/b:t@sha256:${HEX64}`,
  "a.b",
  "a__b/c_d/e-f/g---h/i.j",
  "localhost:5000",
  "docker.io/library/nginx:1.25.3-alpine",
  "[::1]:5000/fn:dev",
  "Registry.Example.COM/fn",
  "Foo/bar",
  "alpine:" + "t".repeat(128),
  `a@sha512:${"a".repeat(128)}`,
  `a@multihash+base58:${"a".repeat(32)}`,
];

const INVALID_IMAGES = [
  "",
  "Alpine",
  "alpine:",
  ":latest",
  "a//b",
  "a b",
  "-a",
  "alpine:lat est",
  "http://x/y",
  "a/",
  "/a",
  "a/B",
  "a-/b",
  "a..b",
  "a___b",
  "alpine:-tag",
  "alpine:" + "t".repeat(129),
  "alpine@sha256:abc",
  `alpine@sha256:${HEX64.toUpperCase()}`,
  `alpine@sha256:${HEX64}0`,
  `alpine@:${HEX64}`,
  `alpine@1sha:${HEX64}`,
  "alpine@",
  "a_b.c/d",
  "example.com:port/a",
  "a/" + "b".repeat(254),
  `a@b@sha256:${HEX64}`,
];

Deno.test("validateImageRef accepts valid references", () => {
  for (const value of VALID_IMAGES) assert.equal(validateImageRef("image", value), undefined, value);
});

Deno.test("validateImageRef rejects invalid references and names the field", () => {
  for (const value of INVALID_IMAGES) {
    const message = validateImageRef("image", value);
    assert.ok(message !== undefined, `expected ${JSON.stringify(value)} to be rejected`);
    assert.ok(
      message.startsWith(`image: ${JSON.stringify(value)} is not a valid image reference: `),
      message,
    );
  }
  assert.match(validateImageRef("image", "Alpine") ?? "", /must be lowercase/);
  assert.match(validateImageRef("image", "alpine:") ?? "", /invalid tag/);
  assert.match(validateImageRef("image", "alpine@sha256:abc") ?? "", /invalid digest/);
});

Deno.test("image name length limit is 255 characters without tag and digest", () => {
  const name = "a/" + "b".repeat(253);
  assert.equal(name.length, 255);
  assert.equal(validateImageRef("image", name), undefined);
  assert.equal(validateImageRef("image", `${name}:latest@sha256:${HEX64}`), undefined);
  assert.match(validateImageRef("image", name + "b") ?? "", /255/);
});

Deno.test("parseImageRef splits domain, path, tag and digest", () => {
  assert.deepEqual(parseImageRef("ghcr.io/openfaas/alpine:latest"), {
    domain: "ghcr.io",
    path: "openfaas/alpine",
    tag: "latest",
    digest: undefined,
  });
  assert.deepEqual(parseImageRef("localhost:5000/fn"), {
    domain: "localhost:5000",
    path: "fn",
    tag: undefined,
    digest: undefined,
  });
  assert.deepEqual(parseImageRef(`a/b:t@sha256:${HEX64}`), {
    domain: undefined,
    path: "a/b",
    tag: "t",
    digest: `sha256:${HEX64}`,
  });
  assert.deepEqual(parseImageRef("localhost:5000"), {
    domain: undefined,
    path: "localhost",
    tag: "5000",
    digest: undefined,
  });
  assert.equal(parseImageRef("Alpine"), undefined);
});

const firstComponentArb = fc.stringMatching(/^[a-z0-9]{1,8}(?:(?:_|__|-{1,3})[a-z0-9]{1,8}){0,3}$/);
const pathComponentArb = fc.stringMatching(/^[a-z0-9]{1,8}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,8}){0,3}$/);
const domainArb = fc.oneof(
  fc.constant("localhost"),
  fc.stringMatching(
    /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?){1,3}$/,
  ),
).chain((host) =>
  fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }).map((port) =>
    port === undefined ? host : `${host}:${port}`
  )
);
const imageArb = fc.record({
  domain: fc.option(domainArb, { nil: undefined }),
  first: firstComponentArb,
  rest: fc.array(pathComponentArb, { maxLength: 3 }),
  tag: fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), { nil: undefined }),
  digest: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`), { nil: undefined }),
});

const render = (i: {
  domain: string | undefined;
  path: string;
  tag: string | undefined;
  digest: string | undefined;
}): string =>
  (i.domain === undefined ? "" : `${i.domain}/`) + i.path + (i.tag === undefined ? "" : `:${i.tag}`) +
  (i.digest === undefined ? "" : `@${i.digest}`);

Deno.test("property: references built from valid components pass and parse back", () => {
  fc.assert(
    fc.property(imageArb, ({ domain, first, rest, tag, digest }) => {
      const path = [first, ...rest].join("/");
      const ref = render({ domain, path, tag, digest });
      assert.equal(validateImageRef("image", ref), undefined, ref);
      assert.deepEqual(parseImageRef(ref), { domain, path, tag, digest });
    }),
    RUNS,
  );
});

Deno.test("property: an uppercase letter in the repository path is rejected", () => {
  fc.assert(
    fc.property(imageArb, fc.nat(), fc.constantFrom(..."ABCXYZ"), (parts, at, upper) => {
      const last = parts.rest.length === 0 ? parts.first : parts.rest[parts.rest.length - 1];
      const i = at % (last.length + 1);
      const bad = last.slice(0, i) + upper + last.slice(i);
      const components = [parts.first, ...parts.rest];
      components[components.length - 1] = bad;
      const ref = render({ ...parts, path: components.join("/") });
      assert.notEqual(validateImageRef("image", ref), undefined, ref);
    }),
    RUNS,
  );
});

Deno.test("property: whitespace anywhere makes a reference invalid", () => {
  fc.assert(
    fc.property(imageArb, fc.nat(), fc.constantFrom(" ", "\t", "\n"), (parts, at, ws) => {
      const ref = render({ ...parts, path: [parts.first, ...parts.rest].join("/") });
      const i = at % (ref.length + 1);
      assert.notEqual(validateImageRef("image", ref.slice(0, i) + ws + ref.slice(i)), undefined);
    }),
    RUNS,
  );
});

// ---------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------

const CANONICAL: ReadonlyArray<readonly [string, string]> = [
  ["0.5", "500m"],
  ["1000m", "1"],
  ["128Mi", "128Mi"],
  ["1024Mi", "1Gi"],
  ["1.5Gi", "1536Mi"],
  ["100m", "100m"],
  ["5Mi", "5Mi"],
  ["1e3", "1e3"],
  ["1E3", "1e3"],
  ["2000", "2k"],
  ["1Ki", "1Ki"],
  ["0", "0"],
  ["0.1", "100m"],
  ["1500m", "1500m"],
  ["0.5Gi", "512Mi"],
  ["1.5Ki", "1536"],
  ["0.5Ki", "512"],
  ["1025Ki", "1025Ki"],
  ["1024Ki", "1Mi"],
  ["1048576Ki", "1Gi"],
  ["100.035Ki", "102435840m"],
  ["0.05Gi", "53687091200m"],
  ["10Ti", "10Ti"],
  ["1Ei", "1Ei"],
  ["8Ei", "9223372036854775807"],
  ["9223372036854775807Ki", "9223372036854775807"],
  ["1000M", "1G"],
  ["50k", "50k"],
  ["1.01E", "1010P"],
  ["40.1T", "40100G"],
  ["12E", "12E"],
  ["1000E", "1e21"],
  ["1.G", "1G"],
  [".001Ki", "1024m"],
  [".000001Ki", "1024u"],
  [".000000001Ki", "1024n"],
  [".000000000001Ki", "2n"],
  ["1n", "1n"],
  ["3.001n", "4n"],
  ["0.9n", "1n"],
  ["0.0000000001", "1n"],
  ["0.00000012345", "124n"],
  ["1.1E-9", "2e-9"],
  ["1E-3", "1e-3"],
  ["0.08e0", "80e-3"],
  ["1.2e3", "1200"],
  ["1.3E+6", "1300e3"],
  ["1e9", "1e9"],
  ["-1.5", "-1500m"],
  ["-1Ki", "-1Ki"],
  ["-0.0000000001", "-1n"],
  ["-0", "0"],
  ["0Mi", "0"],
  ["+1", "1"],
  ["0001", "1"],
  ["1.500", "1500m"],
  ["18446744073709551616", "18446744073709551616"],
  ["123456789012345678901234", "123456789012345678901234"],
  ["1000000000000000000000000", "1e24"],
];

Deno.test("canonicalQuantity matches Kubernetes' canonical form", () => {
  for (const [input, expected] of CANONICAL) assert.equal(canonicalQuantity(input), expected, input);
});

Deno.test("kubernetesQuantityString echoes inputs Kubernetes keeps verbatim", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["1.500", "1.500"],
    ["+1", "+1"],
    ["0001", "0001"],
    ["1e3", "1e3"],
    ["1.G", "1.G"],
    ["01Ki", "01Ki"],
    ["15Mi", "15Mi"],
    ["-1Ki", "-1Ki"],
    ["100m", "100m"],
    ["0", "0"],
    // not kept verbatim: canonicalised
    ["1000", "1k"],
    ["1.000", "1"],
    ["16Mi", "16Mi"],
    ["1024Ki", "1Mi"],
    ["0.5", "500m"],
    ["-0", "0"],
    ["000", "0"],
    ["1Ei", "1Ei"],
    ["1.5Gi", "1536Mi"],
    ["1234567890123456789", "1234567890123456789"],
    ["1234567890123456789000", "1234567890123456789k"],
  ];
  for (const [input, expected] of cases) assert.equal(kubernetesQuantityString(input), expected, input);
});

const INVALID_QUANTITIES = [
  "",
  "12Q",
  "1K",
  "1ki",
  "1KI",
  " 1",
  "1 ",
  "1.1.M",
  "1+1.0M",
  "0.1mi",
  "0.1am",
  "aoeu",
  ".5i",
  "1i",
  "-3.01i",
  "-3.01e-",
  ".",
  "-",
  "+",
  "-.",
  "1e",
  "Mi",
  "1Mi3",
  "1e3Mi",
  "1e1001",
  "1e99999999999999999999",
  "0x10",
  "1,5",
  "--1",
];

Deno.test("parseQuantity rejects malformed quantities", () => {
  for (const value of INVALID_QUANTITIES) {
    assert.equal(parseQuantity(value), undefined, value);
    assert.equal(canonicalQuantity(value), undefined, value);
  }
});

Deno.test("parseQuantity keeps the format and an exact nano value", () => {
  assert.deepEqual(parseQuantity("1Gi"), {
    nanos: (1n << 30n) * 1_000_000_000n,
    format: "BinarySI",
    verbatim: "1Gi",
  });
  assert.deepEqual(parseQuantity("100m"), { nanos: 100_000_000n, format: "DecimalSI", verbatim: "100m" });
  assert.deepEqual(parseQuantity("1e3"), {
    nanos: 1_000_000_000_000n,
    format: "DecimalExponent",
    verbatim: "1e3",
  });
  assert.equal(parseQuantity("0.000000000001Ki")?.format, "DecimalSI");
  assert.equal(parseQuantity("-2")?.nanos, -2_000_000_000n);
});

Deno.test("validateResourceQuantity", () => {
  for (const value of ["128Mi", "0.5", "100m", "1Gi", "0", "1e3", "2", "+1"]) {
    assert.equal(validateResourceQuantity("limits.memory", value), undefined, value);
  }
  assert.equal(
    validateResourceQuantity("limits.memory", "12Q"),
    `limits.memory: "12Q" is not a valid quantity: must match ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$ e.g. 128Mi, 0.5, 100m`,
  );
  assert.equal(
    validateResourceQuantity("limits.cpu", "-1"),
    `limits.cpu: "-1" is not a valid quantity: must not be negative`,
  );
  for (const value of ["", "-100m", "-0.0000000001", "1 Gi", "lots"]) {
    assert.ok(
      validateResourceQuantity("requests.cpu", value)?.startsWith(`requests.cpu: ${JSON.stringify(value)}`),
    );
  }
  // negative zero is zero
  assert.equal(validateResourceQuantity("requests.cpu", "-0"), undefined);
});

Deno.test("compareQuantity", () => {
  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ["1Gi", "1024Mi", 0],
    ["1G", "1Gi", -1],
    ["100m", "0.1", 0],
    ["10000T", "100Gi", 1],
    ["50m", "100m", -1],
    ["100m", "50m", 1],
    ["1", "1000m", 0],
    ["1n", "0", 1],
    ["-1", "0", -1],
    ["8Ei", "9Ei", 0],
    ["1e3", "1k", 0],
    ["256Mi", "128Mi", 1],
    ["0.9n", "1n", 0],
  ];
  for (const [a, b, expected] of cases) {
    assert.equal(compareQuantity(a, b), expected, `${a} vs ${b}`);
    assert.equal(compareQuantity(b, a), -expected || 0, `${b} vs ${a}`);
  }
  const q = parseQuantity("2Gi");
  assert.ok(q !== undefined);
  assert.equal(compareQuantity(q, "2048Mi"), 0);
  assert.throws(() => compareQuantity("12Q", "1"), RangeError);
});

Deno.test("quantityToNumber returns base units", () => {
  const cases: ReadonlyArray<readonly [string, number]> = [
    ["500m", 0.5],
    ["128Mi", 134217728],
    ["1.5Gi", 1610612736],
    ["100m", 0.1],
    ["2k", 2000],
    ["1n", 1e-9],
    ["-1.5", -1.5],
    ["1e3", 1000],
    ["0", 0],
    ["8Ei", 2 ** 63],
  ];
  for (const [input, expected] of cases) assert.equal(quantityToNumber(input), expected, input);
  assert.throws(() => quantityToNumber("abc"), RangeError);
});

Deno.test("validateRequestsWithinLimits", () => {
  assert.equal(
    validateRequestsWithinLimits({ memory: "256Mi" }, { memory: "128Mi" }),
    "requests.memory (256Mi) must be less than or equal to limits.memory (128Mi)",
  );
  assert.equal(
    validateRequestsWithinLimits({ cpu: "1500m" }, { cpu: "1" }),
    "requests.cpu (1500m) must be less than or equal to limits.cpu (1)",
  );
  assert.equal(
    validateRequestsWithinLimits({ memory: "128Mi", cpu: "1" }, { memory: "128Mi", cpu: "1000m" }),
    undefined,
  );
  assert.equal(validateRequestsWithinLimits({ memory: "1Gi" }, { memory: "1.5Gi" }), undefined);
  assert.equal(validateRequestsWithinLimits({ memory: "1Gi" }, undefined), undefined);
  assert.equal(validateRequestsWithinLimits(undefined, { memory: "1Mi" }), undefined);
  assert.equal(validateRequestsWithinLimits({ memory: "1Gi" }, { memory: "" }), undefined);
  assert.equal(validateRequestsWithinLimits({ memory: "1Gi" }, { cpu: "1m" }), undefined);
  // 1G (10^9) is less than 1Gi (2^30), 1Gi is more than 1G
  assert.equal(validateRequestsWithinLimits({ memory: "1G" }, { memory: "1Gi" }), undefined);
  assert.notEqual(validateRequestsWithinLimits({ memory: "1Gi" }, { memory: "1G" }), undefined);
});

Deno.test("validateResources validates each value then the request/limit relation", () => {
  assert.equal(validateResources({ memory: "64Mi", cpu: "100m" }, { memory: "128Mi", cpu: "" }), undefined);
  assert.equal(validateResources(undefined, undefined), undefined);
  assert.match(
    validateResources({ memory: "lots" }, undefined) ?? "",
    /^requests\.memory: "lots" is not a valid/,
  );
  assert.match(validateResources(undefined, { cpu: "-1" }) ?? "", /^limits\.cpu: "-1" .*negative/);
  assert.equal(
    validateResources({ memory: "256Mi" }, { memory: "128Mi" }),
    "requests.memory (256Mi) must be less than or equal to limits.memory (128Mi)",
  );
});

const quantityArb = fc.record({
  sign: fc.constantFrom("", "", "+", "-"),
  int: fc.stringMatching(/^[0-9]{0,20}$/),
  frac: fc.option(fc.stringMatching(/^[0-9]{0,12}$/), { nil: undefined }),
  suffix: fc.oneof(
    fc.constantFrom("", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"),
    fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), fc.integer({ min: 0, max: 30 })).map(
      ([e, s, n]) => `${e}${s}${n}`,
    ),
  ),
}).filter(({ int, frac }) => int.length + (frac ?? "").length > 0)
  .map(({ sign, int, frac, suffix }) => `${sign}${int}${frac === undefined ? "" : `.${frac}`}${suffix}`);

Deno.test("property: generated quantities parse", () => {
  fc.assert(
    fc.property(quantityArb, (q) => {
      assert.notEqual(parseQuantity(q), undefined, q);
    }),
    RUNS,
  );
});

Deno.test("property: canonicalQuantity is idempotent and keeps the value", () => {
  fc.assert(
    fc.property(quantityArb, (q) => {
      const canonical = canonicalQuantity(q);
      assert.ok(canonical !== undefined, q);
      assert.equal(canonicalQuantity(canonical), canonical, q);
      assert.equal(compareQuantity(q, canonical), 0, q);
      // canonical form: no fraction, no explicit plus sign, no leading zeros
      assert.ok(!canonical.includes(".") && !canonical.startsWith("+"), canonical);
      assert.ok(canonical === "0" || /^-?[1-9]/.test(canonical), canonical);
    }),
    RUNS,
  );
});

Deno.test("property: Kubernetes' verbatim string has the same value and canonical form", () => {
  fc.assert(
    fc.property(quantityArb, (q) => {
      const shown = kubernetesQuantityString(q);
      assert.ok(shown !== undefined, q);
      assert.equal(compareQuantity(shown, q), 0, q);
      assert.equal(canonicalQuantity(shown), canonicalQuantity(q), q);
      assert.equal(kubernetesQuantityString(shown), shown, q);
    }),
    RUNS,
  );
});

Deno.test("property: the value agrees with a floating point reading of the input", () => {
  const binary: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
  const decimal: Record<string, number> = {
    n: -9,
    u: -6,
    m: -3,
    "": 0,
    k: 3,
    M: 6,
    G: 9,
    T: 12,
    P: 15,
    E: 18,
  };
  fc.assert(
    fc.property(quantityArb, (q) => {
      const [, number, suffix] = /^([+-]?[0-9.]+)(.*)$/.exec(q)!;
      const mantissa = Number(number === "." ? "0" : number.replace(/^([+-]?)\./, "$10."));
      const expected = suffix in binary
        ? mantissa * 2 ** binary[suffix]
        : mantissa * 10 ** (suffix in decimal ? decimal[suffix] : Number(suffix.slice(1)));
      fc.pre(!(suffix in binary) || Math.abs(expected) < 2 ** 62);
      const actual = quantityToNumber(q);
      // values are rounded away from zero to whole nanos
      const tolerance = 1.0000001e-9 + Math.abs(expected) * 1e-12;
      assert.ok(Math.abs(actual - expected) <= tolerance, `${q}: ${actual} vs ${expected}`);
    }),
    RUNS,
  );
});

Deno.test("property: compareQuantity is antisymmetric and agrees with magnitudes", () => {
  fc.assert(
    fc.property(quantityArb, quantityArb, (a, b) => {
      const ab = compareQuantity(a, b);
      assert.equal(compareQuantity(b, a), -ab || 0);
      const x = quantityToNumber(a);
      const y = quantityToNumber(b);
      if (Math.abs(x - y) > 1e-6 * Math.max(Math.abs(x), Math.abs(y), 1)) assert.equal(ab, Math.sign(x - y));
    }),
    RUNS,
  );
});

Deno.test("property: n Ki equals n*1024 and canonicalises to a binary suffix when divisible", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 40 }), (n) => {
      assert.equal(compareQuantity(`${n}Ki`, `${n * 1024}`), 0);
      const canonical = canonicalQuantity(`${n}Ki`)!;
      assert.match(canonical, /^[1-9][0-9]*(Ki|Mi|Gi|Ti|Pi)$/);
      assert.equal(quantityToNumber(canonical), n * 1024);
    }),
    RUNS,
  );
});

Deno.test("formatQuantity renders a parsed quantity", () => {
  const q = parseQuantity("1536Mi");
  assert.ok(q !== undefined);
  assert.equal(formatQuantity(q), "1536Mi");
  assert.equal(formatQuantity({ nanos: 1_500_000_000n, format: "DecimalSI", verbatim: undefined }), "1500m");
  assert.equal(formatQuantity({ nanos: 0n, format: "BinarySI", verbatim: undefined }), "0");
});

// ---------------------------------------------------------------------------
// Labels and annotations
// ---------------------------------------------------------------------------

Deno.test("validateLabelKey", () => {
  const valid = [
    "app",
    "App",
    "faas_function",
    "com.openfaas.scale.min",
    "openfaas.com/scale",
    "example.com/My.Name_1",
    "a",
    "a".repeat(63),
    `${"a".repeat(253)}/b`,
    "kubernetes.io/hostname",
  ];
  for (const key of valid) assert.equal(validateLabelKey("labels", key), undefined, key);
  const invalid = [
    "",
    "-app",
    "app-",
    "a b",
    "/app",
    "example.com/",
    "a/b/c",
    "Example.com/app",
    "exa_mple.com/app",
    "a".repeat(64),
    `${"a".repeat(254)}/b`,
    "app!",
    "é",
  ];
  for (const key of invalid) {
    const message = validateLabelKey("labels", key);
    assert.ok(message?.startsWith(`labels: ${JSON.stringify(key)} is not a valid label key: `), key);
  }
  assert.match(validateLabelKey("labels", "Example.com/app") ?? "", /prefix/);
  assert.match(validateLabelKey("labels", "a".repeat(64)) ?? "", /name part/);
});

Deno.test("validateLabelValue", () => {
  for (const value of ["", "v1", "V_1.0-beta", "a".repeat(63), "1"]) {
    assert.equal(validateLabelValue("labels", "app", value), undefined, value);
  }
  for (const value of ["-a", "a-", "a b", "a/b", "a".repeat(64), "_", "é"]) {
    const message = validateLabelValue("labels", "app", value);
    assert.ok(
      message?.startsWith(`labels["app"]: ${JSON.stringify(value)} is not a valid label value`),
      value,
    );
  }
});

const qualifiedNameArb = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
const subdomainArb = fc.stringMatching(
  /^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?){0,3}$/,
);
const labelKeyArb = fc.tuple(fc.option(subdomainArb, { nil: undefined }), qualifiedNameArb).map((
  [prefix, name],
) => prefix === undefined ? name : `${prefix}/${name}`);

Deno.test("property: generated label keys and values pass; a space breaks them", () => {
  fc.assert(
    fc.property(labelKeyArb, fc.oneof(fc.constant(""), qualifiedNameArb), (key, value) => {
      assert.equal(validateLabelKey("labels", key), undefined, key);
      assert.equal(validateAnnotationKey("annotations", key), undefined, key);
      assert.equal(validateLabelValue("labels", key, value), undefined, value);
      assert.equal(validateLabels("labels", { [key]: value }), undefined);
      assert.notEqual(validateLabelKey("labels", `${key} `), undefined);
      assert.notEqual(validateLabelValue("labels", key, ` ${value}`), undefined);
    }),
    RUNS,
  );
});

Deno.test("validateAnnotationKey allows an uppercase prefix (checked lowercased)", () => {
  assert.equal(validateAnnotationKey("annotations", "Example.COM/Topic"), undefined);
  assert.equal(validateAnnotationKey("annotations", "topic"), undefined);
  assert.equal(validateAnnotationKey("annotations", "prometheus.io.scrape"), undefined);
  for (const key of ["", "a/b/c", "my topic", "_x", `${"a".repeat(64)}`]) {
    assert.ok(
      validateAnnotationKey("annotations", key)?.startsWith(
        `annotations: ${JSON.stringify(key)} is not a valid annotation key`,
      ),
      key,
    );
  }
});

Deno.test("validateAnnotationsSize counts UTF-8 bytes of keys and values", () => {
  const limit = TOTAL_ANNOTATION_SIZE_LIMIT_BYTES;
  assert.equal(limit, 262144);
  assert.equal(validateAnnotationsSize({}), undefined);
  assert.equal(validateAnnotationsSize({ k: "v".repeat(limit - 1) }), undefined);
  assert.equal(
    validateAnnotationsSize({ k: "v".repeat(limit) }),
    `annotations: total size of keys and values (262145 bytes) must not exceed 262144 bytes`,
  );
  assert.equal(
    validateAnnotationsSize({ a: "x".repeat(limit / 2), b: "y".repeat(limit / 2 - 2) }),
    undefined,
  );
  assert.notEqual(
    validateAnnotationsSize({ a: "x".repeat(limit / 2), b: "y".repeat(limit / 2 - 1) }),
    undefined,
  );
  // "é" is two bytes in UTF-8
  assert.equal(validateAnnotationsSize({ k: "é".repeat((limit - 2) / 2) }), undefined);
  assert.notEqual(validateAnnotationsSize({ k: "é".repeat(limit / 2) }), undefined);
  assert.match(
    validateAnnotationsSize({ k: "v".repeat(limit) }, "meta.annotations") ?? "",
    /^meta\.annotations: /,
  );
});

Deno.test("validateAnnotations and validateLabels report the first problem", () => {
  assert.equal(
    validateAnnotations("annotations", { "com.openfaas.health.http.path": "/healthz ok!" }),
    undefined,
  );
  assert.match(validateAnnotations("annotations", { "bad key": "" }) ?? "", /not a valid annotation key/);
  assert.match(validateAnnotations("annotations", { k: "v".repeat(262144) }) ?? "", /total size/);
  assert.equal(validateLabels("labels", { app: "fn", "com.openfaas.scale.min": "1" }), undefined);
  assert.match(validateLabels("labels", { app: "bad value" }) ?? "", /not a valid label value/);
  assert.match(validateLabels("labels", { "-app": "v" }) ?? "", /not a valid label key/);
});

// ---------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------

Deno.test("validateEnvVarName", () => {
  for (const name of ["PATH", "write_debug", "_x", "-x", ".x", "a.b-c_d", "X1", "read_timeout"]) {
    assert.equal(validateEnvVarName("envVars", name), undefined, name);
  }
  for (const name of ["", "1A", "A=B", "A B", "é", "A$", "9", "a:b"]) {
    const message = validateEnvVarName("envVars", name);
    assert.ok(
      message?.startsWith(`envVars: ${JSON.stringify(name)} is not a valid environment variable name`),
      name,
    );
  }
});

Deno.test("property: generated env var names pass, and fail with '=' or a leading digit", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[-._a-zA-Z][-._a-zA-Z0-9]{0,30}$/), fc.nat(9), (name, digit) => {
      assert.equal(validateEnvVarName("env", name), undefined);
      assert.notEqual(validateEnvVarName("env", `${name}=`), undefined);
      assert.notEqual(validateEnvVarName("env", `${digit}${name}`), undefined);
    }),
    RUNS,
  );
});

// ---------------------------------------------------------------------------
// Constraints
// ---------------------------------------------------------------------------

Deno.test("parseConstraint", () => {
  const cases: ReadonlyArray<readonly [string, [string, string] | undefined]> = [
    ["kubernetes.io/hostname=node1", ["kubernetes.io/hostname", "node1"]],
    ["kubernetes.io/hostname == node1", ["kubernetes.io/hostname", "node1"]],
    ["  disk = ssd  ", ["disk", "ssd"]],
    ["disk==ssd", ["disk", "ssd"]],
    ["disk=", ["disk", ""]],
    ["disk", undefined],
    ["=ssd", undefined],
    ["", undefined],
    ["a=b=c", undefined],
    ["a === b", undefined],
    ["a == b == c", undefined],
  ];
  for (const [input, expected] of cases) assert.deepEqual(parseConstraint(input), expected, input);
});

Deno.test("validateConstraint", () => {
  for (
    const c of [
      "node.kubernetes.io/instance-type=m5.large",
      "kubernetes.io/hostname == node1",
      "disk=",
      "a = b",
    ]
  ) {
    assert.equal(validateConstraint("constraints", c), undefined, c);
  }
  const invalid = ["disk", "disk != ssd", "a b=c", "a=b c", "a=-b", "Example.com/a=b", "a=b=c", "=b", "a=é"];
  for (const c of invalid) {
    const message = validateConstraint("constraints", c);
    assert.ok(message?.startsWith(`constraints: ${JSON.stringify(c)} is not a valid constraint`), c);
  }
  assert.match(validateConstraint("constraints", "disk") ?? "", /key=value or key == value/);
  assert.match(validateConstraint("constraints", "a=-b") ?? "", /value "-b"/);
});

Deno.test("property: generated constraints parse in both forms", () => {
  fc.assert(
    fc.property(
      labelKeyArb,
      fc.oneof(fc.constant(""), qualifiedNameArb),
      fc.constantFrom("=", "==", " = ", " == "),
      (key, value, op) => {
        const c = `${key}${op}${value}`;
        assert.deepEqual(parseConstraint(c), [key, value]);
        assert.equal(validateConstraint("constraints", c), undefined, c);
        assert.notEqual(validateConstraint("constraints", `${key} ${key}${op}${value}`), undefined);
      },
    ),
    RUNS,
  );
});

// ---------------------------------------------------------------------------
// Replicas, length bounds, process environment
// ---------------------------------------------------------------------------

Deno.test("validateReplicas: an integer from 0 to 2^31-1, as Kubernetes keeps it (int32)", () => {
  for (const n of [0, 1, 5, MAX_REPLICAS]) {
    assert.equal(validateReplicas("replicas", n), undefined, String(n));
  }
  assert.equal(MAX_REPLICAS, 2 ** 31 - 1);
  for (const n of [MAX_REPLICAS + 1, 1e15, -1, 1.5, NaN, Infinity]) {
    assert.equal(
      validateReplicas("replicas", n),
      `replicas: ${n} must be an integer from 0 to 2147483647`,
      String(n),
    );
  }
});

Deno.test("every field is bounded before its pattern runs, and the message does not echo a huge value", () => {
  const huge = "1".repeat(100_000);
  const cases: [string | undefined, RegExp][] = [
    [validateResourceQuantity("limits.memory", "1".repeat(QUANTITY_MAX_LENGTH + 1)), /must be at most 64/],
    [
      validateResourceQuantity("limits.memory", huge + "x"),
      /^limits\.memory: "1+\.\.\." \(100001 characters\)/,
    ],
    [validateLabelKey("labels", "a".repeat(LABEL_KEY_MAX_LENGTH + 1)), /must be at most 317 characters/],
    [validateAnnotationKey("annotations", "A".repeat(LABEL_KEY_MAX_LENGTH + 1)), /at most 317/],
    [validateImageRef("image", "a".repeat(IMAGE_REF_MAX_LENGTH + 1)), /must be at most 641 characters/],
    [validateImageRef("image", `a@sha256:${"a".repeat(300)}`), /invalid digest/],
    [validateImageRef("image", `a:${"a".repeat(129)}`), /invalid tag/],
    [
      validateConstraint("constraints[0]", `a=${"b".repeat(CONSTRAINT_MAX_LENGTH)}`),
      /at most 512 characters/,
    ],
    [validateEnvVarName("envVars.X", "A".repeat(ENV_ENTRY_MAX_BYTES)), /at most 131070 characters/],
  ];
  for (const [message, expected] of cases) {
    assert.ok(message !== undefined, String(expected));
    assert.match(message, expected);
    assert.ok(message.length < 1000, message.slice(0, 200));
  }
  // The longest valid values still pass.
  assert.equal(validateLabelKey("labels", `${"a".repeat(253)}/${"b".repeat(63)}`), undefined);
  assert.equal(validateResourceQuantity("cpu", `${"0".repeat(QUANTITY_MAX_LENGTH - 1)}1`), undefined);
  assert.equal(
    validateImageRef("image", `${"a".repeat(255)}:${"t".repeat(128)}@sha512:${"0".repeat(128)}`),
    undefined,
  );
});

Deno.test("the rewritten linear patterns accept and refuse exactly what Kubernetes' patterns do", () => {
  const k8sLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const k8sQualified = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
  const k8sSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."ab1-._A/ "), maxLength: 20 }), (s) => {
      assert.equal(validateDnsLabel("f", s) === undefined, s.length > 0 && k8sLabel.test(s), s);
      assert.equal(validateDnsSubdomain("f", s) === undefined, s.length > 0 && k8sSubdomain.test(s), s);
      assert.equal(validateLabelValue("f", "k", s) === undefined, s === "" || k8sQualified.test(s), s);
    }),
    { numRuns: runs(1000) },
  );
});

Deno.test("validateEnvVarValue: no NUL, and NAME=value within Linux's MAX_ARG_STRLEN", () => {
  assert.equal(validateEnvVarValue("envVars.A", "A", "line\nbreak\ttab"), undefined);
  assert.match(validateEnvVarValue("envVars.A", "A", "a\u0000b") ?? "", /^envVars\.A: .*NUL/);
  assert.match(validateEnvVarValue("envProcess", "fprocess", "\u0000") ?? "", /^envProcess: .*NUL/);
  // "A=" + value + NUL terminator must fit in 131072 bytes.
  assert.equal(validateEnvVarValue("envVars.A", "A", "x".repeat(ENV_ENTRY_MAX_BYTES - 2)), undefined);
  assert.match(
    validateEnvVarValue("envVars.A", "A", "x".repeat(ENV_ENTRY_MAX_BYTES - 1)) ?? "",
    /^envVars\.A: the value is too long/,
  );
  // Bytes, not characters: é is two bytes in UTF-8.
  assert.notEqual(validateEnvVarValue("envVars.A", "A", "é".repeat(70_000)), undefined);
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 50 }), (s) => {
      assert.equal(utf8Length(s), new TextEncoder().encode(s).length);
    }),
    RUNS,
  );
});
