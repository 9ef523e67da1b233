/**
 * Pure validation of user input for the faas-provider API.
 *
 * Every `validate*` function returns `undefined` when the input is valid, or a
 * human readable message that starts with the offending field, e.g.
 * `service: "Foo_1" is not a valid name: ...`.
 *
 * The rules mirror what Kubernetes (and the OCI/Docker reference grammar) would
 * accept, so that a request that passes here is not rejected later by the API
 * server or the container runtime.
 */

/**
 * A value quoted for a message; a long one is cut (the message must not echo a
 * megabyte back), with its length.
 */
const quote = (value: string): string =>
  value.length <= QUOTE_MAX_LENGTH
    ? JSON.stringify(value)
    : `${JSON.stringify(`${value.slice(0, QUOTE_MAX_LENGTH)}...`)} (${value.length} characters)`;
const QUOTE_MAX_LENGTH = 512;

/** A map key as part of a field name in a message (`envVars.KEY`), cut when long. */
export const fieldKey = (key: string): string =>
  key.length <= QUOTE_MAX_LENGTH ? key : `${key.slice(0, QUOTE_MAX_LENGTH)}...`;

/**
 * Every check first bounds the length of its input, then runs patterns that are
 * linear: no nested or overlapping quantifiers, so a long near-miss cannot make
 * a regular expression backtrack for seconds. The bounds are Kubernetes' own
 * where it has one (names, labels, annotations) and documented in README.md.
 */
const tooLong = (field: string, value: string, max: number, what: string): string =>
  `${field}: ${quote(value)} is not a valid ${what}: must be at most ${max} characters`;

// ---------------------------------------------------------------------------
// Replicas
// ---------------------------------------------------------------------------

/** Kubernetes keeps replicas in an int32. */
export const MAX_REPLICAS = 2_147_483_647;

/** A replica count Kubernetes accepts: an integer from 0 to 2^31-1. */
export function validateReplicas(field: string, value: number): string | undefined {
  if (Number.isInteger(value) && value >= 0 && value <= MAX_REPLICAS) return undefined;
  return `${field}: ${value} must be an integer from 0 to ${MAX_REPLICAS}`;
}

// ---------------------------------------------------------------------------
// DNS names
// ---------------------------------------------------------------------------

// Kubernetes' `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, written so that no two quantifiers can match the same text.
const DNS1123_LABEL = /^[a-z0-9]+(?:-+[a-z0-9]+)*$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]+(?:-+[a-z0-9]+)*(?:\.[a-z0-9]+(?:-+[a-z0-9]+)*)*$/;

export const DNS1123_LABEL_MAX_LENGTH = 63;
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

/** True when `value` is an RFC 1123 label as Kubernetes defines it (non-empty, at most 63 chars). */
export const isDnsLabel = (value: string): boolean =>
  value.length > 0 && value.length <= DNS1123_LABEL_MAX_LENGTH && DNS1123_LABEL.test(value);

/** True when `value` is an RFC 1123 subdomain as Kubernetes defines it (non-empty, at most 253 chars). */
export const isDnsSubdomain = (value: string): boolean =>
  value.length > 0 && value.length <= DNS1123_SUBDOMAIN_MAX_LENGTH && DNS1123_SUBDOMAIN.test(value);

/** Kubernetes DNS-1123 label: `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, 1..63 characters. */
export function validateDnsLabel(field: string, value: string): string | undefined {
  if (isDnsLabel(value)) return undefined;
  return `${field}: ${
    quote(value)
  } is not a valid name: must be a lowercase RFC 1123 label (a-z, 0-9, '-', start and end alphanumeric, at most 63 characters)`;
}

/** Kubernetes DNS-1123 subdomain: dot separated labels, 1..253 characters. */
export function validateDnsSubdomain(field: string, value: string): string | undefined {
  if (isDnsSubdomain(value)) return undefined;
  return `${field}: ${
    quote(value)
  } is not a valid name: must be a lowercase RFC 1123 subdomain (dot separated labels of a-z, 0-9, '-', start and end alphanumeric, at most 253 characters)`;
}

/**
 * Names of secrets created through the provider API. Kubernetes itself allows a
 * DNS-1123 subdomain for secret names, but the provider restricts them to a
 * DNS-1123 label (at most 63 characters) so they can also be used as volume
 * names and path segments.
 */
