/** The manifests in k8s/ apply to the simulator, in process and with kubectl, and say what they should. */
import assert from "node:assert/strict";
import YAML from "yaml";
import { withSimServer } from "../support/simcluster.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { findKind, type KObj } from "../../sim/kinds.ts";
import type { SimApiServer } from "../../sim/apiserver.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const getJson = async (url: string): Promise<{ status: number; body: Any }> => {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
};

const manifestDir = new URL("../../k8s/", import.meta.url);

const readManifests = (): KObj[] => {
  const docs: KObj[] = [];
  for (const entry of [...Deno.readDirSync(manifestDir)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile || !/\.ya?ml$/.test(entry.name)) continue;
    const text = Deno.readTextFileSync(new URL(entry.name, manifestDir));
    for (const doc of YAML.parseAllDocuments(text)) {
      const o = doc.toJS();
      if (o) docs.push(o);
    }
  }
  return docs;
};

/** Namespaces first, as kubectl applies them, then everything else. */
const applyOrder = (docs: KObj[]) =>
  [...docs].sort((a, b) => Number(b.kind === "Namespace") - Number(a.kind === "Namespace"));

const checkManifestsApplied = async (url: string) => {
  const ns = (await getJson(`${url}/api/v1/namespaces/openfaas-fn`)).body;
  assert.equal(ns.metadata.labels.openfaas, "1");
  assert.equal(ns.metadata.annotations.openfaas, "1");
  assert.equal((await getJson(`${url}/api/v1/namespaces/openfaas`)).status, 200);
  const sa = await getJson(`${url}/api/v1/namespaces/openfaas/serviceaccounts/faas-deno`);
  assert.equal(sa.status, 200);
  const crbs = (await getJson(`${url}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings`)).body.items;
  const rbs = (await getJson(`${url}/apis/rbac.authorization.k8s.io/v1/rolebindings`)).body.items;
  const bindings = [...crbs, ...rbs];
  assert.ok(bindings.length > 0, "at least one binding");
  for (const b of bindings) {
    assert.ok(
      b.subjects.some((s: Any) =>
        s.kind === "ServiceAccount" && s.name === "faas-deno" && s.namespace === "openfaas"
      ),
      `${b.metadata.name} binds the faas-deno service account`,
    );
    const rolePath = b.roleRef.kind === "ClusterRole"
      ? `/apis/rbac.authorization.k8s.io/v1/clusterroles/${b.roleRef.name}`
      : `/apis/rbac.authorization.k8s.io/v1/namespaces/${b.metadata.namespace}/roles/${b.roleRef.name}`;
    assert.equal(
      (await getJson(`${url}${rolePath}`)).status,
      200,
      `${b.roleRef.kind} ${b.roleRef.name} exists`,
    );
  }
  const roles = [
    ...(await getJson(`${url}/apis/rbac.authorization.k8s.io/v1/clusterroles`)).body.items,
    ...(await getJson(`${url}/apis/rbac.authorization.k8s.io/v1/roles`)).body.items,
  ];
  const rules = roles.flatMap((r: Any) => r.rules);
  const allowed = (group: string, resource: string, verb: string) =>
    rules.some((r: Any) =>
      r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb)
    );
  // The exact grants, each used by the provider, are checked against a workout in tests/e2e/rbac_least_privilege_test.ts.
  for (const verb of ["get", "list", "watch", "create", "update", "patch", "delete"]) {
    assert.ok(allowed("apps", "deployments", verb), `deployments ${verb}`);
  }
  for (const verb of ["list", "watch"]) {
    assert.ok(allowed("", "pods", verb), `pods ${verb}`);
    assert.ok(allowed("discovery.k8s.io", "endpointslices", verb), `endpointslices ${verb}`);
    assert.ok(allowed("", "namespaces", verb), `namespaces ${verb}`);
    assert.ok(allowed("", "secrets", verb), `secrets ${verb}`);
  }
  assert.ok(allowed("", "pods/log", "get"), "pods/log get");
  assert.ok(allowed("metrics.k8s.io", "pods", "list"), "podmetrics list");
  assert.ok(allowed("openfaas.com", "profiles", "get"), "profiles get");
  assert.ok(!allowed("", "events", "list"), "events are never read");
  const crd =
    (await getJson(`${url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/profiles.openfaas.com`))
      .body;
  assert.equal(crd.spec.group, "openfaas.com");
  assert.equal(crd.spec.names.kind, "Profile");
  assert.ok(!rules.some((r: Any) => r.verbs.includes("*") || r.resources.includes("*")), "no wildcards");
  const dep = (await getJson(`${url}/apis/apps/v1/namespaces/openfaas/deployments/faas-deno`)).body;
  const c = dep.spec.template.spec.containers[0];
  assert.equal(c.image, "ghcr.io/faas-deno/faas-deno:latest");
  assert.equal(dep.spec.template.spec.serviceAccountName, "faas-deno");
  assert.equal(c.ports[0].containerPort, 8081);
  const env = Object.fromEntries(c.env.map((e: Any) => [e.name, e.value]));
  assert.equal(env.port, "8081");
  assert.equal(env.function_namespace, "openfaas-fn");
  assert.equal(env.cluster_role, "true", "the shipped ClusterRoles go with cluster_role=true");
  assert.equal(c.livenessProbe.httpGet.path, "/healthz");
  assert.equal(c.readinessProbe.httpGet.path, "/healthz");
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.runAsNonRoot ?? dep.spec.template.spec.securityContext?.runAsNonRoot, true);
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
  assert.ok(c.volumeMounts.some((m: Any) => m.mountPath === "/tmp"));
  const tmp = c.volumeMounts.find((m: Any) => m.mountPath === "/tmp");
  assert.ok(dep.spec.template.spec.volumes.some((v: Any) => v.name === tmp.name && v.emptyDir));
  // Standalone and highly available: 3 replicas spread across nodes, one down at most, each with its
  // identity for leader election from the downward API.
  assert.equal(dep.spec.replicas, 3);
  const spread =
    dep.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
  assert.equal(spread[0].podAffinityTerm.topologyKey, "kubernetes.io/hostname");
  assert.deepEqual(spread[0].podAffinityTerm.labelSelector.matchLabels, dep.spec.selector.matchLabels);
  const fieldOf = (name: string) => c.env.find((e: Any) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
  assert.equal(fieldOf("POD_NAME"), "metadata.name");
  assert.equal(fieldOf("POD_NAMESPACE"), "metadata.namespace");
  assert.equal(fieldOf("POD_IP"), "status.podIP");
  const pdb =
    (await getJson(`${url}/apis/policy/v1/namespaces/openfaas/poddisruptionbudgets/faas-deno`)).body;
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);
  assert.ok(allowed("coordination.k8s.io", "leases", "update"), "leases update (leader election)");
  const svc = (await getJson(`${url}/api/v1/namespaces/openfaas/services/faas-deno`)).body;
  assert.equal(svc.spec.ports[0].port, 8081);
  assert.equal(svc.metadata.annotations["prometheus.io/scrape"], "true");
  assert.equal(svc.metadata.annotations["prometheus.io/port"], "8081");
};

