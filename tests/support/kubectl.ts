/** kubectl against the simulator's HTTP facade, for tests (needs kubectl on PATH and --allow-run). */
import { kubeconfigFor } from "../../sim/serve.ts";
import { runCommand } from "./command.ts";

/** Where kubectl is, or undefined (tests that need it are then ignored). */
export const kubectlPath = (() => {
  try {
    if (Deno.permissions.querySync({ name: "run", command: "kubectl" }).state !== "granted") return undefined;
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      try {
        if (dir && Deno.statSync(`${dir}/kubectl`).isFile) return `${dir}/kubectl`;
      } catch { /* not here */ }
    }
  } catch { /* no permission to look */ }
  return undefined;
})();

export const kubectl = async (url: string, ...args: string[]) => {
  const dir = await Deno.makeTempDir({ prefix: "sim-kubectl-" });
  try {
    await Deno.writeTextFile(`${dir}/config`, kubeconfigFor(url));
    return await runCommand(
      kubectlPath!,
      ["--kubeconfig", `${dir}/config`, "--cache-dir", `${dir}/cache`, ...args],
      { HOME: dir },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
};
