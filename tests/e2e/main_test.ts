/** The CLI: help, configuration errors, and the provider started against `deno task sim` through a kubeconfig. */
import assert from "node:assert/strict";
import { servedSimWithKubeconfig } from "../support/simcluster.ts";
import { Kinds } from "../../sim/kinds.ts";
import { runCommand } from "../support/command.ts";

const main = new URL("../../main.ts", import.meta.url).pathname;

/** `deno run` of main.ts with the permissions of `deno task start`. */
const runMain = ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-run", main];

const run = (args: string[], env: Record<string, string> = {}) =>
  runCommand(Deno.execPath(), [...runMain, ...args], env);

Deno.test("main: --help lists flags and variables; bad configuration stops with one clear line", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--kubeconfig/);
  assert.match(help.stdout, /function_namespace/);
  const bad = await run([], { image_pull_policy: "Sometimes" });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /image_pull_policy/);
  const flag = await run(["--nope"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /nope/);
  const missing = await run(["--kubeconfig", "/nonexistent/kubeconfig"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot connect to Kubernetes: .*\/nonexistent\/kubeconfig/);
  assert.doesNotMatch(missing.stderr, /at .*\.ts:\d+/, "no stack trace");
});

Deno.test("main: with --kubeconfig pointing at the simulator's API server it serves the same API", async () => {
  const served = await servedSimWithKubeconfig();
  const { cluster, kubeconfig } = served;
  const child = new Deno.Command(Deno.execPath(), {
    args: [...runMain, "--kubeconfig", kubeconfig],
    env: { port: "0", host: "127.0.0.1", scaling: "false" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stopped = false;
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "", url: string | undefined;
    const deadline = Date.now() + 30_000;
    while (!url && Date.now() < deadline) {
      const { done, value } = await reader.read();
      if (done) break;
      output += value;
      url = /faas-provider API on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    }
    assert.ok(url, output);
    assert.match(output, /backend: Kubernetes API at http:\/\/127\.0\.0\.1:\d+/);
    const deploy = await fetch(`${url}/system/functions`, {
      method: "POST",
      body: JSON.stringify({ service: "through-http", image: "functions/alpine:latest" }),
    });
    assert.equal(deploy.status, 202);
    await deploy.body?.cancel();
    const status = await (await fetch(`${url}/system/function/through-http`)).json();
    assert.equal(status.name, "through-http");
    assert.equal(status.replicas, 1);
    assert.ok(
      cluster.store.peek(Kinds.Deployment, "openfaas-fn", "through-http"),
      "created in the simulator",
    );
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    // SIGTERM: a clean shutdown, logged, exit code 0.
    child.kill("SIGTERM");
    stopped = true;
    // A shutdown that hangs is killed, and fails the signal assertion below instead of the whole run.
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const stderr = new Response(child.stderr).text();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      output += value;
    }
    const { code, signal } = await child.status;
    clearTimeout(killer);
    assert.equal(signal, null, `exited by itself, not killed by ${signal}: ${await stderr}`);
    assert.equal(code, 0, `exit code: ${await stderr}`);
    assert.match(output, /SIGTERM received/);
  } finally {
    if (!stopped) child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    await served.close();
  }
});
