/** Query parameters parsed as Go parses them: url.ParseQuery, strconv.Atoi/ParseBool, time.Parse(RFC3339). */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import { parseGoBool, parseGoInt, parseGoRfc3339 } from "../../src/domain/goparse.ts";
import { goQuery, parseGoQuery, queryUnescape } from "../../src/http/query.ts";

Deno.test("parseGoInt accepts what strconv.Atoi accepts on 64-bit", () => {
  const ok: [string, bigint][] = [
    ["0", 0n],
    ["5", 5n],
    ["+5", 5n],
    ["-5", -5n],
    ["007", 7n],
    ["-0", 0n],
    ["9223372036854775807", 9223372036854775807n],
    ["-9223372036854775808", -9223372036854775808n],
    [`${"0".repeat(50)}12`, 12n],
  ];
  for (const [s, n] of ok) assert.equal(parseGoInt(s), n, s);
  for (
    const s of [
      "",
      "+",
      "-",
      "1e3",
      "0x10",
      "1.5",
      "1_000",
      " 1",
      "1 ",
      "9223372036854775808",
      "-9223372036854775809",
      "99999999999999999999",
      "١",
      "Infinity",
    ]
  ) {
    assert.equal(parseGoInt(s), undefined, s);
  }
});

Deno.test("property: parseGoInt round-trips every int64 and refuses every other number", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (n) => {
      assert.equal(parseGoInt(String(n)), n);
    }),
    { numRuns: runs(300) },
  );
  fc.assert(
    fc.property(fc.bigInt({ min: 1n << 63n, max: 1n << 70n }), fc.boolean(), (n, neg) => {
      assert.equal(parseGoInt(String(neg ? -n - 1n : n)), undefined);
    }),
    { numRuns: runs(100) },
  );
});

Deno.test("parseGoBool is strconv.ParseBool", () => {
  for (const s of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(parseGoBool(s), true, s);
  for (const s of ["0", "f", "F", "FALSE", "false", "False"]) assert.equal(parseGoBool(s), false, s);
  for (const s of ["", "yes", "no", "tRuE", "TRue", "on", " true", "2"]) {
    assert.equal(parseGoBool(s), undefined, s);
  }
});

Deno.test("parseGoRfc3339 accepts what Go's time.Parse(time.RFC3339) accepts", () => {
  const ok: [string, string][] = [
    ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"],
    ["2026-01-02T03:04:05.123456789Z", "2026-01-02T03:04:05.123Z"],
    ["2026-01-02T03:04:05,5Z", "2026-01-02T03:04:05.500Z"],
    ["2026-01-02T03:04:05+02:00", "2026-01-02T01:04:05.000Z"],
    ["2026-01-02T03:04:05-00:30", "2026-01-02T03:34:05.000Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
    // Go's general layout parser (the fast path's fallback) takes a one-digit hour and offsets up to 24:60.
    ["2026-01-02T3:04:05Z", "2026-01-02T03:04:05.000Z"],
    ["2026-01-02T03:04:05+24:00", "2026-01-01T03:04:05.000Z"],
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
  ];
  for (const [s, iso] of ok) assert.equal(parseGoRfc3339(s)?.toISOString(), iso, s);
  for (
    const s of [
      "",
      "2026-01-02",
      "2026-01-02T03:04:05", // no zone: JavaScript's Date reads local time, Go refuses
      "2026-01-02T03:04Z",
      "2026-02-30T00:00:00Z", // JavaScript's Date rolls over to March 2
      "2023-02-29T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-01-02T24:00:00Z",
      "2026-01-02T03:60:00Z",
      "2026-01-02T03:04:60Z",
      "2026-01-02t03:04:05z",
      "2026-01-02 03:04:05Z",
      "2026-01-02T03:04:05+0200",
      "2026-01-02T03:04:05+25:00",
      "2026-01-02T03:04:05+02:61",
      "2026-01-02T03:04:05.Z",
      "2026-01-02T03:04:05Z ",
      "+2026-01-02T03:04:05Z",
      "Fri, 02 Jan 2026 03:04:05 GMT",
      "1767323045",
    ]
  ) {
    assert.equal(parseGoRfc3339(s), undefined, s);
  }
});

Deno.test("property: every RFC 3339 rendering of a date parses back to it", () => {
  fc.assert(
    fc.property(
      fc.date({
        min: new Date("0001-01-01T00:00:00Z"),
        max: new Date("9999-12-31T23:59:59Z"),
        noInvalidDate: true,
      }),
      (d) => {
        assert.equal(parseGoRfc3339(d.toISOString())?.getTime(), d.getTime());
      },
    ),
    { numRuns: runs(300) },
  );
});

Deno.test("parseGoQuery is url.ParseQuery: '&' pairs, ';' and bad escapes dropped, '+' a space", () => {
  const q = parseGoQuery("a=1&b=x+y&a=2&c&=e&d=%41%2b&bad=%zz&semi=1;2&%6Eame=fn&&last=%");
  assert.deepEqual(Object.fromEntries(q), {
    a: ["1", "2"],
    b: ["x y"],
    c: [""],
    "": ["e"],
    d: ["A+"],
    name: ["fn"],
  });
  assert.equal(queryUnescape("%e2%82%ac"), "€");
  assert.equal(queryUnescape("%"), undefined);
  assert.equal(queryUnescape("%4"), undefined);
  const g = goQuery("http://h/system/logs?tail=1&tail=2&name=a#frag");
  assert.equal(g.first("tail"), "1");
  assert.equal(g.last("tail"), "2");
  assert.equal(g.last("name"), "a");
  assert.equal(g.first("missing"), "");
});

Deno.test("property: parseGoQuery reads back what URLSearchParams writes", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.string()), { maxLength: 6 }), (pairs) => {
      const raw = new URLSearchParams(pairs).toString();
      const expected = new Map<string, string[]>();
      for (const [k, v] of pairs) expected.set(k, [...(expected.get(k) ?? []), v]);
      assert.deepEqual(parseGoQuery(raw), expected);
    }),
    { numRuns: runs(200) },
  );
});