export function validateSecretName(field: string, value: string): string | undefined {
  return validateDnsLabel(field, value);
}

// ---------------------------------------------------------------------------
// Image references (distribution/reference grammar)
// ---------------------------------------------------------------------------

/** Maximum length of the name part (domain + path, without tag or digest), as in distribution/reference. */
export const IMAGE_NAME_MAX_LENGTH = 255;
/** A tag is at most 128 characters. */
const IMAGE_TAG_MAX_LENGTH = 128;
/** A digest: the registered algorithms need at most 135 characters (`sha512:` + 128 hex); 256 leaves room. */
const IMAGE_DIGEST_MAX_LENGTH = 256;
/** The longest reference: name, `:` tag and `@` digest. Checked before anything else. */
export const IMAGE_REF_MAX_LENGTH = IMAGE_NAME_MAX_LENGTH + 1 + IMAGE_TAG_MAX_LENGTH + 1 +
  IMAGE_DIGEST_MAX_LENGTH;

const DOMAIN_COMPONENT = "[a-zA-Z0-9]+(?:-+[a-zA-Z0-9]+)*";
const IMAGE_DOMAIN = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
);
/** Components joined by `.`, `_`, `__` or dashes (docker's separator), each separator between alphanumerics. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_{1,2}|-+)[a-z0-9]+)*$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):([0-9a-fA-F]{32,})$/;
/** Algorithms registered with go-digest, which checks their exact length and lowercase hex. */
const KNOWN_DIGEST_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

export interface ImageReference {
  /** Registry host with optional port, or undefined for the default registry. */
  readonly domain: string | undefined;
  /** Repository path, e.g. `openfaas/alpine`. */
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

/** Splits the first path component off as a domain the same way docker does. */
const splitDomain = (name: string): { domain: string | undefined; path: string } => {
  const slash = name.indexOf("/");
  if (slash < 0) return { domain: undefined, path: name };
  const first = name.slice(0, slash);
  const isDomain = first.includes(".") || first.includes(":") || first === "localhost" ||
    first !== first.toLowerCase();
  return isDomain ? { domain: first, path: name.slice(slash + 1) } : { domain: undefined, path: name };
};

const isValidDigest = (digest: string): boolean => {
  const match = DIGEST.exec(digest);
  if (match === null) return false;
  const expected = KNOWN_DIGEST_LENGTHS[match[1]];
  if (expected === undefined) return true;
  return match[2].length === expected && /^[0-9a-f]+$/.test(match[2]);
};

type ImageParse = { readonly ok: true; readonly ref: ImageReference } | {
  readonly ok: false;
  readonly reason: string;
};

const parseImage = (value: string): ImageParse => {
  if (value.length === 0) return { ok: false, reason: "must not be empty" };
  if (value.length > IMAGE_REF_MAX_LENGTH) {
    return { ok: false, reason: `must be at most ${IMAGE_REF_MAX_LENGTH} characters` };
  }
  let rest = value;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.length > IMAGE_DIGEST_MAX_LENGTH || !isValidDigest(digest)) {
      return {
        ok: false,
        reason: "invalid digest: must be algorithm:hex, e.g. sha256: followed by 64 lowercase hex characters",
      };
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag.length > IMAGE_TAG_MAX_LENGTH || !IMAGE_TAG.test(tag)) {
      return {
        ok: false,
        reason: "invalid tag: must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
      };
    }
  }
  if (rest.length === 0) return { ok: false, reason: "repository name must not be empty" };
  if (rest.length > IMAGE_NAME_MAX_LENGTH) {
    return {
      ok: false,
      reason: `repository name must not be longer than ${IMAGE_NAME_MAX_LENGTH} characters`,
    };
  }
  const { domain, path } = splitDomain(rest);
  if (domain !== undefined && !IMAGE_DOMAIN.test(domain)) {
    return { ok: false, reason: `invalid registry host ${quote(domain)}` };
  }
  if (/[A-Z]/.test(path)) return { ok: false, reason: "repository name must be lowercase" };
  if (!path.split("/").every((component) => PATH_COMPONENT.test(component))) {
    return {
      ok: false,
      reason:
        "invalid repository path: '/' separated components of a-z and 0-9 joined by '.', '_', '__' or '-'",
    };
  }
  return { ok: true, ref: { domain, path, tag, digest } };
};

