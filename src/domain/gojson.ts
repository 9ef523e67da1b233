/**
 * JSON request bodies decoded the way Go's encoding/json decodes them into the
 * faas-provider structs (which is what the Gateway, faas-cli and faas-netes do):
 *
 * - an object key selects a struct field by exact name, else by a case-insensitive
 *   (Unicode-folded) match, and when several keys select one field the last one in
 *   the document wins; JSON.parse cannot tell, as it keeps one value per exact key;
 * - a repeated map field (`labels`, `envVars`, ...) or struct pointer (`limits`)
 *   merges into what was decoded before; a repeated slice is replaced;
 * - map keys are kept exactly (only struct field names fold);
 * - `null` sets a map, slice or pointer to nil and leaves a string, bool or number
 *   as it was; `null` inside a map or slice is the zero value `""`;
 * - an unsigned integer (`replicas`, Go uint64) must be written as plain decimal
 *   digits: `-1`, `1.5`, `2.0` and `1e3` are refused, as strconv.ParseUint does;
 * - invalid UTF-16 surrogate escapes become U+FFFD; nesting deeper than 10000 is refused.
 *
 * The parser is a single left-to-right pass (linear in the input, no backtracking).
 */

/** A JSON number, kept as written (Go decides per target type whether the literal fits). */
export class JsonNumber {
  constructor(readonly source: string) {}
  get value(): number {
    return Number(this.source);
  }
}

/** A JSON object with every key in document order, repeated keys included. */
export class JsonObject {
  constructor(readonly entries: ReadonlyArray<readonly [string, JsonValue]>) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonObject | JsonValue[];

/** Malformed JSON, with a Go-like description. */
export class JsonSyntaxError extends Error {}

/** Go's encoding/json refuses to nest deeper than this. */
export const MAX_JSON_DEPTH = 10_000;

const describe = (text: string, at: number): string =>
  at >= text.length
    ? "unexpected end of JSON input"
    : `invalid character ${JSON.stringify(String.fromCodePoint(text.codePointAt(at)!))} at offset ${at}`;

const isDigit = (c: number) => c >= 48 && c <= 57;
const hexValue = (c: number) =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

/** Parses JSON text (RFC 8259, as strict as Go) keeping key order, repeated keys and number literals. */
export function parseJson(text: string): JsonValue {
  let pos = 0;
  const fail = (): never => {
    throw new JsonSyntaxError(describe(text, pos));
  };
  const skipSpace = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const expect = (word: string) => {
    for (let i = 0; i < word.length; i++, pos++) if (text.charCodeAt(pos) !== word.charCodeAt(i)) fail();
  };
  const hex4 = (): number => {
    let v = 0;
    for (let i = 0; i < 4; i++, pos++) {
      const h = hexValue(text.charCodeAt(pos));
      if (h < 0) fail();
      v = v * 16 + h;
    }
    return v;
  };
  const string = (): string => {
    pos++; // opening quote
    let out = "";
    let start = pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (Number.isNaN(c) || c < 0x20) fail();
      if (c === 0x22) {
        out += text.slice(start, pos++);
        return out;
      }
      if (c !== 0x5c) {
        // A lone surrogate cannot come from UTF-8 input; treat it as Go treats invalid UTF-8.
        if (c >= 0xd800 && c <= 0xdfff) {
          const next = text.charCodeAt(pos + 1);
          if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            pos += 2;
            continue;
          }
          out += text.slice(start, pos) + "\ufffd";
          start = ++pos;
          continue;
        }
        pos++;
        continue;
      }
      out += text.slice(start, pos);
      pos++;
      const e = text.charCodeAt(pos++);
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += "\\";
          break;
        case 0x2f:
          out += "/";
          break;
        case 0x62:
          out += "\b";
          break;
        case 0x66:
          out += "\f";
          break;
        case 0x6e:
          out += "\n";
          break;
        case 0x72:
          out += "\r";
          break;
        case 0x74:
          out += "\t";
          break;
        case 0x75: {
          const unit = hex4();
          if (unit >= 0xd800 && unit <= 0xdbff) {
            // A high surrogate pairs only with an escaped low surrogate right after it.
            if (text.charCodeAt(pos) === 0x5c && text.charCodeAt(pos + 1) === 0x75) {
              const save = pos;
              pos += 2;
              const low = hex4();
              if (low >= 0xdc00 && low <= 0xdfff) {
                out += String.fromCharCode(unit, low);
                break;
              }
              pos = save;
            }
            out += "\ufffd";
          } else if (unit >= 0xdc00 && unit <= 0xdfff) out += "\ufffd";
          else out += String.fromCharCode(unit);
          break;
        }
        default:
          pos--;
          fail();
      }
      start = pos;
    }
  };
  const number = (): JsonNumber => {
    const start = pos;
    if (text.charCodeAt(pos) === 0x2d) pos++;
    if (text.charCodeAt(pos) === 0x30) pos++;
    else if (isDigit(text.charCodeAt(pos))) { while (isDigit(text.charCodeAt(pos))) pos++; }
    else fail();
    if (text.charCodeAt(pos) === 0x2e) {
      pos++;
      if (!isDigit(text.charCodeAt(pos))) fail();
      while (isDigit(text.charCodeAt(pos))) pos++;
    }
    const e = text.charCodeAt(pos);
    if (e === 0x65 || e === 0x45) {
      pos++;
      const sign = text.charCodeAt(pos);
      if (sign === 0x2b || sign === 0x2d) pos++;
      if (!isDigit(text.charCodeAt(pos))) fail();
      while (isDigit(text.charCodeAt(pos))) pos++;
    }
    return new JsonNumber(text.slice(start, pos));
  };
  const key = (): string => {
    skipSpace();
    if (text.charCodeAt(pos) !== 0x22) fail();
    const k = string();
    skipSpace();
    if (text.charCodeAt(pos) !== 0x3a) fail();
    pos++;
    return k;
  };
  // Iterative, with an explicit stack of open objects and arrays: deep nesting cannot overflow the call stack.
  type Open = { entries: [string, JsonValue][]; key: string } | { items: JsonValue[] };
  const open: Open[] = [];
  const deeper = () => {
    if (open.length >= MAX_JSON_DEPTH) throw new JsonSyntaxError(`exceeded max depth of ${MAX_JSON_DEPTH}`);
  };
  for (;;) {
    // A value starts here.
    skipSpace();
    let v: JsonValue;
    const c = text.charCodeAt(pos);
    if (c === 0x7b) { // {
      deeper();
      pos++;
      skipSpace();
      if (text.charCodeAt(pos) !== 0x7d) {
        open.push({ entries: [], key: key() });
        continue;
      }
      pos++;
      v = new JsonObject([]);
    } else if (c === 0x5b) { // [
      deeper();
      pos++;
      skipSpace();
      if (text.charCodeAt(pos) !== 0x5d) {
        open.push({ items: [] });
        continue;
      }
      pos++;
      v = [];
    } else if (c === 0x22) v = string();
    else if (c === 0x74) {
      expect("true");
      v = true;
    } else if (c === 0x66) {
      expect("false");
      v = false;
    } else if (c === 0x6e) {
      expect("null");
      v = null;
    } else if (c === 0x2d || isDigit(c)) v = number();
    else return fail();
    // The value is complete: add it to the innermost open container, closing those that end here.
    for (;;) {
      const top = open.at(-1);
      if (top === undefined) {
        skipSpace();
        if (pos < text.length) fail();
        return v;
      }
      skipSpace();
      const next = text.charCodeAt(pos);
      if ("entries" in top) {
        top.entries.push([top.key, v]);
        if (next === 0x2c) {
          pos++;
          top.key = key();
          break;
        }
        if (next !== 0x7d) fail();
        v = new JsonObject(top.entries);
      } else {
        top.items.push(v);
        if (next === 0x2c) {
          pos++;
          break;
        }
        if (next !== 0x5d) fail();
        v = top.items;
      }
      pos++;
      open.pop();
    }
  }
}

