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
export const quote = (value: string): string =>
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
export const tooLong = (field: string, value: string, max: number, what: string): string =>
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

const DNS1123_LABEL_MAX_LENGTH = 63;
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

/** True when `value` is an RFC 1123 label as Kubernetes defines it (non-empty, at most 63 chars). */
export const isDnsLabel = (value: string): boolean =>
  value.length > 0 && value.length <= DNS1123_LABEL_MAX_LENGTH && DNS1123_LABEL.test(value);

/** True when `value` is an RFC 1123 subdomain as Kubernetes defines it (non-empty, at most 253 chars). */
const isDnsSubdomain = (value: string): boolean =>
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
// Labels and annotations
// ---------------------------------------------------------------------------

// Kubernetes' `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, with no two quantifiers over the same text.
const QUALIFIED_NAME = /^[A-Za-z0-9]+(?:[-_.]+[A-Za-z0-9]+)*$/;
const QUALIFIED_NAME_MAX_LENGTH = 63;
const LABEL_VALUE_MAX_LENGTH = 63;
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

const isLabelValue = (value: string): boolean =>
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