/** Parses a Docker/OCI image reference, or returns undefined when it is not valid. */
export function parseImageRef(value: string): ImageReference | undefined {
  const result = parseImage(value);
  return result.ok ? result.ref : undefined;
}

/**
 * Docker/OCI image reference: `[domain[:port]/]path[:tag][@algorithm:hex]`.
 * The first component is a domain when it contains `.` or `:`, is `localhost`
 * or contains an uppercase letter (as in docker's normalisation).
 */
export function validateImageRef(field: string, value: string): string | undefined {
  const result = parseImage(value);
  return result.ok ? undefined : `${field}: ${quote(value)} is not a valid image reference: ${result.reason}`;
}

// ---------------------------------------------------------------------------
// Resource quantities (k8s.io/apimachinery/pkg/api/resource)
// ---------------------------------------------------------------------------

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

export const QUANTITY_PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

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

// ---------------------------------------------------------------------------
// Labels and annotations
// ---------------------------------------------------------------------------

// Kubernetes' `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, with no two quantifiers over the same text.
const QUALIFIED_NAME = /^[A-Za-z0-9]+(?:[-_.]+[A-Za-z0-9]+)*$/;
export const QUALIFIED_NAME_MAX_LENGTH = 63;
export const LABEL_VALUE_MAX_LENGTH = 63;
/** A label or annotation key: a DNS subdomain prefix (253), `/`, a name (63). */
export const LABEL_KEY_MAX_LENGTH = DNS1123_SUBDOMAIN_MAX_LENGTH + 1 + QUALIFIED_NAME_MAX_LENGTH;
/** Kubernetes' limit on the summed byte length of all annotation keys and values. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES = 256 * 1024;

const NAME_PART_RULE =
  "1-63 characters of a-z, A-Z, 0-9, '-', '_' or '.', starting and ending with an alphanumeric character";

/** Why `key` is not a qualified name (`[prefix/]name`), or undefined when it is one. */
const qualifiedNameProblem = (key: string): string | undefined => {
  if (key.length > LABEL_KEY_MAX_LENGTH) return `must be at most ${LABEL_KEY_MAX_LENGTH} characters`;
  const parts = key.split("/");
  if (parts.length > 2) return "must be a name with an optional DNS subdomain prefix and one '/'";
  const name = parts.length === 2 ? parts[1] : parts[0];
  if (parts.length === 2 && !isDnsSubdomain(parts[0])) {
    return "prefix must be a lowercase RFC 1123 subdomain of at most 253 characters";
  }
  if (name.length === 0 || name.length > QUALIFIED_NAME_MAX_LENGTH || !QUALIFIED_NAME.test(name)) {
    return `name part must be ${NAME_PART_RULE}`;
  }
  return undefined;
};

/** Label key: optional DNS-1123 subdomain prefix and `/`, then a name of at most 63 characters. */
export function validateLabelKey(field: string, key: string): string | undefined {
  const problem = qualifiedNameProblem(key);
  return problem === undefined ? undefined : `${field}: ${quote(key)} is not a valid label key: ${problem}`;
}

export const isLabelValue = (value: string): boolean =>
  value.length === 0 || (value.length <= LABEL_VALUE_MAX_LENGTH && QUALIFIED_NAME.test(value));

/** Label value: empty, or at most 63 characters of the qualified name pattern. */
export function validateLabelValue(field: string, key: string, value: string): string | undefined {
  if (isLabelValue(value)) return undefined;
  return `${field}[${quote(key)}]: ${
    quote(value)
  } is not a valid label value: must be empty or ${NAME_PART_RULE}`;
}

/**
 * Annotation key: the label key rule, checked (as Kubernetes does) on the
 * lowercased key, so an uppercase prefix is allowed.
 */
export function validateAnnotationKey(field: string, key: string): string | undefined {
  const problem = qualifiedNameProblem(key.length > LABEL_KEY_MAX_LENGTH ? key : key.toLowerCase());
  return problem === undefined
    ? undefined
    : `${field}: ${quote(key)} is not a valid annotation key: ${problem}`;
}

/** UTF-8 byte length, counted without encoding. */
export const utf8Length = (s: string): number => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
};