// ---------------------------------------------------------------------------
// Decoding into Go-shaped structs
// ---------------------------------------------------------------------------

/** The Go type of a struct field, as far as the faas-provider request types need. */
export type GoType =
  /** `string`; `zero` puts `""` in the result when the key is absent (a required field). */
  | { readonly kind: "string"; readonly zero?: boolean }
  | { readonly kind: "bool" }
  /** `uint64`, further limited to `max` (replicas: an int32 in Kubernetes). */
  | { readonly kind: "uint"; readonly max: number }
  /** `map[string]string` or `*map[string]string`. */
  | { readonly kind: "stringMap" }
  | { readonly kind: "stringSlice" }
  /** `*Struct` (or a struct at the top). */
  | GoStruct;

export interface GoStruct {
  readonly kind: "struct";
  readonly fields: Readonly<Record<string, GoType>>;
}

/** A value that does not fit its field; `path` names the field (`envVars.A`, `secrets[0]`). */
export class GoTypeError extends Error {
  constructor(readonly path: string, readonly problem: string) {
    super(`${path}: ${problem}`);
  }
}

/**
 * Go's key folding (encoding/json foldName): ASCII letters by case, any other
 * character through simple upper(lower(c)), so `ſ` (long s) matches `s` and the
 * Kelvin sign matches `k`. JavaScript's full case mapping is used only where it
 * maps one character to one character, as Go's simple mapping does.
 */
