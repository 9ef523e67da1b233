/** Request bodies decoded as Go's encoding/json decodes them (src/domain/gojson.ts, decodeBody). */
import assert from "node:assert/strict";
import { Effect, Exit } from "effect";
import fc, { runs } from "../support/fc.ts";
import {
  decodeGoStruct,
  foldName,
  type GoStruct,
  JsonNumber,
  JsonObject,
  JsonSyntaxError,
  type JsonValue,
  MAX_JSON_DEPTH,
  parseJson,
} from "../../src/domain/gojson.ts";
import {
  decodeBody,
  DeleteFunctionRequest,
  FunctionDeployment,
  FunctionNamespace,
  goShapes,
  ScaleServiceRequest,
  SecretRequest,
} from "../../src/domain/types.ts";

/** A parsed value back to plain JS, the last repeated key winning (what JSON.parse gives). */
const plain = (v: JsonValue): unknown =>
  v instanceof JsonNumber
    ? v.value
    : v instanceof JsonObject
    ? Object.fromEntries(v.entries.map(([k, x]) => [k, plain(x)]))
    : Array.isArray(v)
    ? v.map(plain)
    : v;

const decode = <S extends Parameters<typeof decodeBody>[0]>(schema: S, text: string) => {
  const exit = Effect.runSyncExit(decodeBody(schema, text));
  if (Exit.isSuccess(exit)) return { ok: true as const, value: exit.value as Record<string, unknown> };
  const message = JSON.stringify(exit.cause);
  return { ok: false as const, message };
};

Deno.test("parseJson agrees with JSON.parse on valid JSON, and keeps number literals", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const text = JSON.stringify(v);
      assert.deepEqual(plain(parseJson(text)), JSON.parse(text));
    }),
    { numRuns: runs(300) },
  );
  const parsed = parseJson(' {"a": 1e3, "b": [2.0, -0], "c": "\\u00e9\\n"} ') as JsonObject;
  assert.deepEqual(parsed.entries.map(([k]) => k), ["a", "b", "c"]);
  assert.equal((parsed.entries[0][1] as JsonNumber).source, "1e3");
  assert.deepEqual((parsed.entries[1][1] as JsonNumber[]).map((n) => n.source), ["2.0", "-0"]);
  assert.equal(parsed.entries[2][1], "é\n");
});

Deno.test("parseJson refuses what JSON.parse (and Go) refuse", () => {
  for (
    const text of [
      "",
      " ",
      "{",
      "{'a':1}",
      "{a:1}",
      '{"a":1,}',
      "[1,]",
      "01",
      "1.",
      ".5",
      "+1",
      "1e",
      "-",
      "nul",
      "tru",
      '"\\x"',
      '"a\nb"',
      '"\u0001"',
      "NaN",
      "[1] x",
      '{"a":1}{"b":2}',
      "\ufeff{}",
    ]
  ) {
    assert.throws(() => parseJson(text), JsonSyntaxError, JSON.stringify(text));
    assert.throws(() => JSON.parse(text.replace(/^\ufeff/, "x")), SyntaxError, JSON.stringify(text));
  }
});

Deno.test("parseJson keeps repeated keys in document order; lone surrogate escapes become U+FFFD", () => {
  const o = parseJson('{"service":"a","Service":"b","service":"c"}') as JsonObject;
  assert.deepEqual(o.entries, [["service", "a"], ["Service", "b"], ["service", "c"]]);
  assert.equal(parseJson('"\\ud800x"'), "\ufffdx");
  assert.equal(parseJson('"\\udc00"'), "\ufffd");
  assert.equal(parseJson('"\\ud83d\\ude00"'), "😀");
  assert.equal(parseJson('"\\ud83dx\\ude00"'), "\ufffdx\ufffd");
});