/** The summed UTF-8 byte length of all keys and values must be at most 256 KiB. */
export function validateAnnotationsSize(
  annotations: Readonly<Record<string, string>>,
  field = "annotations",
): string | undefined {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) total += utf8Length(key) + utf8Length(value);
  if (total <= TOTAL_ANNOTATION_SIZE_LIMIT_BYTES) return undefined;
  return `${field}: total size of keys and values (${total} bytes) must not exceed ${TOTAL_ANNOTATION_SIZE_LIMIT_BYTES} bytes`;
}

/** Every key and value of a label map; the first problem found. */
export function validateLabels(field: string, labels: Readonly<Record<string, string>>): string | undefined {
  for (const [key, value] of Object.entries(labels)) {
    const message = validateLabelKey(field, key) ?? validateLabelValue(field, key, value);
    if (message !== undefined) return message;
  }
  return undefined;
}

/** The total size, then every annotation key; the first problem found. */
export function validateAnnotations(
  field: string,
  annotations: Readonly<Record<string, string>>,
): string | undefined {
  const size = validateAnnotationsSize(annotations, field);
  if (size !== undefined) return size;
  for (const key of Object.keys(annotations)) {
    const message = validateAnnotationKey(field, key);
    if (message !== undefined) return message;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------

const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * Linux refuses to exec a process when one `NAME=value` string of its
 * environment, with its terminating NUL, is longer than MAX_ARG_STRLEN
 * (32 pages: 131072 bytes); the container would never start.
 */
export const ENV_ENTRY_MAX_BYTES = 131_071;

/** Classic Kubernetes env var name rule: `^[-._a-zA-Z][-._a-zA-Z0-9]*$`. */
export function validateEnvVarName(field: string, name: string): string | undefined {
  if (name.length > ENV_ENTRY_MAX_BYTES - 1) {
    return tooLong(field, name, ENV_ENTRY_MAX_BYTES - 1, "environment variable name");
  }
  if (ENV_VAR_NAME.test(name)) return undefined;
  return `${field}: ${
    quote(name)
  } is not a valid environment variable name: must consist of letters, digits, '_', '-' or '.', and must not start with a digit`;
}

/**
 * An environment variable's value as a process can receive it: no NUL
 * character (environment strings are NUL-terminated), and `name=value` within
 * ENV_ENTRY_MAX_BYTES.
 */
export function validateEnvVarValue(field: string, name: string, value: string): string | undefined {
  if (value.includes("\0")) {
    return `${field}: the value must not contain a NUL character (\\u0000): no process can receive it`;
  }
  const bytes = utf8Length(name) + 1 + utf8Length(value);
  if (bytes > ENV_ENTRY_MAX_BYTES) {
    return `${field}: the value is too long: ${name}=value is ${bytes} bytes, at most ${ENV_ENTRY_MAX_BYTES} can be passed to a process`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Placement constraints
// ---------------------------------------------------------------------------

/**
 * Splits `key=value` or `key == value` (whitespace around the parts is
 * ignored). Only the form is checked here; see validateConstraint.
 */
export function parseConstraint(c: string): [string, string] | undefined {
  const text = c.trim();
  const double = text.indexOf("==");
  const at = double >= 0 ? double : text.indexOf("=");
  if (at < 0) return undefined;
  const key = text.slice(0, at).trim();
  const value = text.slice(at + (double >= 0 ? 2 : 1)).trim();
  if (key.length === 0 || value.includes("=")) return undefined;
  return [key, value];
}

/** A label key, `==` and a label value, with room for spaces around them. */
export const CONSTRAINT_MAX_LENGTH = 512;

/** A constraint `key=value` / `key == value` whose key and value are valid label key and value. */
export function validateConstraint(field: string, c: string): string | undefined {
  if (c.length > CONSTRAINT_MAX_LENGTH) return tooLong(field, c, CONSTRAINT_MAX_LENGTH, "constraint");
  const parsed = parseConstraint(c);
  if (parsed === undefined) {
    return `${field}: ${quote(c)} is not a valid constraint: must be of the form key=value or key == value`;
  }
  const [key, value] = parsed;
  if (qualifiedNameProblem(key) !== undefined) {
    return `${field}: ${quote(c)} is not a valid constraint: ${qualifiedNameProblem(key)} (key ${
      quote(key)
    })`;
  }
  if (!isLabelValue(value)) {
    return `${field}: ${quote(c)} is not a valid constraint: value ${
      quote(value)
    } must be empty or ${NAME_PART_RULE}`;
  }
  return undefined;
}
