/**
 * Kubeconfig files as kubectl reads them: contexts, credentials, merged KUBECONFIG lists, exec plugins,
 * errors.
 */
import { rejectsWith } from "../support/files.ts";
import assert from "node:assert/strict";
import { mergeKubeconfigs, parseKubeconfig } from "../../src/kube/kubeconfig/document.ts";
import { loadKubeconfig } from "../../src/kube/kubeconfig/resolve.ts";
import { withFiles } from "../support/files.ts";

const CA = "-----BEGIN CERTIFICATE-----\nQ0EtY2VydA==\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nY2xpZW50\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\na2V5\n-----END PRIVATE KEY-----\n";
const b64 = (s: string) => btoa(s);

const canRun = (await Deno.permissions.query({ name: "run", command: "sh" })).state === "granted";

const twoContexts = `
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example.com:6443/
    certificate-authority-data: ${b64(CA)}
- name: prod-cluster
  cluster:
    server: https://prod.example.com
    insecure-skip-tls-verify: true
    tls-server-name: kubernetes.default
contexts:
- name: dev
  context: { cluster: dev-cluster, user: dev-user, namespace: team-a }
- name: prod
  context: { cluster: prod-cluster, user: prod-user }
users:
- name: dev-user
  user: { token: dev-token }
- name: prod-user
  user: { username: admin, password: s3cret }
`;

Deno.test("kubeconfig: current-context, a named context, token and basic auth", async () => {
  await withFiles({ "config": twoContexts }, async (dir) => {
    const dev = await loadKubeconfig({ path: `${dir}/config`, env: {} });
    assert.equal(dev.server, "https://dev.example.com:6443");
    assert.equal(dev.caCert, CA);
    assert.equal(dev.insecureSkipTlsVerify, false);
    assert.equal(dev.tlsServerName, undefined);
    assert.equal(dev.namespace, "team-a");
    assert.deepEqual(await dev.auth(), { Authorization: "Bearer dev-token" });
    assert.ok(dev.source.includes(`${dir}/config`) && dev.source.includes('"dev"'));

    const prod = await loadKubeconfig({ path: `${dir}/config`, context: "prod", env: {} });
    assert.equal(prod.server, "https://prod.example.com");
    assert.equal(prod.caCert, undefined);
    assert.equal(prod.insecureSkipTlsVerify, true);
    assert.equal(prod.tlsServerName, "kubernetes.default");
    assert.equal(prod.namespace, undefined);
    assert.deepEqual(await prod.auth(), { Authorization: "Basic YWRtaW46czNjcmV0" });
  });
});

Deno.test("kubeconfig: certificate files are read relative to the kubeconfig's directory; -data wins", async () => {
  const config = `
current-context: c
clusters:
- name: k
  cluster: { server: "http://127.0.0.1:8080", certificate-authority: pki/ca.pem }
contexts:
- name: c
  context: { cluster: k, user: u }
users:
- name: u
  user:
    client-certificate: pki/client.pem
    client-key: ./pki/client-key.pem
- name: data
  user:
    client-certificate-data: ${b64(CERT.replace("Y2xpZW50", "ZGF0YQ=="))}
    client-certificate: /nonexistent/ignored.pem
    client-key-data: ${b64(KEY)}
`;
  await withFiles({
    "kube/config": config,
    "kube/pki/ca.pem": CA,
    "kube/pki/client.pem": CERT,
    "kube/pki/client-key.pem": KEY,
  }, async (dir) => {
    const conn = await loadKubeconfig({ path: `${dir}/kube/config`, env: {} });
    assert.equal(conn.server, "http://127.0.0.1:8080");
    assert.equal(conn.caCert, CA);
    assert.equal(conn.clientCert, CERT);
    assert.equal(conn.clientKey, KEY);
    assert.deepEqual(await conn.auth(), {});

    const doc = parseKubeconfig(config.replace("user: u }", "user: data }"), `${dir}/kube/config`);
    assert.equal(doc.clusters[0].value["certificate-authority"], `${dir}/kube/pki/ca.pem`);
    await Deno.writeTextFile(`${dir}/kube/config2`, config.replace("user: u }", "user: data }"));
    const data = await loadKubeconfig({ path: `${dir}/kube/config2`, env: {} });
    assert.ok(data.clientCert?.includes("ZGF0YQ=="));
    assert.equal(data.clientKey, KEY);
  });
});

