/**
 * No input makes a validator slow: every check on user input is linear (a length
 * bound first, then patterns without nested or overlapping quantifiers).
 *
 * These tests measure wall-clock time, which the suite otherwise avoids, because
 * the property is about time. The bound is deliberately loose, 2 µs per input
 * character (0.5 s for 262,144 characters), and the best of three runs counts,
 * so a busy machine or a GC pause does not fail it. It still separates linear
 * from quadratic by orders of magnitude: the linear checks below take at most
 * about 0.1 µs per character, while the old quantity pattern took ~100 µs per
 * character on 262,144 digits and a letter (27 s).
 */
import assert from "node:assert/strict";
import { Effect } from "effect";
import fc, { runs } from "../support/fc.ts";
import {
  canonicalQuantity,
  parseQuantity,
  validateResourceQuantity,
  validateResources,
} from "../../src/domain/quantity.ts";
import { parseImageRef, validateImageRef } from "../../src/domain/imageref.ts";
import {
  validateAnnotationKey,
  validateAnnotations,
  validateConstraint,
  validateDnsLabel,
  validateDnsSubdomain,
  validateEnvVarName,
  validateEnvVarValue,
  validateLabelKey,
  validateLabels,
  validateLabelValue,
  validateSecretName,
} from "../../src/domain/validation.ts";
import { validateFunctionDeployment } from "../../src/domain/function.ts";
import type { FunctionDeployment } from "../../src/domain/types.ts";
import { decodeBody, FunctionDeployment as FunctionDeploymentSchema } from "../../src/domain/types.ts";
import { parseJson } from "../../src/domain/gojson.ts";
import { parseGoBool, parseGoInt, parseGoRfc3339 } from "../../src/domain/goparse.ts";
import { profileNames, scaleMinOf } from "../../src/domain/keys.ts";
import { validateScalingLabels } from "../../src/domain/scaling.ts";
import { parseDuration, parseGoDurationNs } from "../../src/domain/envvalues.ts";
import { parseSelector } from "../../src/domain/selectors.ts";
import { parseGoQuery } from "../../src/http/query.ts";
import { secretData } from "../../src/provider/secrets.ts";

/** The budget per input character; see the module comment for why it is loose and still meaningful. */
const MICROS_PER_CHAR = 2;

const fn = (extra: Partial<FunctionDeployment>): FunctionDeployment => ({
  service: "fn",
  image: "functions/alpine:latest",
  ...extra,
});

/** Every check that sees user input, fed the string `s`. */
const checks: [string, (s: string) => unknown][] = [
  ["validateDnsLabel", (s) => validateDnsLabel("f", s)],
  ["validateDnsSubdomain", (s) => validateDnsSubdomain("f", s)],
  ["validateSecretName", (s) => validateSecretName("f", s)],
  ["validateImageRef", (s) => validateImageRef("f", s)],
  ["parseImageRef", (s) => parseImageRef(s)],
  ["parseQuantity", (s) => parseQuantity(s)],
  ["canonicalQuantity", (s) => canonicalQuantity(s)],
  ["validateResourceQuantity", (s) => validateResourceQuantity("f", s)],
  ["validateResources", (s) => validateResources({ memory: s }, { cpu: s })],
  ["validateLabelKey", (s) => validateLabelKey("f", s)],
  ["validateLabelValue", (s) => validateLabelValue("f", "k", s)],
  ["validateAnnotationKey", (s) => validateAnnotationKey("f", s)],
  ["validateLabels", (s) => validateLabels("f", { [s]: s, k: s })],
  ["validateAnnotations", (s) => validateAnnotations("f", { [s]: "v" })],
  ["validateEnvVarName", (s) => validateEnvVarName("f", s)],
  ["validateEnvVarValue", (s) => validateEnvVarValue("f", "A", s)],
  ["validateConstraint", (s) => validateConstraint("f", s)],
  ["validateConstraint key=", (s) => validateConstraint("f", `${s}=v`)],
  ["deploy service", (s) => validateFunctionDeployment(fn({ service: s }))],
  ["deploy image", (s) => validateFunctionDeployment(fn({ image: s }))],
  ["deploy namespace", (s) => validateFunctionDeployment(fn({ namespace: s }))],
  ["deploy envProcess", (s) => validateFunctionDeployment(fn({ envProcess: s }))],
  ["deploy envVars", (s) => validateFunctionDeployment(fn({ envVars: { [s]: s } }))],
  ["deploy constraints", (s) => validateFunctionDeployment(fn({ constraints: [s] }))],
  ["deploy secrets", (s) => validateFunctionDeployment(fn({ secrets: [s] }))],
  ["deploy labels", (s) => validateFunctionDeployment(fn({ labels: { [s]: "v", k: s } }))],
  [
    "deploy scaling labels",
    (s) =>
      validateFunctionDeployment(fn({
        labels: { "com.openfaas.scale.min": s, "com.openfaas.scale.zero-duration": s },
      })),
  ],
  ["deploy annotations", (s) => validateFunctionDeployment(fn({ annotations: { [s]: s } }))],
  [
    "deploy special annotations",
    (s) =>
      validateFunctionDeployment(fn({
        annotations: {
          "com.openfaas.health.http.path": `/${s}`,
          "com.openfaas.health.http.initialDelay": s,
          "com.openfaas.serviceaccount": s,
          "com.openfaas.profile": `${s},${s}`,
        },
      })),
  ],
  [
    "deploy probe delay",
    (s) => validateFunctionDeployment(fn({ annotations: { "com.openfaas.health.http.initialDelay": s } })),
  ],
  [
    "deploy limits",
    (s) => validateFunctionDeployment(fn({ limits: { memory: s, cpu: s, "nvidia.com/gpu": s } })),
  ],
  ["deploy requests", (s) => validateFunctionDeployment(fn({ requests: { memory: s, cpu: s } }))],
  ["validateScalingLabels min", (s) => validateScalingLabels({ "com.openfaas.scale.min": s })],
  [
    "validateScalingLabels zero-duration",
    (s) => validateScalingLabels({ "com.openfaas.scale.zero-duration": s }),
  ],
  ["validateScalingLabels target", (s) => validateScalingLabels({ "com.openfaas.scale.target": s })],
  ["scaleMinOf", (s) => scaleMinOf({ "com.openfaas.scale.min": s })],
  ["profileNames", (s) => profileNames({ "com.openfaas.profile": s })],
  ["parseGoDurationNs", (s) => parseGoDurationNs(s)],
  ["parseDuration", (s) => parseDuration(s, 0)],
  ["parseSelector", (s) => parseSelector(s)],
  ["parseSelector in", (s) => parseSelector(`a in (${s})`)],
  ["parseSelector =", (s) => parseSelector(`${s}=${s}`)],
  ["parseGoInt", (s) => parseGoInt(s)],
  ["parseGoBool", (s) => parseGoBool(s)],
  ["parseGoRfc3339", (s) => parseGoRfc3339(s)],
  ["parseGoQuery", (s) => parseGoQuery(s)],
  ["parseJson raw", (s) => {
    try {
      parseJson(s);
    } catch { /* expected */ }
  }],
  ["parseJson string", (s) => parseJson(JSON.stringify(s))],
  [
    "decodeBody",
    (s) =>
      Effect.runSyncExit(
        decodeBody(
          FunctionDeploymentSchema,
          JSON.stringify({ service: s, Service: s, limits: { memory: s } }),
        ),
      ),
  ],
  ["secretData", (s) => secretData({ name: "a", rawValue: s })],
];

