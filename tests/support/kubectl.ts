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

/** A long-running kubectl (`get --watch`): its output line by line; `stop` kills it and returns stderr. */
export const kubectlSpawn = async (url: string, ...args: string[]) => {
  const dir = await Deno.makeTempDir({ prefix: "sim-kubectl-" });
  await Deno.writeTextFile(`${dir}/config`, kubeconfigFor(url));
  const child = new Deno.Command(kubectlPath!, {
    args: ["--kubeconfig", `${dir}/config`, "--cache-dir", `${dir}/cache`, ...args],
    env: { HOME: dir },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const stderr = new Response(child.stderr).text();
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
  })();
  return {
    lines,
    /** Waits (wall time, bounded) until a line matches. */
    waitFor: async (pattern: RegExp, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!lines.some((l) => pattern.test(l))) {
        if (Date.now() > deadline) {
          throw new Error(`kubectl printed no line matching ${pattern}: ${lines.join("\n")}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await reading;
      const err = await stderr;
      await Deno.remove(dir, { recursive: true });
      return err;
    },
  };
};