Deno.test("kubeconfig: KUBECONFIG lists are merged, first definition wins, paths stay relative to their file", async () => {
  const a = `
clusters:
- name: shared
  cluster: { server: "https://a.example.com", certificate-authority: ca.pem }
users:
- name: u
  user: { token: from-a }
`;
  const b = `
current-context: ctx
clusters:
- name: shared
  cluster: { server: "https://b.example.com" }
contexts:
- name: ctx
  context: { cluster: shared, user: u, namespace: from-b }
users:
- name: u
  user: { token: from-b }
`;
  await withFiles({ "a/config": a, "a/ca.pem": CA, "b/config": b }, async (dir) => {
    const env = { KUBECONFIG: `${dir}/missing:${dir}/a/config::${dir}/b/config` };
    const conn = await loadKubeconfig({ env });
    assert.equal(conn.server, "https://a.example.com");
    assert.equal(conn.caCert, CA);
    assert.equal(conn.namespace, "from-b");
    assert.deepEqual(await conn.auth(), { Authorization: "Bearer from-a" });
    assert.ok(conn.source.includes(`${dir}/a/config:${dir}/b/config`));

    const merged = mergeKubeconfigs([parseKubeconfig(b, "/b"), parseKubeconfig(a, "/a")]);
    assert.equal(merged.clusters.find((c) => c.name === "shared")?.value.server, "https://b.example.com");
  });
});

Deno.test("kubeconfig: ~/.kube/config is the default and an explicit path beats KUBECONFIG", async () => {
  const one = (server: string) => `
current-context: c
clusters: [{ name: k, cluster: { server: "${server}" } }]
contexts: [{ name: c, context: { cluster: k } }]
`;
  await withFiles({
    "home/.kube/config": one("https://home.example.com"),
    "env.yaml": one("https://env.example.com"),
    "flag.yaml": one("https://flag.example.com"),
  }, async (dir) => {
    const home = await loadKubeconfig({ env: { HOME: `${dir}/home` } });
    assert.equal(home.server, "https://home.example.com");
    const env = await loadKubeconfig({ env: { HOME: `${dir}/home`, KUBECONFIG: `${dir}/env.yaml` } });
    assert.equal(env.server, "https://env.example.com");
    const flag = await loadKubeconfig({
      path: `${dir}/flag.yaml`,
      env: { HOME: `${dir}/home`, KUBECONFIG: `${dir}/env.yaml` },
    });
    assert.equal(flag.server, "https://flag.example.com");
    const tilde = await loadKubeconfig({ path: "~/.kube/config", env: { HOME: `${dir}/home` } });
    assert.equal(tilde.server, "https://home.example.com");
  });
});

Deno.test("kubeconfig: tokenFile is re-read after a minute or after invalidate()", async () => {
  const config = `
current-context: c
clusters: [{ name: k, cluster: { server: "https://k.example.com" } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { tokenFile: secrets/token } }]
`;
  await withFiles({ "config": config, "secrets/token": "first\n" }, async (dir) => {
    let now = 1_000_000;
    const conn = await loadKubeconfig({ path: `${dir}/config`, env: {}, now: () => now });
    assert.deepEqual(await conn.auth(), { Authorization: "Bearer first" });
    await Deno.writeTextFile(`${dir}/secrets/token`, "second");
    now += 30_000;
    assert.deepEqual(await conn.auth(), { Authorization: "Bearer first" });
    now += 30_000;
    assert.deepEqual(await conn.auth(), { Authorization: "Bearer second" });
    await Deno.writeTextFile(`${dir}/secrets/token`, "third");
    assert.deepEqual(await conn.auth(), { Authorization: "Bearer second" });
    conn.invalidate?.();
    assert.deepEqual(await conn.auth(), { Authorization: "Bearer third" });
    // A file that disappears later keeps the last good token.
    await Deno.remove(`${dir}/secrets/token`);
    conn.invalidate?.();
    assert.deepEqual(await conn.auth(), { Authorization: "Bearer third" });
  });
});

