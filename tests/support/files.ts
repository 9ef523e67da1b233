/** Files on disk for tests, and the kubeconfig errors reading them gives. */
import assert from "node:assert/strict";
import { KubeconfigError } from "../../src/kube/kubeconfig/document.ts";

/** A temp dir with the given files (paths relative to it); removed after `fn`. */
export async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "faas_deno_test_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      const path = `${dir}/${name}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Awaits `p`, which must reject with a KubeconfigError mentioning every fragment; returns the error. */
export const rejectsWith = async (p: Promise<unknown>, ...fragments: string[]): Promise<KubeconfigError> => {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof KubeconfigError, `expected a KubeconfigError, got ${String(err)}`);
  for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" should mention ${f}`);
  return err;
};