/** Creates, or replaces, one document through the simulator's API server (as kubectl apply would). */
const applyDoc = (cluster: { api: Pick<SimApiServer, "handle"> }, doc: KObj) => {
  const [group, version] = doc.apiVersion!.includes("/") ? doc.apiVersion!.split("/") : ["", doc.apiVersion!];
  const kind = [
    "namespaces",
    "serviceaccounts",
    "services",
    "deployments",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
    "customresourcedefinitions",
    "poddisruptionbudgets",
  ].map((p) => findKind(group, version, p)).find((k) => k?.kind === doc.kind);
  assert.ok(kind, `a known kind: ${doc.apiVersion} ${doc.kind}`);
  const ns = kind.namespaced ? doc.metadata.namespace : undefined;
  assert.ok(!kind.namespaced || ns, `${doc.kind} ${doc.metadata.name} names its namespace`);
  const base = `/${group ? `apis/${group}` : "api"}/${version}${
    ns ? `/namespaces/${ns}` : ""
  }/${kind.plural}`;
  const exists = cluster.api.handle({ method: "GET", path: `${base}/${doc.metadata.name}` });
  const res = exists.status === 200
    ? cluster.api.handle({
      method: "PUT",
      path: `${base}/${doc.metadata.name}`,
      body: {
        ...doc,
        metadata: { ...doc.metadata, resourceVersion: (exists.body as KObj).metadata.resourceVersion },
      },
    })
    : cluster.api.handle({ method: "POST", path: base, body: structuredClone(doc) });
  assert.ok(res.status < 300, `${doc.kind} ${doc.metadata.name}: ${JSON.stringify(res.body)}`);
};

Deno.test("k8s manifests: every document applies to the simulator (SimApiServer.handle)", async () => {
  await withSimServer(async ({ url, cluster }) => {
    const docs = readManifests();
    assert.ok(docs.length >= 8, `found ${docs.length} documents`);
    const fnNs = docs.find((d) => d.kind === "Namespace" && d.metadata.name === "openfaas-fn")!;
    assert.equal(fnNs.metadata.labels?.openfaas, "1");
    assert.equal(fnNs.metadata.annotations?.openfaas, "1");
    for (const doc of applyOrder(docs)) applyDoc(cluster, doc);
    await checkManifestsApplied(url);
  });
});