Deno.test("kubeconfig: errors name the file and the field", async () => {
  await withFiles({
    "good": twoContexts,
    "no-server": `
current-context: c
clusters: [{ name: k, cluster: { certificate-authority-data: ${b64(CA)} } }]
contexts: [{ name: c, context: { cluster: k } }]
`,
    "bad-ca-file": `
current-context: c
clusters: [{ name: k, cluster: { server: "https://x", certificate-authority: missing-ca.pem } }]
contexts: [{ name: c, context: { cluster: k } }]
`,
    "bad-base64": `
current-context: c
clusters: [{ name: k, cluster: { server: "https://x", certificate-authority-data: "%%%not base64" } }]
contexts: [{ name: c, context: { cluster: k } }]
`,
    "no-user": `
current-context: c
clusters: [{ name: k, cluster: { server: "https://x" } }]
contexts: [{ name: c, context: { cluster: k, user: ghost } }]
`,
    "no-current": `
clusters: [{ name: k, cluster: { server: "https://x" } }]
contexts: [{ name: c, context: { cluster: k } }]
`,
    "half-cert": `
current-context: c
clusters: [{ name: k, cluster: { server: "https://x" } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { client-certificate-data: ${b64(CERT)} } }]
`,
    "bad-server": `
current-context: c
clusters: [{ name: k, cluster: { server: "ftp://x" } }]
contexts: [{ name: c, context: { cluster: k } }]
`,
    "bad-exec": `
current-context: c
clusters: [{ name: k, cluster: { server: "https://x" } }]
contexts: [{ name: c, context: { cluster: k, user: u } }]
users: [{ name: u, user: { exec: { apiVersion: client.authentication.k8s.io/v1alpha1, command: aws } } }]
`,
    "not-yaml": "clusters: [unclosed",
  }, async (dir) => {
    const missing = await rejectsWith(
      loadKubeconfig({ path: `${dir}/nope`, env: {} }),
      `${dir}/nope`,
      "does not exist",
    );
    assert.equal(missing.notFound, true);
    const ctx = await rejectsWith(
      loadKubeconfig({ path: `${dir}/good`, context: "staging", env: {} }),
      `${dir}/good`,
      '"staging"',
    );
    assert.equal(ctx.notFound, undefined);
    const noServer = await rejectsWith(
      loadKubeconfig({ path: `${dir}/no-server`, env: {} }),
      `${dir}/no-server`,
      "server",
      '"k"',
    );
    assert.equal(noServer.field, "server");
    const ca = await rejectsWith(
      loadKubeconfig({ path: `${dir}/bad-ca-file`, env: {} }),
      `${dir}/bad-ca-file`,
      "certificate-authority",
      `${dir}/missing-ca.pem`,
    );
    assert.equal(ca.field, "certificate-authority");
    await rejectsWith(
      loadKubeconfig({ path: `${dir}/bad-base64`, env: {} }),
      "certificate-authority-data",
      "base64",
    );
    await rejectsWith(loadKubeconfig({ path: `${dir}/no-user`, env: {} }), '"ghost"', "not defined");
    await rejectsWith(loadKubeconfig({ path: `${dir}/no-current`, env: {} }), "current-context");
    await rejectsWith(loadKubeconfig({ path: `${dir}/half-cert`, env: {} }), "client-key");
    await rejectsWith(loadKubeconfig({ path: `${dir}/bad-server`, env: {} }), "ftp://x", "https://");
    await rejectsWith(loadKubeconfig({ path: `${dir}/bad-exec`, env: {} }), "exec.apiVersion", "v1alpha1");
    await rejectsWith(loadKubeconfig({ path: `${dir}/not-yaml`, env: {} }), `${dir}/not-yaml`, "YAML");
    const none = await rejectsWith(
      loadKubeconfig({ env: { KUBECONFIG: `${dir}/x:${dir}/y` } }),
      `${dir}/x:${dir}/y`,
    );
    assert.equal(none.notFound, true);
    await rejectsWith(loadKubeconfig({ env: { HOME: dir } }), `${dir}/.kube/config`, "no kubeconfig");
  });
});

// ---------------------------------------------------------------------------
// Exec credential plugins
// ---------------------------------------------------------------------------

const PLUGIN = `#!/bin/sh
# Counts its runs and prints an ExecCredential; $1 is the token prefix.
n=$(cat "$COUNT_FILE" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$COUNT_FILE"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_FILE"
if [ "$MODE" = fail ]; then echo "boom: no credentials" >&2; exit 3; fi
if [ "$MODE" = cert ]; then
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"clientCertificateData":"CERT-%s","clientKeyData":"KEY-%s"}}' "$API" "$n" "$n"
else
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s-%s","expirationTimestamp":"%s"}}' "$API" "$1" "$n" "$EXPIRY"
fi
`;