Deno.test("parseJson refuses nesting deeper than Go's 10000", () => {
  assert.doesNotThrow(() => parseJson("[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH)));
  assert.throws(
    () => parseJson("[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1)),
    /exceeded max depth/,
  );
  // A megabyte of brackets is a clear error, not a stack overflow.
  assert.throws(() => parseJson("[".repeat(1 << 20)), /exceeded max depth/);
});

Deno.test("foldName folds as Go: ASCII case, and the long s, Kelvin sign and dotted/dotless i", () => {
  assert.equal(foldName("service"), foldName("SERVICE"));
  assert.equal(foldName("service"), foldName("ſervice")); // U+017F LATIN SMALL LETTER LONG S
  assert.equal(foldName("secrets"), foldName("ſecretſ"));
  assert.equal(foldName("limits"), foldName("lİmİts")); // U+0130: lowercase i in Go's simple mapping
  assert.equal(foldName("limits"), foldName("lımıts")); // U+0131 DOTLESS I uppercases to I
  assert.equal(foldName("k"), foldName("\u212a")); // KELVIN SIGN
  assert.notEqual(foldName("service"), foldName("servicé"));
  assert.notEqual(foldName("ss"), foldName("ß"));
});

Deno.test("every wire type has a Go shape with exactly its schema's fields", () => {
  for (const schema of [FunctionDeployment, ScaleServiceRequest, DeleteFunctionRequest, SecretRequest]) {
    const shape = goShapes.get(schema)!;
    assert.deepEqual(Object.keys(shape.fields).sort(), Object.keys(schema.fields).sort());
  }
  assert.deepEqual(Object.keys(goShapes.get(FunctionNamespace)!.fields).sort(), [
    "annotations",
    "labels",
    "name",
  ]);
});

Deno.test("keys that differ only in case: the last one in the document wins, as in Go", () => {
  const fd = (text: string) => {
    const r = decode(FunctionDeployment, text);
    assert.ok(r.ok, text);
    return r.value;
  };
  assert.equal(fd('{"service":"a","Service":"B","image":"i"}').service, "B");
  assert.equal(fd('{"Service":"B","service":"a","image":"i"}').service, "a");
  assert.equal(fd('{"service":"a","Service":"b","service":"c","image":"i"}').service, "c");
  assert.equal(fd('{"SERVICE":"x","ſervice":"y","image":"i"}').service, "y");
  // A null leaves a string as it was; for a map it is nil again.
  assert.equal(fd('{"service":"a","Service":null,"image":"i"}').service, "a");
  assert.equal(fd('{"service":"a","image":"i","labels":{"x":"1"},"Labels":null}').labels, undefined);
  // Absent (or null) required strings are Go's zero value "", which validation reports as required.
  assert.equal(fd('{"image":"i"}').service, "");
  assert.equal(fd('{"service":null,"image":"i"}').service, "");
  // A repeated map merges, keys kept exactly (map keys are not struct fields).
  assert.deepEqual(
    fd('{"service":"a","image":"i","envVars":{"A":"1","a":"2"},"EnvVars":{"B":"3","A":"4"}}').envVars,
    { A: "4", a: "2", B: "3" },
  );
  assert.deepEqual(fd('{"service":"a","image":"i","labels":{"Team":"x","team":"y"}}').labels, {
    Team: "x",
    team: "y",
  });
  // A null map value is "" (Go's zero value); a repeated struct pointer merges; a repeated slice is replaced.
  assert.deepEqual(fd('{"service":"a","image":"i","annotations":{"a":null}}').annotations, { a: "" });
  assert.deepEqual(
    fd('{"service":"a","image":"i","limits":{"memory":"1Mi"},"LIMITS":{"CPU":"1"}}').limits,
    { memory: "1Mi", cpu: "1" },
  );
  assert.deepEqual(fd('{"service":"a","image":"i","secrets":["x","y"],"Secrets":["z"]}').secrets, ["z"]);
  assert.deepEqual(fd('{"service":"a","image":"i","secrets":["x",null]}').secrets, ["x", ""]);
  // Unknown keys (including a deploy "replicas", which faas-provider's struct does not have) are ignored.
  const withExtra = fd('{"service":"a","image":"i","replicas":2147483648,"x":{"y":[1]}}');
  assert.equal("replicas" in withExtra, false);
  // A key named __proto__ is data, not a prototype.
  const proto = fd('{"service":"a","image":"i","envVars":{"__proto__":"x"}}').envVars as object;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.entries(proto), [["__proto__", "x"]]);

  const scale = (text: string) => decode(ScaleServiceRequest, text);
  assert.deepEqual(scale('{"Replicas":3,"replicas":2}'), { ok: true, value: { replicas: 2 } });
  assert.deepEqual(scale('{"replicas":2,"REPLICAS":3,"NameSpace":"x"}'), {
    ok: true,
    value: { replicas: 3, namespace: "x" },
  });
  const secret = decode(SecretRequest, '{"name":"a","NAME":"b","Value":"v"}');
  assert.deepEqual(secret, { ok: true, value: { name: "b", value: "v" } });
  const del = decode(DeleteFunctionRequest, '{"functionName":"a","FunctionName":"b"}');
  assert.deepEqual(del, { ok: true, value: { functionName: "b" } });
  const ns = decode(FunctionNamespace, '{"NAME":"n","labels":{"openfaas":"1"},"Labels":{"team":"x"}}');
  assert.deepEqual(ns, { ok: true, value: { name: "n", labels: { openfaas: "1", team: "x" } } });
});

Deno.test("replicas decode as Go's uint64, limited to Kubernetes' int32", () => {
  const scale = (text: string) => decode(ScaleServiceRequest, text);
  for (const n of ["0", "1", "2147483647"]) {
    assert.deepEqual(scale(`{"replicas":${n}}`), { ok: true, value: { replicas: Number(n) } });
  }
  for (
    const n of [
      "2147483648",
      "1e15",
      "-1",
      "1.5",
      "2.0",
      "1e2",
      "-0",
      "99999999999999999999999",
      '"3"',
      "true",
    ]
  ) {
    const r = scale(`{"replicas":${n}}`);
    assert.equal(r.ok, false, n);
    assert.match(r.message!, /invalid request body: replicas: /, n);
  }
  assert.match(scale('{"replicas":1e15}').message!, /replicas: 1e15 must be an integer from 0 to 2147483647/);
  // faas-netes would read a missing replicas as 0 (scale to zero); here it stays required.
  assert.match(scale("{}").message!, /replicas/);
  assert.match(scale('{"replicas":null}').message!, /replicas/);
});

Deno.test("type mismatches are 400s that name the field, maps and slices down to the key", () => {
  const cases: [string, RegExp][] = [
    ['{"service":5,"image":"i"}', /service: expected string, got number/],
    ['{"service":"a","image":"i","envVars":{"A":1}}', /envVars\.A: expected string, got number/],
    ['{"service":"a","image":"i","secrets":["a",2]}', /secrets\[1\]: expected string, got number/],
    ['{"service":"a","image":"i","secrets":"x"}', /secrets: expected array, got string/],
    ['{"service":"a","image":"i","limits":{"Memory":5}}', /limits\.memory: expected string/],
    [
      '{"service":"a","image":"i","readOnlyRootFilesystem":"true"}',
      /readOnlyRootFilesystem: expected boolean/,
    ],
    ["[]", /request body must be a JSON object/],
    ["null", /request body must be a JSON object/],
    ["{", /malformed JSON: unexpected end of JSON input/],
  ];
  for (const [text, message] of cases) {
    const r = decode(FunctionDeployment, text);
    assert.equal(r.ok, false, text);
    assert.match(r.message!, message, text);
  }
});

// ---------------------------------------------------------------------------
// Property: any casing of the keys, any repeats: the last occurrence decides
// ---------------------------------------------------------------------------

/** A random spelling of `name` that Go matches to it: case flips, `ſ` for s, Kelvin sign for k. */
const spelling = (name: string) =>
  fc.array(fc.nat(3), { minLength: name.length, maxLength: name.length }).map((choices) =>
    [...name].map((ch, i) => {
      const c = choices[i];
      if (ch === "s" && c === 3) return "ſ";
      if (ch === "k" && c === 3) return "\u212a";
      return c % 2 === 0 ? ch.toLowerCase() : ch.toUpperCase();
    }).join("")
  );

const stringFields = ["service", "image", "namespace", "envProcess"] as const;
const value = fc.stringMatching(/^[a-z0-9]{0,8}$/);
const mapValue = fc.dictionary(fc.stringMatching(/^[A-Za-z_]{1,4}$/), value, { maxKeys: 3 });

type Occurrence = { field: string; key: string; value: unknown };

const occurrence: fc.Arbitrary<Occurrence> = fc.oneof(
  fc.constantFrom(...stringFields).chain((field) =>
    fc.record({ field: fc.constant(field), key: spelling(field), value })
  ),
  fc.constantFrom("labels", "envVars", "annotations").chain((field) =>
    fc.record({ field: fc.constant(field), key: spelling(field), value: mapValue })
  ),
  fc.record({
    field: fc.constant("secrets"),
    key: spelling("secrets"),
    value: fc.array(value, { maxLength: 3 }),
  }),
);

Deno.test("property: whatever the casing and repeats, each field is what Go would decode", () => {
  fc.assert(
    fc.property(fc.array(occurrence, { minLength: 1, maxLength: 12 }), (occurrences) => {
      const text = `{${
        occurrences.map((o) => `${JSON.stringify(o.key)}:${JSON.stringify(o.value)}`).join(",")
      }}`;
      // The model: strings and slices take the last occurrence; maps merge in document order.
      const expected: Record<string, unknown> = { service: "", image: "" };
      for (const o of occurrences) {
        expected[o.field] = typeof o.value === "object" && !Array.isArray(o.value)
          ? { ...(expected[o.field] as object | undefined), ...(o.value as object) }
          : o.value;
      }
      const r = decode(FunctionDeployment, text);
      assert.ok(r.ok, text);
      assert.deepEqual(r.value, expected, text);
    }),
    { numRuns: runs(300) },
  );
});

Deno.test("property: decodeGoStruct ignores keys that fold to no field", () => {
  const shape: GoStruct = { kind: "struct", fields: { name: { kind: "string" } } };
  fc.assert(
    fc.property(fc.string(), value, (key, v) => {
      fc.pre(foldName(key) !== foldName("name"));
      assert.deepEqual(decodeGoStruct(shape, new JsonObject([[key, v]])), {});
    }),
    { numRuns: runs(200) },
  );
});
