/** Docker/OCI image references (the distribution/reference grammar): parsing and validation. */
import { quote } from "./validation.ts";

/** Maximum length of the name part (domain + path, without tag or digest), as in distribution/reference. */
const IMAGE_NAME_MAX_LENGTH = 255;
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