const execConfig = (dir: string, mode: string, api = "client.authentication.k8s.io/v1") => `
current-context: c
clusters:
- name: k
  cluster:
    server: https://k.example.com
    certificate-authority-data: ${b64(CA)}
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: { audience: faas }
contexts: [{ name: c, context: { cluster: k, user: u } }]
users:
- name: u
  user:
    exec:
      apiVersion: ${api}
      command: ./bin/plugin.sh
      args: [tok]
      provideClusterInfo: true
      installHint: install the plugin from example.com
      env:
      - { name: COUNT_FILE, value: ${dir}/count }
      - { name: INFO_FILE, value: ${dir}/info.json }
      - { name: EXPIRY, value: "2030-01-01T00:00:00Z" }
      - { name: MODE, value: ${mode} }
      - { name: API, value: ${api} }
`;

const writePlugin = async (dir: string) => {
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.writeTextFile(`${dir}/bin/plugin.sh`, PLUGIN);
  await Deno.chmod(`${dir}/bin/plugin.sh`, 0o755);
};

Deno.test({
  name: "kubeconfig: exec plugin token is cached until expirationTimestamp (needs --allow-run)",
  ignore: !canRun,
  fn: () =>
    withFiles({}, async (dir) => {
      await writePlugin(dir);
      await Deno.writeTextFile(`${dir}/config`, execConfig(dir, "token"));
      let now = Date.parse("2029-12-31T23:00:00Z");
      const conn = await loadKubeconfig({ path: `${dir}/config`, env: {}, now: () => now });
      const count = async () => Number((await Deno.readTextFile(`${dir}/count`)).trim());

      const [a, b, c] = await Promise.all([conn.auth(), conn.auth(), conn.auth()]);
      assert.deepEqual(a, { Authorization: "Bearer tok-1" });
      assert.deepEqual(b, a);
      assert.deepEqual(c, a);
      assert.equal(await count(), 1);
      assert.equal(await conn.clientCertificate?.(), undefined);
      now = Date.parse("2029-12-31T23:59:59Z");
      assert.deepEqual(await conn.auth(), { Authorization: "Bearer tok-1" });
      assert.equal(await count(), 1);
      now = Date.parse("2030-01-01T00:00:01Z");
      assert.deepEqual(await conn.auth(), { Authorization: "Bearer tok-2" });
      assert.equal(await count(), 2);
      conn.invalidate?.();
      assert.deepEqual(await conn.auth(), { Authorization: "Bearer tok-3" });

      const info = JSON.parse(await Deno.readTextFile(`${dir}/info.json`));
      assert.equal(info.kind, "ExecCredential");
      assert.equal(info.apiVersion, "client.authentication.k8s.io/v1");
      assert.equal(info.spec.interactive, false);
      assert.equal(info.spec.cluster.server, "https://k.example.com");
      assert.equal(atob(info.spec.cluster["certificate-authority-data"]), CA);
      assert.deepEqual(info.spec.cluster.config, { audience: "faas" });
    }),
});

Deno.test({
  name: "kubeconfig: exec plugin (v1beta1) client certificates and failures (needs --allow-run)",
  ignore: !canRun,
  fn: () =>
    withFiles({}, async (dir) => {
      await writePlugin(dir);
      await Deno.writeTextFile(
        `${dir}/cert`,
        execConfig(dir, "cert", "client.authentication.k8s.io/v1beta1"),
      );
      const conn = await loadKubeconfig({ path: `${dir}/cert`, env: {} });
      assert.deepEqual(await conn.clientCertificate?.(), { cert: "CERT-1", key: "KEY-1" });
      assert.deepEqual(await conn.auth(), {});
      assert.deepEqual(await conn.clientCertificate?.(), { cert: "CERT-1", key: "KEY-1" });

      await Deno.writeTextFile(`${dir}/fail`, execConfig(dir, "fail"));
      const failing = await loadKubeconfig({ path: `${dir}/fail`, env: {} });
      await rejectsWith(failing.auth(), `${dir}/bin/plugin.sh`, "exited with code 3", "boom: no credentials");

      await Deno.writeTextFile(
        `${dir}/missing`,
        execConfig(dir, "token").replace("./bin/plugin.sh", "faas-deno-no-such-plugin"),
      );
      const missing = await loadKubeconfig({ path: `${dir}/missing`, env: {} });
      await rejectsWith(
        missing.auth(),
        "faas-deno-no-such-plugin",
        "not found",
        "install the plugin from example.com",
      );

      // The plugin must answer with the apiVersion the kubeconfig asked for.
      await Deno.writeTextFile(
        `${dir}/mismatch`,
        execConfig(dir, "token").replace("value: client.authentication.k8s.io/v1", "value: other/v9"),
      );
      const mismatch = await loadKubeconfig({ path: `${dir}/mismatch`, env: {} });
      await rejectsWith(mismatch.auth(), "other/v9");
    }),
});
