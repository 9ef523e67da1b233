/** kubectl against the simulator's HTTP facade (needs kubectl on PATH and --allow-run). */
import assert from "node:assert/strict";
import YAML from "yaml";
import { withSimServer } from "../support/simcluster.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { deploymentFixture } from "../support/fixtures.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const startupLog = () => ["Forking - env []", "Listening on port: 8080"];

/** A simulated cluster in TestClock time, served over HTTP on 127.0.0.1:0. */
const withServer = (fn: Parameters<typeof withSimServer>[0]) =>
  withSimServer(fn, { kubelet: { startupLog } });

const deployment = deploymentFixture;

Deno.test({
  name: "kubectl: get, apply, logs, create secret and delete against the facade",
  ignore: !kubectlPath,
  fn: async () => {
    await withServer(async ({ url, advance }) => {
      const ns = await kubectl(url, "get", "namespaces", "-o", "json");
      assert.equal(ns.code, 0, ns.stderr);
      const names = JSON.parse(ns.stdout).items.map((n: Any) => n.metadata.name);
      assert.ok(names.includes("openfaas-fn") && names.includes("kube-system"), names.join(","));

      const dir = await Deno.makeTempDir({ prefix: "sim-manifest-" });
      try {
        await Deno.writeTextFile(
          `${dir}/fn.yaml`,
          YAML.stringify({
            ...deployment("env"),
            metadata: { ...deployment("env").metadata, namespace: "openfaas-fn" },
          }),
        );
        const applied = await kubectl(url, "apply", "-f", `${dir}/fn.yaml`);
        assert.equal(applied.code, 0, applied.stderr);
        assert.match(applied.stdout, /deployment\.apps\/env created/);
        const again = await kubectl(url, "apply", "-f", `${dir}/fn.yaml`);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /deployment\.apps\/env unchanged/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      await advance("30 seconds");
      const deps = await kubectl(url, "get", "deployments", "-A");
      assert.equal(deps.code, 0, deps.stderr);
      const lines = deps.stdout.trim().split("\n");
      assert.match(lines[0], /^NAMESPACE\s+NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
      assert.match(lines[1], /^openfaas-fn\s+env\s+1\/1\s+1\s+1\s+30s$/);

      const pods = await kubectl(url, "get", "pods", "-n", "openfaas-fn");
      assert.match(pods.stdout, /env-\S+\s+1\/1\s+Running\s+0\s+30s/);
      const logs = await kubectl(url, "logs", "deployment/env", "-n", "openfaas-fn");
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(logs.stdout, "Forking - env []\nListening on port: 8080\n");

      const secret = await kubectl(
        url,
        "create",
        "secret",
        "generic",
        "api-key",
        "-n",
        "openfaas-fn",
        "--from-literal=key=s3cr3t",
      );
      assert.equal(secret.code, 0, secret.stderr);
      const value = await kubectl(
        url,
        "get",
        "secret",
        "api-key",
        "-n",
        "openfaas-fn",
        "-o",
        "jsonpath={.data.key}",
      );
      assert.equal(atob(value.stdout), "s3cr3t");

      const described = await kubectl(url, "describe", "deployment", "env", "-n", "openfaas-fn");
      assert.equal(described.code, 0, described.stderr);
      assert.match(described.stdout, /Replicas:\s+1 desired \| 1 updated \| 1 total \| 1 available/);
      assert.match(described.stdout, /NewReplicaSet:\s+env-\w+ \(1\/1 replicas created\)/);
      const sets = await kubectl(url, "get", "rs", "-n", "openfaas-fn");
      assert.equal(sets.code, 0, sets.stderr);
      assert.match(sets.stdout, /^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\n/);
      assert.match(sets.stdout, /\nenv-\w+\s+1\s+1\s+1\s+30s\n/);
      const history = await kubectl(url, "rollout", "history", "deployment/env", "-n", "openfaas-fn");
      assert.equal(history.code, 0, history.stderr);
      assert.match(history.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+<none>/);

      const nodes = await kubectl(url, "get", "nodes");
      assert.match(nodes.stdout, /sim-node-1\s+Ready/);

      const del = await kubectl(url, "delete", "deployment", "env", "-n", "openfaas-fn");
      assert.equal(del.code, 0, del.stderr);
      const none = await kubectl(url, "get", "deployments", "-n", "openfaas-fn", "-o", "name");
      assert.equal(none.stdout.trim(), "");
    });
  },
});