export const foldName = (name: string): string => {
  let out = "";
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c < 0x80) {
      out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 32) : ch;
      continue;
    }
    const lower = simple(ch, ch.toLowerCase());
    out += simple(lower, lower.toUpperCase());
  }
  return out;
};

/** `mapped` when it is a single code point (a simple case mapping), else `ch` unchanged. */
const simple = (ch: string, mapped: string): string => {
  if (mapped === ch) return ch;
  // İ (U+0130) lowercases to "i" + combining dot in JavaScript; its simple mapping is "i".
  if (ch === "\u0130") return "i";
  return [...mapped].length === 1 ? mapped : ch;
};

const typeName = (v: JsonValue): string =>
  v === null
    ? "null"
    : typeof v === "string"
    ? "string"
    : typeof v === "boolean"
    ? "boolean"
    : v instanceof JsonNumber
    ? "number"
    : v instanceof JsonObject
    ? "object"
    : "array";

/** Sets an own property, even `__proto__`. */
const put = (target: Record<string, unknown>, key: string, value: unknown) => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
};

const UINT = /^(?:0|[1-9][0-9]*)$/;

const decodeValue = (type: GoType, v: JsonValue, current: unknown, path: string): unknown => {
  if (v === null) {
    // nil for maps, slices and pointers; no effect on strings, bools and numbers.
    return type.kind === "stringMap" || type.kind === "stringSlice" || type.kind === "struct"
      ? undefined
      : current;
  }
  const mismatch = (expected: string) => new GoTypeError(path, `expected ${expected}, got ${typeName(v)}`);
  switch (type.kind) {
    case "string":
      if (typeof v !== "string") throw mismatch("string");
      return v;
    case "bool":
      if (typeof v !== "boolean") throw mismatch("boolean");
      return v;
    case "uint": {
      if (!(v instanceof JsonNumber)) throw mismatch("an integer");
      const n = v.value;
      if (!UINT.test(v.source) || n > type.max) {
        throw new GoTypeError(path, `${v.source} must be an integer from 0 to ${type.max}`);
      }
      return n;
    }
    case "stringMap": {
      if (!(v instanceof JsonObject)) throw mismatch("object");
      const map = (current as Record<string, unknown> | undefined) ?? {};
      for (const [key, item] of v.entries) {
        if (item !== null && typeof item !== "string") {
          const shown = key.length <= 100 ? key : `${key.slice(0, 100)}...`;
          throw new GoTypeError(`${path}.${shown}`, `expected string, got ${typeName(item)}`);
        }
        put(map, key, item ?? "");
      }
      return map;
    }
    case "stringSlice": {
      if (!Array.isArray(v)) throw mismatch("array");
      return v.map((item, i) => {
        if (item !== null && typeof item !== "string") {
          throw new GoTypeError(`${path}[${i}]`, `expected string, got ${typeName(item)}`);
        }
        return item ?? "";
      });
    }
    case "struct":
      if (!(v instanceof JsonObject)) throw mismatch("object");
      return decodeStruct(type, v, (current as Record<string, unknown> | undefined) ?? {}, `${path}.`);
  }
};

/** Field lookup per struct type: exact names, then folded names (first field wins a fold clash, as in Go). */
const lookups = new WeakMap<GoStruct, { exact: Map<string, string>; folded: Map<string, string> }>();
const lookupOf = (type: GoStruct) => {
  let l = lookups.get(type);
  if (!l) {
    const names = Object.keys(type.fields);
    const folded = new Map<string, string>();
    for (const name of names) if (!folded.has(foldName(name))) folded.set(foldName(name), name);
    lookups.set(type, l = { exact: new Map(names.map((n) => [n, n])), folded });
  }
  return l;
};

const decodeStruct = (
  type: GoStruct,
  obj: JsonObject,
  target: Record<string, unknown>,
  prefix: string,
): Record<string, unknown> => {
  const { exact, folded } = lookupOf(type);
  for (const [key, v] of obj.entries) {
    const name = exact.get(key) ?? folded.get(foldName(key));
    if (name === undefined) continue; // unknown keys are ignored
    const decoded = decodeValue(type.fields[name], v, target[name], `${prefix}${name}`);
    if (decoded === undefined) delete target[name];
    else target[name] = decoded;
  }
  return target;
};

/**
 * Decodes a parsed JSON object into a plain object with the struct's field
 * names, as Go would fill the struct. Absent fields stay absent, except
 * required strings (`zero`), which become `""` like Go's zero value.
 * Throws GoTypeError when a value does not fit its field.
 */
export function decodeGoStruct(type: GoStruct, value: JsonObject): Record<string, unknown> {
  const out = decodeStruct(type, value, {}, "");
  for (const [name, field] of Object.entries(type.fields)) {
    if (field.kind === "string" && field.zero && out[name] === undefined) out[name] = "";
  }
  return out;
}
