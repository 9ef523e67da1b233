/**
 * Kubernetes REST paths (`/api/v1/namespaces/{ns}/pods/{name}/log`,
 * `/apis/{group}/{version}/{plural}`) as the kinds a cluster serves now: a path of a kind that is
 * not served (a custom resource without its CRD) or in the wrong scope is no resource.
 */
import { findKind, type KindInfo, type KindRegistry } from "./kinds.ts";

export interface ParsedPath {
  readonly kind: KindInfo;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

/** A resource path of a kind `kinds` serves (built-in, or a custom resource while its CRD exists). */
export const parsePath = (path: string, kinds: KindRegistry): ParsedPath | undefined => {
  const seg = path.split("?")[0].split("/").filter((s) => s !== "").map(decodeURIComponent);
  let group: string, version: string, rest: string[];
  if (seg[0] === "api" && seg.length >= 2) {
    group = "";
    version = seg[1];
    rest = seg.slice(2);
  } else if (seg[0] === "apis" && seg.length >= 3) {
    group = seg[1];
    version = seg[2];
    rest = seg.slice(3);
  } else return undefined;
  if (rest.length === 0) return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const kind = findKind(group, version, rest[0], kinds);
  if (!kind) return undefined;
  if (namespace !== undefined && !kind.namespaced) return undefined;
  return { kind, namespace, name: rest[1], subresource: rest[2] };
};
