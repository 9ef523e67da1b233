/**
 * Finding and reading kubeconfig files: the explicit `--kubeconfig` path, else
 * the existing files of `KUBECONFIG`, else `~/.kube/config`.
 */
import { fail, type KubeconfigDoc, KubeconfigError, mergeKubeconfigs, parseKubeconfig } from "./document.ts";

/** Environment variables, as `Deno.env.toObject()` gives them. */
export type Env = Readonly<Record<string, string | undefined>>;

const notFound = (file: string, message: string): never => {
  throw new KubeconfigError({ message, file, notFound: true });
};

const expandHome = (p: string, env: Env): string => {
  const home = env.HOME ?? env.USERPROFILE;
  if (home && (p === "~" || p.startsWith("~/"))) return home + p.slice(1);
  return p;
};

const exists = async (p: string): Promise<boolean> => {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
};

/** Why a file could not be read, as the end of a sentence: "does not exist", "cannot be read (...)". */
export const fileProblem = (e: unknown): string =>
  e instanceof Deno.errors.NotFound ? "does not exist" : `cannot be read (${(e as Error).message})`;

/** PEM data has at least one `-----BEGIN` line. */
export const isPem = (text: string): boolean => text.includes("-----BEGIN");

/** A file a kubeconfig field names; a failure names the kubeconfig, the field and the file. */
export const readText = async (p: string, file: string, field: string, what: string): Promise<string> => {
  try {
    return await Deno.readTextFile(p);
  } catch (e) {
    return fail(file, field, `kubeconfig ${file}: ${what} ${field} file ${p} ${fileProblem(e)}`);
  }
};

/**
 * The kubeconfig file(s) to load: the explicit path (which must exist), else the existing
 * files of `KUBECONFIG` (a `:`-separated list), else `~/.kube/config`.
 */
export async function findKubeconfigFiles(path: string | undefined, env: Env): Promise<string[]> {
  if (path !== undefined && path !== "") {
    const p = expandHome(path, env);
    if (!(await exists(p))) {
      notFound(p, `kubeconfig file ${p} (from --kubeconfig) does not exist or is not a file`);
    }
    return [p];
  }
  const list = env.KUBECONFIG;
  if (list !== undefined && list !== "") {
    const candidates = [...new Set(list.split(":").filter((p) => p !== "").map((p) => expandHome(p, env)))];
    const found: string[] = [];
    for (const p of candidates) if (await exists(p)) found.push(p);
    if (found.length === 0) {
      notFound(list, `none of the kubeconfig files in KUBECONFIG=${list} exists`);
    }
    return found;
  }
  const home = env.HOME ?? env.USERPROFILE;
  if (!home) {
    return notFound(
      "~/.kube/config",
      "no kubeconfig found: --kubeconfig is not given, KUBECONFIG is unset and HOME is unset",
    );
  }
  const p = `${home.replace(/\/+$/, "")}/.kube/config`;
  if (!(await exists(p))) {
    notFound(
      p,
      `no kubeconfig found: --kubeconfig is not given, KUBECONFIG is unset and ${p} does not exist`,
    );
  }
  return [p];
}

/** Reads and merges kubeconfig files. */
export async function readKubeconfigs(files: readonly string[]): Promise<KubeconfigDoc> {
  const docs: KubeconfigDoc[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(f);
    } catch (e) {
      return fail(f, undefined, `kubeconfig ${f} cannot be read: ${(e as Error).message}`);
    }
    docs.push(parseKubeconfig(text, f));
  }
  return mergeKubeconfigs(docs);
}