/** Best of three: the shortest time is the one least disturbed by the machine. */
const bestMs = (f: () => unknown): number => {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    f();
    best = Math.min(best, performance.now() - started);
  }
  return best;
};

const assertLinear = (s: string, what: string) => {
  for (const [name, check] of checks) {
    const micros = bestMs(() => check(s)) * 1000;
    assert.ok(
      micros / s.length < MICROS_PER_CHAR,
      `${name} took ${(micros / 1000).toFixed(1)} ms on ${s.length} characters of ${what} ` +
        `(${(micros / s.length).toFixed(3)} µs per character)`,
    );
  }
};

Deno.test("the worst known inputs: 262,144 digits (or labels, dashes, slashes) and one bad character", () => {
  const n = 262_144;
  const cases: [string, string][] = [
    ["1".repeat(n) + "x", "digits then a letter"],
    ["1".repeat(n / 2) + "." + "1".repeat(n / 2) + "x", "a long decimal then a letter"],
    ["a-".repeat(n / 2) + "!", "label-like text"],
    ["a.".repeat(n / 2) + "-", "subdomain-like text"],
    ["/".repeat(n) + "a", "slashes"],
    ["-".repeat(n) + "a", "dashes"],
    ["a".repeat(n) + "/", "a near-valid key"],
    ["registry.io/" + "a_".repeat(n / 2) + "A", "a near-valid image path"],
    ["a@sha256:" + "ab".repeat(n / 2) + "z", "a near-valid digest"],
    ["1e" + "1".repeat(n) + "x", "a long exponent"],
    ["1s".repeat(n / 2) + "x", "a long duration"],
    ["2026-01-02T03:04:05." + "1".repeat(n) + "x", "a long fraction of a second"],
    ["a=1&".repeat(n / 4) + "%", "a long query"],
    ["[".repeat(n), "deep nesting"],
    ['{"a":'.repeat(n / 8), "deep objects"],
  ];
  for (const [s, what] of cases) assertLinear(s, what);
});

/** Long strings from the characters the patterns care about, with a near-valid start and a bad end. */
const adversarial = fc.record({
  prefix: fc.constantFrom(
    "",
    "1",
    "a",
    "registry.io/",
    "a@sha256:",
    "a:",
    "com.openfaas/",
    "2026-01-01T",
    "+",
  ),
  unit: fc.array(fc.constantFrom(..."1.a-/:@eiEKM_ =,()!%+Z"), { minLength: 1, maxLength: 4 }).map((cs) =>
    cs.join("")
  ),
  length: fc.integer({ min: 100_000, max: 262_144 }),
  last: fc.constantFrom("x", "!", "-", ".", " ", "\u0000", "Z", "/", "é", "\ud800"),
}).map(({ prefix, unit, length, last }) =>
  prefix +
  unit.repeat(Math.ceil((length - prefix.length) / unit.length)).slice(0, length - prefix.length - 1) +
  last
);

Deno.test("property: every validator stays under 2 µs per character on long adversarial strings", () => {
  fc.assert(
    fc.property(adversarial, (s) => assertLinear(s, "generated text")),
    { numRuns: runs(12) },
  );
});
