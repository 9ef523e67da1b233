/**
 * The kubeconfig document: parsing one file (relative file references made
 * absolute against its directory) and merging several the way kubectl merges a
 * `KUBECONFIG` list, plus the error every kubeconfig module reports with.
 */
import YAML from "yaml";
import { Data } from "effect";

/** A kubeconfig (or in-cluster configuration) that cannot be used; the message names the file and field. */
export class KubeconfigError extends Data.TaggedError("KubeconfigError")<{
  readonly message: string;
  readonly file?: string;
  readonly field?: string;
  /** Set when no kubeconfig file was found at all (as opposed to one that is broken). */
  readonly notFound?: boolean;
}> {}

export type Obj = Record<string, unknown>;

interface Named {
  readonly name: string;
  readonly value: Obj;
  /** The file that defined it (relative paths in it are already absolute). */
  readonly file: string;
}

/** One or more kubeconfig files, merged. */
export interface KubeconfigDoc {
  readonly files: readonly string[];
  readonly currentContext?: string;
  readonly clusters: readonly Named[];
  readonly users: readonly Named[];
  readonly contexts: readonly Named[];
}

export const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Throws a {@link KubeconfigError} naming the file and, when known, the field. */
export const fail = (file: string, field: string | undefined, message: string): never => {
  throw new KubeconfigError({ message, file, field });
};

const dirname = (p: string): string => {
  const i = p.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return p.slice(0, i);
};

const isAbsolute = (p: string) => p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p);

/** `p` relative to `dir` unless absolute. */
const resolvePath = (dir: string, p: string): string =>
  isAbsolute(p) ? p : `${dir === "/" ? "" : dir.replace(/\/+$/, "")}/${p.replace(/^\.\//, "")}`;

/** The named list `key` (clusters/users/contexts) with each entry's body (`cluster`/`user`/`context`). */
const namedList = (doc: Obj, key: string, body: string, file: string): Named[] => {
  const list = doc[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) fail(file, key, `kubeconfig ${file}: field ${key} must be a list`);
  return (list as unknown[]).map((item, i) => {
    if (!isObj(item) || typeof item.name !== "string" || item.name === "") {
      return fail(file, `${key}[${i}].name`, `kubeconfig ${file}: entry ${i} of ${key} has no name`);
    }
    const value = item[body] ?? {};
    if (!isObj(value)) {
      return fail(
        file,
        `${key}[${i}].${body}`,
        `kubeconfig ${file}: ${body} "${item.name}" must be a mapping`,
      );
    }
    return { name: item.name, value, file };
  });
};

/** Makes the file references of a cluster or user entry absolute, relative to the kubeconfig's directory. */
const absolutize = (entry: Named, keys: readonly string[]): Named => {
  const dir = dirname(entry.file);
  const value: Obj = { ...entry.value };
  for (const k of keys) {
    if (typeof value[k] === "string" && value[k] !== "") value[k] = resolvePath(dir, value[k] as string);
  }
  // client-go resolves an exec command only when it is a path, not a name looked up in PATH.
  if (isObj(value.exec) && typeof value.exec.command === "string" && value.exec.command.includes("/")) {
    value.exec = { ...value.exec, command: resolvePath(dir, value.exec.command) };
  }
  return { ...entry, value };
};

/** Parses one kubeconfig file's text; relative file references become absolute against its directory. */
export function parseKubeconfig(text: string, file: string): KubeconfigDoc {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    const first = String((e as Error).message ?? e).split("\n")[0];
    return fail(file, undefined, `kubeconfig ${file} is not valid YAML: ${first}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) return fail(file, undefined, `kubeconfig ${file} must be a YAML mapping`);
  const cc = doc["current-context"];
  return {
    files: [file],
    currentContext: typeof cc === "string" && cc !== "" ? cc : undefined,
    clusters: namedList(doc, "clusters", "cluster", file).map((c) =>
      absolutize(c, ["certificate-authority"])
    ),
    users: namedList(doc, "users", "user", file).map((u) =>
      absolutize(u, ["client-certificate", "client-key", "tokenFile"])
    ),
    contexts: namedList(doc, "contexts", "context", file),
  };
}

/** Merges kubeconfigs with kubectl's rules: the first file to define a name (or current-context) wins. */
export function mergeKubeconfigs(docs: readonly KubeconfigDoc[]): KubeconfigDoc {
  const firstByName = (lists: (readonly Named[])[]) => {
    const seen = new Map<string, Named>();
    for (const list of lists) for (const n of list) if (!seen.has(n.name)) seen.set(n.name, n);
    return [...seen.values()];
  };
  return {
    files: docs.flatMap((d) => d.files),
    currentContext: docs.find((d) => d.currentContext !== undefined)?.currentContext,
    clusters: firstByName(docs.map((d) => d.clusters)),
    users: firstByName(docs.map((d) => d.users)),
    contexts: firstByName(docs.map((d) => d.contexts)),
  };
}
