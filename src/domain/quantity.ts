/**
 * Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource) as a value type: parsing,
 * canonical form, comparison, and the validation of resource requests and limits.
 */
import { quote, tooLong } from "./validation.ts";

export type QuantityFormat = "DecimalSI" | "BinarySI" | "DecimalExponent";

/**
 * A parsed Kubernetes quantity. The value is exact: an integer number of nano
 * units (10^-9 of the base unit, i.e. of a core or of a byte).
 */
export interface Quantity {
  readonly nanos: bigint;
  readonly format: QuantityFormat;
  /**
   * The input string when Kubernetes would keep it verbatim when serialising
   * (its parser caches "already canonical looking" strings), else undefined.
   */
  readonly verbatim: string | undefined;
}

const QUANTITY_PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

const NANO = 1_000_000_000n;
/** Binary quantities are capped at 2^63-1 (in base units) by Kubernetes. */
const MAX_INT64 = (1n << 63n) - 1n;
const MAX_BINARY_NANOS = MAX_INT64 * NANO;
/**
 * Decimal exponents beyond this are rejected. Kubernetes accepts anything that
 * fits an int64 (and silently wraps it to int32); nobody means 1e1000 bytes.
 */
const MAX_DECIMAL_EXPONENT = 1000;

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
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
const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_SUFFIX_BY_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_SUFFIX_BY_POWER = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/**
 * QUANTITY_PATTERN split into sign, digits, fraction and suffix. The suffix must
 * start with a letter or a sign, so the integer digits and the suffix digits can
 * never compete for the same characters (the pattern as Kubernetes writes it
 * backtracks quadratically on a long run of digits that ends badly).
 */
const QUANTITY_SYNTAX = /^([+-]?)([0-9]*)(?:\.([0-9]*))?((?:[eEinumkKMGTP]+[-+]?|[-+])[0-9]*)?$/;

/**
 * Longest quantity accepted. Kubernetes sets no length, but a value it can hold
 * (at most 2^63-1, at most 9 decimal places) takes about 32 characters to write.
 */
export const QUANTITY_MAX_LENGTH = 64;

const abs = (n: bigint): bigint => (n < 0n ? -n : n);
const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Divides, rounding away from zero (inf.RoundUp); `divisor` must be positive. */
const divideAwayFromZero = (value: bigint, divisor: bigint): bigint => {
  const q = value / divisor;
  if (q * divisor === value) return q;
  return value < 0n ? q - 1n : q + 1n;
};

const interpretSuffix = (
  suffix: string,
): { format: QuantityFormat; base: 2 | 10; exponent: number } | undefined => {
  if (Object.hasOwn(DECIMAL_SUFFIXES, suffix)) {
    return { format: "DecimalSI", base: 10, exponent: DECIMAL_SUFFIXES[suffix] };
  }
  if (Object.hasOwn(BINARY_SUFFIXES, suffix)) {
    return { format: "BinarySI", base: 2, exponent: BINARY_SUFFIXES[suffix] };
  }
  const match = /^[eE]([+-]?[0-9]+)$/.exec(suffix);
  if (match === null) return undefined;
  const exponent = Number(match[1]);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > MAX_DECIMAL_EXPONENT) return undefined;
  return { format: "DecimalExponent", base: 10, exponent };
};

/**
 * Reproduces the fast path of Kubernetes' ParseQuantity, which keeps the input
 * string verbatim when it "looks canonical" (and then String() returns it).
 */
const verbatimString = (
  input: string,
  intDigits: string,
  fracDigits: string,
  format: QuantityFormat,
  exponent: number,
): string | undefined => {
  if (input === "0") return input;
  const num = intDigits.replace(/^0+/, "") || "0";
  if (format === "BinarySI") {
    if (fracDigits.length !== 0) return undefined;
    const precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
    if (precision < 0) return undefined;
    const value = BigInt(num);
    if ((value << BigInt(exponent)) > MAX_INT64) return undefined;
    return (value & 7n) !== 0n ? input : undefined;
  }
  if (18 - (num.length + fracDigits.length) < 0) return undefined;
  const scale = exponent - fracDigits.length;
  if (scale < -9) return undefined;
  const shifted = num + fracDigits;
  return scale % 3 === 0 && !shifted.endsWith("000") && shifted[0] !== "0" ? input : undefined;
};

/**
 * Parses a Kubernetes quantity (`<signedNumber><suffix>`). Values finer than a
 * nano unit are rounded away from zero to the next nano, binary-suffixed values
 * are capped at 2^63-1, as Kubernetes does. Returns undefined when invalid.
 *
 * Slightly stricter than Kubernetes: the number must contain at least one digit
 * (Kubernetes parses "." and "-" as zero), decimal exponents are limited to
 * +-1000 and the text to QUANTITY_MAX_LENGTH characters.
 */
export function parseQuantity(s: string): Quantity | undefined {
  if (s.length > QUANTITY_MAX_LENGTH) return undefined;
  const match = QUANTITY_SYNTAX.exec(s);
  if (match === null) return undefined;
  const [, sign, intDigits, fracDigits = "", suffix = ""] = match;
  if (intDigits.length + fracDigits.length === 0) return undefined;
  const interpreted = interpretSuffix(suffix);
  if (interpreted === undefined) return undefined;
  const { base, exponent } = interpreted;
  let format = interpreted.format;
  if (base === 10 && intDigits.replace(/^0+/, "").length + exponent > MAX_DECIMAL_EXPONENT) return undefined;

  const mantissa = BigInt(intDigits + fracDigits || "0") * (sign === "-" ? -1n : 1n);
  let nanos: bigint;
  if (base === 10) {
    const shift = exponent - fracDigits.length + 9;
    nanos = shift >= 0 ? mantissa * pow10(shift) : divideAwayFromZero(mantissa, pow10(-shift));
  } else {
    nanos = divideAwayFromZero(mantissa * (1n << BigInt(exponent)) * NANO, pow10(fracDigits.length));
    if (abs(nanos) > MAX_BINARY_NANOS) nanos = nanos < 0n ? -MAX_BINARY_NANOS : MAX_BINARY_NANOS;
    if (abs(nanos) < NANO && nanos !== 0n) format = "DecimalSI";
  }
  return {
    nanos,
    format,
    verbatim: verbatimString(s, intDigits, fracDigits, interpreted.format, exponent),
  };
}

