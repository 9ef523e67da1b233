/**
 * Pods reachable from the host, end to end in real time: the provider started with `--kubeconfig`
 * against the simulator served over HTTP with loopback pod IPs proxies invocations to the pods over
 * the real network, and the pods answer a plain HTTP client (curl) on their IPs.
 */
import assert from "node:assert/strict";
import { servedSimWithKubeconfig } from "../support/simcluster.ts";
import { Kinds } from "../../sim/kinds.ts";
import { runCommand } from "../support/command.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { assertRefused, loopbackPodIp, refuses } from "../support/podnet.ts";
import { eventually, programPath, startProviderProcess, startSimTask } from "../support/processes.ts";

const curlPath = programPath("curl");

/** GET of a pod's root with curl when it is installed, else fetch: the body. */
const getPod = async (ip: string): Promise<string> => {
  if (curlPath) {
    const r = await runCommand(curlPath, ["-sS", "--max-time", "10", `http://${ip}:8080/`]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }
  return await (await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(10_000) })).text();
};

/** Waits until the function has `n` available replicas (through the provider's API). */
const available = (url: string, name: string, n: number) =>
  eventually(`${name} with ${n} available replicas`, async () => {
    const res = await fetch(`${url}/system/function/${name}`);
    const body = res.status === 200 ? await res.json() : (await res.body?.cancel(), undefined);
    return body?.availableReplicas === n ? body : undefined;
  });

const post = async (url: string, body: unknown) => {
  const res = await fetch(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
};

Deno.test("e2e podnet: the provider on --kubeconfig invokes through pod IPs; scale up adds listeners, deleted pods refuse", async () => {
  const served = await servedSimWithKubeconfig({ podNetwork: "loopback" });
  const { cluster, kubeconfig } = served;
  const provider = await startProviderProcess(kubeconfig);
  try {
    const deployed = await post(`${provider.url}/system/functions`, {
      service: "env-e2e",
      image: "functions/alpine:latest",
      envProcess: "env",
      envVars: { greeting: "from-the-host" },
    });
    assert.equal(deployed.status, 202, deployed.text);
    await available(provider.url, "env-e2e", 1);
    const pods = () =>
      cluster.store.list(Kinds.Pod, "openfaas-fn").items.filter((p) =>
        p.metadata.labels?.faas_function === "env-e2e"
      );
    const [pod] = pods();
    const ip: string = pod.status.podIP;
    assert.match(ip, loopbackPodIp);
    // Through the provider (a real HTTP upstream to the pod IP from the EndpointSlice).
    const invoked = await eventually("an invocation through the provider", async () => {
      const r = await post(`${provider.url}/function/env-e2e`, "hi");
      return r.status === 200 ? r : undefined;
    });
    assert.match(invoked.text, /greeting=from-the-host/);
    assert.match(invoked.text, new RegExp(`HOSTNAME=${pod.metadata.name}`));
    // Straight to the pod, as curl would: the simulated classic watchdog runs `env`.
    const direct = await getPod(ip);
    assert.match(direct, /greeting=from-the-host/);
    assert.match(direct, /Http_Method=GET/);
    // Scale up: the new pods listen too.
    const scaled = await post(`${provider.url}/system/scale-function/env-e2e`, {
      serviceName: "env-e2e",
      replicas: 3,
    });
    assert.equal(scaled.status, 202, scaled.text);
    await available(provider.url, "env-e2e", 3);
    assert.equal(cluster.listeners!.listening, 3);
    for (const p of pods()) {
      assert.match(await getPod(p.status.podIP), new RegExp(`HOSTNAME=${p.metadata.name}`));
    }
    // A deleted pod stops listening.
    cluster.store.delete(Kinds.Pod, "openfaas-fn", pod.metadata.name!, { gracePeriodSeconds: 0 });
    await assertRefused(ip);
    await available(provider.url, "env-e2e", 3);
    assert.equal(cluster.listeners!.listening, 3);
    // Invocations keep working on the remaining and replacement pods.
    for (let i = 0; i < 6; i++) {
      const r = await eventually("an invocation after the deletion", async () => {
        const r = await post(`${provider.url}/function/env-e2e`, "again");
        return r.status === 200 ? r : undefined;
      });
      assert.doesNotMatch(r.text, new RegExp(`HOSTNAME=${pod.metadata.name}\\n`));
    }
  } finally {
    const status = await provider.stop();
    await served.close();
    assert.equal(status.code, 0, provider.stderr.text);
  }
  assert.equal(cluster.listeners!.listening, 0, "the cluster's shutdown closed every pod socket");
});

Deno.test({
  name:
    "e2e podnet: `deno task sim --port 0 --pod-cidr 127.30.0.0/16` with the provider on its kubeconfig: invocations through pod IPs, curl to a pod",
  ignore: !kubectlPath,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "podnet-task-" });
    const kubeconfig = `${dir}/kubeconfig`;
    // Not the default range: a simulator started this way keeps clear of other simulators' pods.
    const sim = await startSimTask(kubeconfig, ["--nodes", "2", "--pod-cidr", "127.30.0.0/16"]);
    let provider: Awaited<ReturnType<typeof startProviderProcess>> | undefined;
    let ips: string[] = [];
    try {
      assert.match(sim.stdout.text, /pods: listening on their IPs in 127\.30\.0\.0\/16/);
      provider = await startProviderProcess(kubeconfig);
      const deployed = await post(`${provider.url}/system/functions`, {
        service: "echo-task",
        image: "ghcr.io/openfaas/of-echo:latest",
        // A short drain, so that the deleted pod terminates (and closes its socket) soon.
        envVars: { write_timeout: "1s" },
      });
      assert.equal(deployed.status, 202, deployed.text);
      await available(provider.url, "echo-task", 1);
      const invoked = await eventually("an invocation through the provider", async () => {
        const r = await post(`${provider!.url}/function/echo-task/path?q=1`, "ping");
        return r.status === 200 ? r : undefined;
      });
      const echoed = JSON.parse(invoked.text);
      assert.equal(echoed.path, "/path");
      assert.equal(echoed.body, "ping");
      // kubectl sees the pod IP, and the pod answers on it.
      const got = await kubectl(
        sim.url,
        "get",
        "pods",
        "-n",
        "openfaas-fn",
        "-o",
        "jsonpath={.items[*].status.podIP}",
      );
      assert.equal(got.code, 0, got.stderr);
      ips = got.stdout.trim().split(/\s+/);
      assert.equal(ips.length, 1);
      assert.match(ips[0], /^127\.30\.[12]\.\d+$/);
      const direct = JSON.parse(await getPod(ips[0]));
      assert.equal(direct.function, "echo-task");
      assert.equal(direct.pod, echoed.pod);
      // Removing the function closes its pod's socket once the pod has terminated (after its 1 s drain).
      const removed = await fetch(`${provider.url}/system/functions`, {
        method: "DELETE",
        body: JSON.stringify({ functionName: "echo-task" }),
      });
      assert.equal(removed.status, 202);
      await removed.body?.cancel();
      await eventually(
        "the deleted pod's socket closed",
        async () => (await refuses(ips[0])) || undefined,
        30_000,
      );
    } finally {
      const providerStatus: Deno.CommandStatus | undefined = provider ? await provider.stop() : undefined;
      const simStatus = await sim.stop();
      await Deno.remove(dir, { recursive: true });
      if (providerStatus) assert.equal(providerStatus.code, 0, provider!.stderr.text);
      assert.equal(simStatus.code, 0, sim.stderr.text);
    }
  },
});

