/** The lenient value parsers of the configuration: Go durations, booleans and non-negative integers. */
import assert from "node:assert/strict";
import fc from "../support/fc.ts";
import { parseBool, parseDuration, parseNonNegativeInt } from "../../src/domain/envvalues.ts";

// ---------------------------------------------------------------------------
// parseDuration
// ---------------------------------------------------------------------------

Deno.test("parseDuration: table of Go durations and bare seconds", () => {
  const cases: [string | undefined, number][] = [
    ["0", 0],
    ["7", 7_000],
    ["+7", 7_000],
    ["65", 65_000],
    ["65s", 65_000],
    ["1m05s", 65_000],
    ["1m5s", 65_000],
    ["1h2m3.5s", 3_723_500],
    ["500ms", 500],
    ["1.5h", 5_400_000],
    ["2m", 120_000],
    ["+1s", 1_000],
    [".5s", 500],
    ["5.s", 5_000],
    ["1.1s", 1_100],
    ["1500us", 1.5],
    ["1500\u00b5s", 1.5],
    ["1500\u03bcs", 1.5],
    ["2000000ns", 2],
    ["1h1ms", 3_600_001],
    ["0s", 0],
    ["0.000000001s", 0.000001],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseDuration(input, -1), expected, `parseDuration(${JSON.stringify(input)})`);
  }
});

Deno.test("parseDuration: empty, unparsable and negative values give the default", () => {
  const bad = [
    undefined,
    "",
    "abc",
    "10x",
    "s",
    ".s",
    ".",
    "1.5", // fractional seconds need a unit
    "-1",
    "-5s",
    " 10",
    "10 ",
    "1h 2m",
    "1d",
    "1S",
    "ms",
    "1..5s",
    "9999999999999999999999",
    "3000000h", // beyond Go's int64 nanosecond range
  ];
  for (const input of bad) {
    assert.equal(parseDuration(input, 4242), 4242, `parseDuration(${JSON.stringify(input)})`);
  }
});

Deno.test("parseDuration: property: any non-negative integer n is n seconds", () => {
  fc.assert(
    fc.property(fc.nat(), fc.integer(), (n, def) => {
      assert.equal(parseDuration(String(n), def), n * 1000);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Math.floor(Number.MAX_SAFE_INTEGER / 1000) }), (n) => {
      assert.equal(parseDuration(String(n), -1), n * 1000);
    }),
  );
});

Deno.test("parseDuration: property: h/m/s/ms compositions add up", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 10_000 }),
      (h, m, s, ms) => {
        const expected = ((h * 60 + m) * 60 + s) * 1000 + ms;
        assert.equal(parseDuration(`${h}h${m}m${s}s${ms}ms`, -1), expected);
        assert.equal(parseDuration(`${ms}ms${s}s${m}m${h}h`, -1), expected);
      },
    ),
  );
});

Deno.test("parseDuration: property: strings without digits fall back to the default", () => {
  fc.assert(
    fc.property(fc.string().filter((s) => !/[0-9]/.test(s)), fc.integer(), (s, def) => {
      assert.equal(parseDuration(s, def), def);
    }),
  );
});

Deno.test("parseDuration: property: results are the default or finite and non-negative", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."0123456789.hmsun-+x ") }), (s) => {
      const r = parseDuration(s, -7);
      assert.ok(r === -7 || (Number.isFinite(r) && r >= 0), `parseDuration(${JSON.stringify(s)}) = ${r}`);
    }),
  );
});

// ---------------------------------------------------------------------------
// parseBool / parseNonNegativeInt
// ---------------------------------------------------------------------------

Deno.test("parseBool: only exact 'true' is true; empty or undefined is the default", () => {
  assert.equal(parseBool("true", false), true);
  assert.equal(parseBool(undefined, true), true);
  assert.equal(parseBool(undefined, false), false);
  assert.equal(parseBool("", true), true);
  assert.equal(parseBool("", false), false);
  for (const v of ["TRUE", "True", "1", "yes", "on", "t", " true", "true ", "false"]) {
    assert.equal(parseBool(v, true), false, `parseBool(${JSON.stringify(v)})`);
  }
});

Deno.test("parseBool: property: any non-empty string other than 'true' is false", () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }).filter((s) => s !== "true"), fc.boolean(), (s, def) => {
      assert.equal(parseBool(s, def), false);
    }),
  );
});

Deno.test("parseNonNegativeInt: table", () => {
  const cases: [string | undefined, number][] = [
    [undefined, 99],
    ["", 99],
    ["0", 0],
    ["12", 12],
    ["+12", 12],
    ["007", 7],
    ["-1", 99],
    ["1.5", 99],
    ["1e3", 99],
    ["0x10", 99],
    [" 1", 99],
    ["abc", 99],
    ["99999999999999999999", 99],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseNonNegativeInt(input, 99), expected, `parseNonNegativeInt(${JSON.stringify(input)})`);
  }
});

Deno.test("parseNonNegativeInt: properties", () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.integer(), (n, def) => {
      assert.equal(parseNonNegativeInt(String(n), def), n);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ max: -1 }), fc.integer(), (n, def) => {
      assert.equal(parseNonNegativeInt(String(n), def), def);
    }),
  );
  fc.assert(
    fc.property(fc.string().filter((s) => /[^0-9+]/.test(s)), fc.integer(), (s, def) => {
      assert.equal(parseNonNegativeInt(s, def), def);
    }),
  );
});
