/**
 * Three provider processes (`deno task start --kubeconfig ...`) against the simulator served over HTTP, in
 * real time: `kubectl get lease -n openfaas` shows one holder; stopping it moves the Lease to another
 * replica at once (it releases on shutdown).
 */
import assert from "node:assert/strict";
import { servedSimWithKubeconfig } from "../support/simcluster.ts";
import { Kinds } from "../../sim/kinds.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";

const main = new URL("../../main.ts", import.meta.url).pathname;
const runMain = ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-run", main];

interface Process {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  output: string;
  readonly exited: Promise<Deno.CommandStatus>;
}

const start = (name: string, kubeconfig: string): Process => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...runMain, "--kubeconfig", kubeconfig],
    env: { port: "0", host: "127.0.0.1", POD_NAME: name },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const p: Process = { name, child, output: "", exited: child.status };
  (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) p.output += chunk;
  })().catch(() => {});
  return p;
};

/** Polls `f` every 100 ms of real time until it returns a value, at most `ms`. */
const eventually = async <T>(what: string, ms: number, f: () => T | undefined | Promise<T | undefined>) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms`);
};

Deno.test({
  name:
    "three provider processes on one cluster over HTTP: one holder, and a stopped holder hands over within 20 s",
  ignore: !kubectlPath,
  fn: async () => {
    const served = await servedSimWithKubeconfig();
    const { cluster, sim, kubeconfig } = served;
    const processes = ["faas-deno-a", "faas-deno-b", "faas-deno-c"].map((n) => start(n, kubeconfig));
    try {
      for (const p of processes) {
        await eventually(
          `${p.name} serving`,
          30_000,
          () => /faas-provider API on/.test(p.output) || undefined,
        );
      }
      const holderOf = () => cluster.store.peek(Kinds.Lease, "openfaas", "faas-deno")?.spec?.holderIdentity;
      const holder = await eventually("a holder", 10_000, () => holderOf() || undefined);
      assert.ok(processes.some((p) => p.name === holder), holder);
      const get = await kubectl(sim.url, "get", "lease", "-n", "openfaas");
      assert.equal(get.code, 0, get.stderr);
      const rows = get.stdout.trim().split("\n").slice(1).map((l) => l.split(/\s+/));
      assert.deepEqual(rows.filter((r) => r[0] === "faas-deno").map((r) => r.slice(0, 2)), [[
        "faas-deno",
        holder,
      ]]);
      // Every replica also announces itself in a membership Lease of its own (load sharing).
      assert.deepEqual(
        rows.filter((r) => r[0].startsWith("faas-deno-member-")).map((r) => r[1]).sort(),
        processes.map((p) => p.name),
      );
      // The start-up lines say who leads.
      assert.match(
        processes.find((p) => p.name === holder)!.output,
        /leader election: faas-deno-\w now leads/,
      );
      const leader = processes.find((p) => p.name === holder)!;
      // The leader reads the two others' load over HTTP (their membership Leases give address and token).
      const leaderUrl = leader.output.match(/faas-provider API on (http:\/\/\S+)/)![1];
      await eventually("the leader reads two members", 15_000, async () => {
        const text = await (await fetch(`${leaderUrl}/metrics`)).text();
        return text.includes(`provider_load_members{identity="${holder}"} 2`) || undefined;
      });
      const stoppedAt = Date.now();
      leader.child.kill("SIGTERM");
      assert.equal((await leader.exited).code, 0);
      const next = await eventually("a new holder", 20_000, () => {
        const h = holderOf();
        return h && h !== holder ? h : undefined;
      });
      assert.ok(Date.now() - stoppedAt < 20_000);
      assert.ok(processes.some((p) => p !== leader && p.name === next), next);
    } finally {
      for (const p of processes) {
        try {
          p.child.kill("SIGTERM");
        } catch { /* already gone */ }
        await p.exited;
      }
      await served.close();
    }
  },
});
