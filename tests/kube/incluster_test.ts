/**
 * Reaching the API server: in-cluster credentials (service account token, CA, namespace), --master over
 * either source, and the choice between in-cluster and a kubeconfig.
 */
import { rejectsWith } from "../support/files.ts";
import assert from "node:assert/strict";
import { KubeconfigError } from "../../src/kube/kubeconfig/document.ts";
import { hostPort, loadInCluster, withMaster } from "../../src/kube/incluster.ts";
import { makeConnectionFromConfig } from "../../src/kube/http.ts";
import { withFiles } from "../support/files.ts";

const CA = "-----BEGIN CERTIFICATE-----\nQ0EtY2VydA==\n-----END CERTIFICATE-----\n";

Deno.test("in-cluster: server from the environment, token re-read, ca.crt and namespace", async () => {
  await withFiles(
    { "sa/token": "sa-token-1\n", "sa/ca.crt": CA, "sa/namespace": "openfaas\n" },
    async (dir) => {
      let now = 0;
      const conn = await loadInCluster({
        env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
        dir: `${dir}/sa`,
        now: () => now,
      });
      assert.equal(conn.server, "https://10.96.0.1:443");
      assert.equal(conn.caCert, CA);
      assert.equal(conn.namespace, "openfaas");
      assert.equal(conn.insecureSkipTlsVerify, false);
      assert.deepEqual(await conn.auth(), { Authorization: "Bearer sa-token-1" });
      await Deno.writeTextFile(`${dir}/sa/token`, "sa-token-2");
      now = 59_000;
      assert.deepEqual(await conn.auth(), { Authorization: "Bearer sa-token-1" });
      now = 60_000;
      assert.deepEqual(await conn.auth(), { Authorization: "Bearer sa-token-2" });
      await Deno.writeTextFile(`${dir}/sa/token`, "sa-token-3");
      conn.invalidate?.();
      assert.deepEqual(await conn.auth(), { Authorization: "Bearer sa-token-3" });

      const v6 = await loadInCluster({
        env: { KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PORT: "6443" },
        dir: `${dir}/sa`,
      });
      assert.equal(v6.server, "https://[fd00:10:96::1]:6443");
      assert.equal(hostPort("[::1]", "1"), "[::1]:1");
    },
  );
});

Deno.test("in-cluster: errors name the missing variable or file", async () => {
  await withFiles({ "sa/namespace": "x" }, async (dir) => {
    await rejectsWith(
      loadInCluster({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1" }, dir: `${dir}/sa` }),
      "KUBERNETES_SERVICE_PORT",
    );
    await rejectsWith(
      loadInCluster({ env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "https" }, dir }),
      "KUBERNETES_SERVICE_PORT=https",
    );
    await rejectsWith(
      loadInCluster({
        env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
        dir: `${dir}/sa`,
      }),
      `${dir}/sa/token`,
      "does not exist",
    );
  });
});

Deno.test("--master replaces the server of either source", async () => {
  const base = {
    server: "https://10.0.0.1:443",
    caCert: CA,
    insecureSkipTlsVerify: false,
    auth: () => Promise.resolve({ Authorization: "Bearer t" }),
    source: "test",
  };
  assert.equal(withMaster(base, undefined).server, "https://10.0.0.1:443");
  assert.equal(withMaster(base, "https://api.example.com:6443/").server, "https://api.example.com:6443");
  assert.equal(withMaster(base, "api.example.com:6443").server, "https://api.example.com:6443");
  assert.equal(
    withMaster({ ...base, server: "http://x", caCert: undefined }, "127.0.0.1:8080").server,
    "http://127.0.0.1:8080",
  );
  assert.deepEqual(await withMaster(base, "https://y").auth(), { Authorization: "Bearer t" });
  assert.throws(() => withMaster(base, "ftp://x"), KubeconfigError);
});

Deno.test("makeConnectionFromConfig: in-cluster unless --kubeconfig, --master on top, clear errors", async () => {
  const kc = `
current-context: c
clusters: [{ name: k, cluster: { server: "https://from-kubeconfig.example.com" } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { token: kc-token } }]
`;
  await withFiles({ "sa/token": "sa", "sa/ca.crt": CA, "config": kc }, async (dir) => {
    const inPod = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443", HOME: dir };
    const opts = { serviceAccountDir: `${dir}/sa` };
    const a = await makeConnectionFromConfig({ cluster: "kube" }, inPod, opts);
    assert.equal(a.server, "https://10.0.0.1:443");
    assert.deepEqual(await a.auth(), { Authorization: "Bearer sa" });

    const b = await makeConnectionFromConfig({ cluster: "kube", kubeconfig: `${dir}/config` }, inPod, opts);
    assert.equal(b.server, "https://from-kubeconfig.example.com");
    assert.deepEqual(await b.auth(), { Authorization: "Bearer kc-token" });

    const c = await makeConnectionFromConfig(
      { cluster: "kube", master: "https://m.example.com" },
      inPod,
      opts,
    );
    assert.equal(c.server, "https://m.example.com");
    assert.deepEqual(await c.auth(), { Authorization: "Bearer sa" });

    const d = await makeConnectionFromConfig(
      { cluster: "kube", master: "http://127.0.0.1:8001" },
      { HOME: `${dir}/empty-home` },
    );
    assert.equal(d.server, "http://127.0.0.1:8001");
    assert.deepEqual(await d.auth(), {});

    await rejectsWith(
      makeConnectionFromConfig({ cluster: "kube" }, { HOME: `${dir}/empty-home` }),
      `${dir}/empty-home/.kube/config`,
    );
    await rejectsWith(
      makeConnectionFromConfig({ cluster: "kube", kubeconfig: `${dir}/nope`, master: "https://m" }, {}),
      `${dir}/nope`,
    );
  });
});
