/**
 * The patch types the simulated API server accepts (`PATCH` by Content-Type): JSON merge patch
 * (RFC 7386), strategic merge patch (the subset kubectl sends), JSON patch (RFC 6902) and
 * server-side apply (approximated as a strategic merge of the applied object).
 */
import { ApiError } from "./apierror.ts";

export type PatchType = "merge" | "strategic" | "json" | "apply";

/** The patch type of a PATCH request's Content-Type; none (in process) is a JSON merge patch. */
export const patchTypeOf = (contentType: string | undefined): PatchType => {
  if (contentType === undefined) return "merge";
  if (contentType.includes("strategic-merge-patch")) return "strategic";
  if (contentType.includes("merge-patch+json")) return "merge";
  if (contentType.includes("json-patch+json")) return "json";
  if (contentType.includes("apply-patch")) return "apply";
  throw ApiError.of(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
  );
};

/** Applies a patch of one type to a document (server-side apply: a strategic merge of the applied object). */
export const applyPatch = (type: PatchType, doc: unknown, patch: unknown): unknown => {
  if (type === "json") return jsonPatch(doc, patch);
  if (!isObject(patch)) throw ApiError.of(400, "BadRequest", "the patch must be a JSON object");
  return type === "merge" ? mergePatch(doc, patch) : strategicMerge(doc, patch);
};

/** Applies a JSON merge patch (RFC 7386). */
const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === "object" && !Array.isArray(target)
    ? { ...(target as Record<string, unknown>) }
    : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
};

/** Merge keys of the strategic-merge-patch lists the simulated kinds use. */
const mergeKeyFor = (field: string, items: unknown[]): string | undefined => {
  switch (field) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "env":
    case "volumes":
    case "imagePullSecrets":
      return "name";
    case "volumeMounts":
      return "mountPath";
    case "conditions":
      return "type";
    case "ports":
      return items.some((i) => i && typeof i === "object" && "containerPort" in i) ? "containerPort" : "port";
    default:
      return undefined;
  }
};

export type Json = unknown;
export type JsonObject = Record<string, Json>;
const isObject = (v: unknown): v is JsonObject => !!v && typeof v === "object" && !Array.isArray(v);

/** Applies a strategic merge patch (the subset kubectl's client-side apply and `kubectl patch` send). */
export const strategicMerge = (current: Json, patch: Json): Json => {
  if (!isObject(patch)) return patch;
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return rest;
  }
  const out: JsonObject = isObject(current) ? { ...current } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) continue;
    if (value === null) {
      delete out[key];
    } else if (Array.isArray(value)) {
      const existing = Array.isArray(out[key]) ? (out[key] as Json[]) : [];
      const mergeKey = mergeKeyFor(key, [...existing, ...value]);
      if (!mergeKey || !value.every(isObject)) {
        out[key] = value;
        continue;
      }
      const merged = existing.map((x) => x);
      for (const item of value as JsonObject[]) {
        const at = merged.findIndex((m) => isObject(m) && m[mergeKey] === item[mergeKey]);
        if (item.$patch === "delete") {
          if (at >= 0) merged.splice(at, 1);
        } else if (at >= 0) merged[at] = strategicMerge(merged[at], item);
        else merged.push(strategicMerge(undefined, item));
      }
      const order = patch[`$setElementOrder/${key}`];
      if (Array.isArray(order)) {
        const rank = (x: Json) => {
          const i = order.findIndex((o) => isObject(o) && isObject(x) && o[mergeKey] === x[mergeKey]);
          return i < 0 ? order.length : i;
        };
        merged.sort((a, b) => rank(a) - rank(b));
      }
      out[key] = merged;
    } else if (isObject(value)) {
      if (value.$patch === "delete") delete out[key];
      else out[key] = strategicMerge(out[key], value);
    } else out[key] = value;
  }
  for (const [key, value] of Object.entries(patch)) {
    const m = /^\$deleteFromPrimitiveList\/(.+)$/.exec(key);
    if (m && Array.isArray(out[m[1]]) && Array.isArray(value)) {
      out[m[1]] = (out[m[1]] as Json[]).filter((x) => !value.includes(x));
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k)) delete out[k];
  }
  return out;
};

const pointer = (path: string): string[] => {
  if (path === "") return [];
  if (!path.startsWith("/")) throw ApiError.of(422, "Invalid", `invalid JSON pointer: "${path}"`);
  return path.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
};

/** Applies an RFC 6902 JSON patch (`kubectl patch --type=json`). */
export const jsonPatch = (doc: Json, ops: unknown): Json => {
  if (!Array.isArray(ops)) {
    throw ApiError.of(400, "BadRequest", "a JSON patch must be an array of operations");
  }
  let root = structuredClone(doc);
  const parentOf = (path: string[]): [Json, string] => {
    let node = root;
    for (const seg of path.slice(0, -1)) {
      node = Array.isArray(node) ? node[Number(seg)] : isObject(node) ? node[seg] : undefined;
      if (node === undefined) {
        throw ApiError.of(422, "Invalid", `the path "/${path.join("/")}" does not exist`);
      }
    }
    return [node, path[path.length - 1]];
  };
  const get = (path: string[]): Json => {
    if (path.length === 0) return root;
    const [parent, last] = parentOf(path);
    return Array.isArray(parent) ? parent[Number(last)] : (parent as JsonObject)[last];
  };
  const remove = (path: string[]): Json => {
    const [parent, last] = parentOf(path);
    if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
    if (!isObject(parent) || !(last in parent)) {
      throw ApiError.of(422, "Invalid", `the path "/${path.join("/")}" does not exist`);
    }
    const v = parent[last];
    delete parent[last];
    return v;
  };
  const add = (path: string[], value: Json, replace: boolean) => {
    if (path.length === 0) {
      root = value;
      return;
    }
    const [parent, last] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      if (replace) parent[i] = value;
      else parent.splice(i, 0, value);
    } else if (isObject(parent)) parent[last] = value;
    else throw ApiError.of(422, "Invalid", `the path "/${path.join("/")}" does not exist`);
  };
  for (const op of ops as JsonObject[]) {
    const path = pointer(String(op.path ?? ""));
    switch (op.op) {
      case "add":
        add(path, structuredClone(op.value), false);
        break;
      case "replace":
        if (get(path) === undefined) {
          throw ApiError.of(422, "Invalid", `the path "${op.path}" does not exist`);
        }
        add(path, structuredClone(op.value), true);
        break;
      case "remove":
        remove(path);
        break;
      case "move":
        add(path, remove(pointer(String(op.from ?? ""))), false);
        break;
      case "copy":
        add(path, structuredClone(get(pointer(String(op.from ?? "")))), false);
        break;
      case "test":
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value)) {
          throw ApiError.of(422, "Invalid", `the test operation on "${op.path}" failed`);
        }
        break;
      default:
        throw ApiError.of(400, "BadRequest", `unknown JSON patch operation "${String(op.op)}"`);
    }
  }
  return root;
};

/** The JSON merge patch (RFC 7386) that turns `from` into `to`. */
export const mergeDiff = (from: Json, to: Json): Json => {
  if (!isObject(from) || !isObject(to)) return to;
  const out: JsonObject = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (JSON.stringify(from[k]) === JSON.stringify(v)) continue;
    out[k] = isObject(from[k]) && isObject(v) ? mergeDiff(from[k], v) : v;
  }
  return out;
};