/**
 * The canonical form of a quantity (Kubernetes' CanonicalizeBytes): no
 * fractional digits, the largest possible suffix, and the suffix family of the
 * input (binary only for integral values of at least 1Ki, else decimal).
 */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return "0";
  let format = q.format;
  if (format === "BinarySI" && (abs(q.nanos) < 1024n * NANO || q.nanos % NANO !== 0n)) format = "DecimalSI";

  if (format === "BinarySI") {
    let units = q.nanos / NANO;
    let power = 0;
    while (abs(units) >= 1024n && units % 1024n === 0n && power < BINARY_SUFFIX_BY_POWER.length - 1) {
      units /= 1024n;
      power++;
    }
    return `${units}${BINARY_SUFFIX_BY_POWER[power]}`;
  }

  let mantissa = q.nanos;
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  while (exponent % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  const decimalSuffix = DECIMAL_SUFFIX_BY_EXPONENT.get(exponent);
  if (format === "DecimalSI" && decimalSuffix !== undefined) return `${mantissa}${decimalSuffix}`;
  return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
}

/**
 * The canonical string of a quantity, e.g. `0.5` -> `500m`, `1024Mi` -> `1Gi`,
 * `1.5Gi` -> `1536Mi`, `2000` -> `2k`, `1e3` -> `1e3` (exponent inputs keep the
 * exponent notation). Undefined when the input is not a valid quantity.
 */
export function canonicalQuantity(s: string): string | undefined {
  const q = parseQuantity(s);
  return q === undefined ? undefined : formatQuantity(q);
}

/**
 * Exactly what Kubernetes' `Quantity.String()` (and the API server) reports
 * after parsing `s`: the canonical form, except that inputs its parser deems
 * already canonical are echoed verbatim (e.g. `1.500` or `+1` stay as written).
 */
export function kubernetesQuantityString(s: string): string | undefined {
  const q = parseQuantity(s);
  return q === undefined ? undefined : q.verbatim ?? formatQuantity(q);
}

const toQuantity = (q: Quantity | string): Quantity => {
  if (typeof q !== "string") return q;
  const parsed = parseQuantity(q);
  if (parsed === undefined) throw new RangeError(`${quote(q)} is not a valid quantity`);
  return parsed;
};

/** -1, 0 or 1. Strings are parsed; an invalid string throws a RangeError. */
export function compareQuantity(a: Quantity | string, b: Quantity | string): number {
  const x = toQuantity(a).nanos;
  const y = toQuantity(b).nanos;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The value in base units (cores, bytes) as a float. An invalid string throws a RangeError. */
export function quantityToNumber(q: Quantity | string): number {
  const { nanos } = toQuantity(q);
  return Number(nanos / NANO) + Number(nanos % NANO) / 1e9;
}

/** A valid, non-negative Kubernetes quantity. */
export function validateResourceQuantity(field: string, value: string): string | undefined {
  if (value.length > QUANTITY_MAX_LENGTH) return tooLong(field, value, QUANTITY_MAX_LENGTH, "quantity");
  const q = parseQuantity(value);
  if (q === undefined) {
    return `${field}: ${
      quote(value)
    } is not a valid quantity: must match ${QUANTITY_PATTERN} e.g. 128Mi, 0.5, 100m`;
  }
  if (q.nanos < 0n) return `${field}: ${quote(value)} is not a valid quantity: must not be negative`;
  return undefined;
}

export interface ResourceAmounts {
  readonly memory?: string | undefined;
  readonly cpu?: string | undefined;
}

const present = (value: string | undefined): value is string => value !== undefined && value !== "";

/**
 * `requests.x <= limits.x` for memory and cpu. Fields that are missing, empty
 * or unparseable are skipped (report those with validateResourceQuantity).
 */
export function validateRequestsWithinLimits(
  requests?: ResourceAmounts,
  limits?: ResourceAmounts,
): string | undefined {
  for (const resource of ["memory", "cpu"] as const) {
    const request = requests?.[resource];
    const limit = limits?.[resource];
    if (!present(request) || !present(limit)) continue;
    const r = parseQuantity(request);
    const l = parseQuantity(limit);
    if (r === undefined || l === undefined) continue;
    if (r.nanos > l.nanos) {
      return `requests.${resource} (${request}) must be less than or equal to limits.${resource} (${limit})`;
    }
  }
  return undefined;
}

/**
 * Validates optional requests and limits together: every present, non-empty
 * value must be a valid non-negative quantity, and requests must not exceed
 * limits. Returns the first problem found.
 */
export function validateResources(requests?: ResourceAmounts, limits?: ResourceAmounts): string | undefined {
  for (const [name, amounts] of [["requests", requests], ["limits", limits]] as const) {
    for (const resource of ["memory", "cpu"] as const) {
      const value = amounts?.[resource];
      if (!present(value)) continue;
      const message = validateResourceQuantity(`${name}.${resource}`, value);
      if (message !== undefined) return message;
    }
  }
  return validateRequestsWithinLimits(requests, limits);
}