Deno.test("e2e podnet: `deno task sim --pod-network` takes loopback or virtual, `--pod-cidr` A.B.0.0/16, and says what it does", async () => {
  const serve = new URL("../../sim/serve.ts", import.meta.url).pathname;
  const sim = (...args: string[]) =>
    runCommand(Deno.execPath(), [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      serve,
      ...args,
    ]);
  const help = await sim("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--pod-network MODE +loopback \(default\)/);
  const bad = await sim("--pod-network", "bridge");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--pod-network: expected loopback or virtual, not "bridge"/);
  assert.match(help.stdout, /--pod-cidr A\.B\.0\.0\/16 +where pod IPs start/);
  for (
    const [args, message] of [
      [["--pod-cidr", "127.10.0.0/24"], /--pod-cidr: pod CIDR "127\.10\.0\.0\/24": expected A\.B\.0\.0\/16/],
      [["--pod-cidr", "10.244.0.0/16"], /loopback pods need 127\.B\.0\.0\/16/],
      [["--pod-cidr", "127.0.0.0/16"], /loopback pods need 127\.B\.0\.0\/16 with B from 1/],
      [["--pod-network", "virtual", "--pod-cidr", "127.20.0.0/16"], /must not be loopback addresses/],
      [["--pod-cidr", "300.1.0.0/16"], /expected A\.B\.0\.0\/16/],
    ] as const
  ) {
    const r = await sim(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, message);
  }
});