Deno.test({
  name: "k8s manifests: kubectl apply -f k8s/ against the facade",
  ignore: !kubectlPath,
  fn: async () => {
    await withSimServer(async ({ url }) => {
      const out = await kubectl(
        url,
        "apply",
        "-f",
        new URL("../../k8s/", import.meta.url).pathname,
        "--validate=false",
      );
      assert.equal(out.code, 0, out.stderr);
      await checkManifestsApplied(url);
    });
  },
});

const sidecarFile = new URL("samples/gateway-sidecar.yaml", manifestDir);

Deno.test("k8s/samples/gateway-sidecar.yaml: the provider as a sidecar of the OpenFaaS Gateway, applied after k8s/", async () => {
  const docs: KObj[] = YAML.parseAllDocuments(Deno.readTextFileSync(sidecarFile)).map((d) => d.toJS()).filter(
    Boolean,
  );
  assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`), [
    "Deployment/gateway",
    "PodDisruptionBudget/gateway",
    "Service/gateway",
  ]);
  const dep: Any = docs[0];
  const pod = dep.spec.template.spec;
  assert.ok(dep.spec.replicas >= 2, "several gateway replicas");
  // Runs as the ServiceAccount that k8s/01-rbac.yaml binds the provider's permissions to.
  assert.equal(pod.serviceAccountName, "faas-deno");
  const byName = Object.fromEntries(pod.containers.map((c: Any) => [c.name, c]));
  assert.deepEqual(Object.keys(byName).sort(), ["faas-deno", "gateway"]);
  const envOf = (c: Any) =>
    Object.fromEntries(c.env.filter((e: Any) => "value" in e).map((e: Any) => [e.name, e.value]));
  const gw = byName.gateway, provider = byName["faas-deno"];
  const gwEnv = envOf(gw), providerEnv = envOf(provider);
  assert.equal(
    gwEnv.functions_provider_url,
    "http://127.0.0.1:8081/",
    "the gateway calls the provider on the loopback",
  );
  assert.equal(providerEnv.port, "8081");
  assert.ok(provider.ports.some((p: Any) => p.containerPort === 8081));
  // The containers share the pod's network: no port is claimed twice.
  const ports = pod.containers.flatMap((c: Any) => c.ports.map((p: Any) => p.containerPort));
  assert.equal(new Set(ports).size, ports.length, `ports ${ports}`);
  assert.equal(providerEnv.leader_elect, "true");
  const fieldOf = (name: string) =>
    provider.env.find((e: Any) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
  assert.equal(fieldOf("POD_NAME"), "metadata.name");
  assert.equal(fieldOf("POD_NAMESPACE"), "metadata.namespace");
  assert.equal(fieldOf("POD_IP"), "status.podIP");
  // Both check the same credentials: the gateway injects them into its calls to the provider.
  assert.equal(gwEnv.basic_auth, providerEnv.basic_auth);
  assert.equal(gwEnv.secret_mount_path, providerEnv.secret_mount_path);
  assert.equal(gwEnv.function_namespace, providerEnv.function_namespace);
  for (const c of [gw, provider]) {
    assert.ok(c.volumeMounts.some((m: Any) => m.mountPath === gwEnv.secret_mount_path), c.name);
    assert.equal(c.readinessProbe.httpGet.path, "/healthz");
  }
  // The provider's Deno cache lives on a writable volume (read-only root filesystem).
  assert.equal(provider.securityContext.readOnlyRootFilesystem, true);
  assert.ok(provider.volumeMounts.some((m: Any) => m.mountPath === "/tmp"));
  assert.deepEqual(docs[1].spec.selector.matchLabels, dep.spec.selector.matchLabels);
  assert.deepEqual(docs[2].spec.selector, dep.spec.selector.matchLabels);
  assert.equal(docs[2].spec.ports[0].port, 8080);
  await withSimServer(async ({ url, cluster }) => {
    for (const doc of applyOrder(readManifests())) applyDoc(cluster, doc);
    for (const doc of docs) applyDoc(cluster, doc);
    const applied = (await getJson(`${url}/apis/apps/v1/namespaces/openfaas/deployments/gateway`)).body;
    assert.deepEqual(
      applied.spec.template.spec.containers.map((c: Any) => c.name),
      ["gateway", "faas-deno"],
    );
  });
});
