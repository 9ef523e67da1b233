/**
 * Scalar values as faas-provider's read_config reads its environment: Go `time.Duration`s (or a bare
 * number of seconds), booleans (only "true" is true) and non-negative integers, each falling back to a
 * default when empty or malformed. The provider's configuration, the scaling labels and the simulated
 * watchdog all read their values this way.
 */

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n, // MICRO SIGN
  "\u03bcs": 1_000n, // GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Largest duration Go can represent (int64 nanoseconds). */
const MAX_DURATION_NS = (1n << 63n) - 1n;

const DECIMAL = /^\+?[0-9]+$/;

/** Parses a Go-style integer (optional `+`, decimal digits) that fits in a safe JS integer. */
export function parseUnsigned(value: string): number | undefined {
  if (!DECIMAL.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses a Go `time.Duration` string into nanoseconds, or undefined when invalid or negative. */
export function parseGoDurationNs(input: string): bigint | undefined {
  let s = input;
  if (s.startsWith("-")) return undefined; // negative timeouts are meaningless here
  if (s.startsWith("+")) s = s.slice(1);
  if (s === "0") return 0n;
  if (s === "") return undefined;

  const segment = /([0-9]*)(?:\.([0-9]*))?([^0-9.]*)/y;
  let total = 0n;
  let pos = 0;
  while (pos < s.length) {
    segment.lastIndex = pos;
    const m = segment.exec(s);
    if (m === null) return undefined;
    const [whole, intDigits, fracDigits = "", unit] = m;
    if (intDigits === "" && fracDigits === "") return undefined;
    const perUnit = NS_PER_UNIT[unit];
    if (perUnit === undefined) return undefined;
    // Bounded before BigInt: more than 19 significant digits overflow int64 nanoseconds (Go errors),
    // and fraction digits past the 19th are below a nanosecond (Go stops reading them too).
    const intPart = intDigits.replace(/^0+/, "");
    if (intPart.length > 19) return undefined;
    const fracPart = fracDigits.slice(0, 19);
    total += BigInt(intPart === "" ? "0" : intPart) * perUnit;
    if (fracPart !== "") {
      total += (BigInt(fracPart) * perUnit) / 10n ** BigInt(fracPart.length);
    }
    if (total > MAX_DURATION_NS) return undefined;
    pos += whole.length;
  }
  return total;
}

/**
 * Parses a timeout: a bare non-negative integer is a number of seconds,
 * anything else is read as a Go duration (`65s`, `1m05s`, `1h2m3.5s`, `500ms`).
 * Empty, unparsable or negative values yield `defaultMs`. Returns milliseconds
 * (fractional for sub-millisecond precision).
 */
export function parseDuration(value: string | undefined, defaultMs: number): number {
  if (value === undefined || value === "") return defaultMs;
  const seconds = parseUnsigned(value);
  if (seconds !== undefined) {
    const ms = seconds * 1000;
    return Number.isSafeInteger(ms) ? ms : defaultMs;
  }
  const ns = parseGoDurationNs(value);
  return ns === undefined ? defaultMs : Number(ns) / 1e6;
}

/** Only the exact string `true` is true; empty/undefined gives the default; anything else is false. */
export function parseBool(value: string | undefined, defaultValue: boolean): boolean {
  if (value === undefined || value === "") return defaultValue;
  return value === "true";
}

/** A non-negative decimal integer, or `defaultValue` when empty, negative or malformed. */
export function parseNonNegativeInt(value: string | undefined, defaultValue: number): number {
  if (value === undefined || value === "") return defaultValue;
  return parseUnsigned(value) ?? defaultValue;
}
