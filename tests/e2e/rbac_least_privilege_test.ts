/**
 * Least privilege: a workout of every provider feature with `cluster_role=true` (the
 * shipped configuration), recording each request the provider makes to the simulated API server, then
 * checked against the rules k8s/01-rbac.yaml grants the faas-deno ServiceAccount: every request must be
 * allowed, and every granted (apiGroup, resource, verb) must be used by the workout or be listed below
 * with the reason the workout cannot produce it.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import type { ApiRequest, ParsedPath, SimApiServer } from "../../sim/apiserver.ts";
import { verbOf } from "../../sim/faults.ts";
import { resyncMs } from "../../src/kube/caches.ts";

/** One authorization check, as the API server's RBAC authorizer sees a request. */
interface Access {
  readonly group: string;
  /** Plural, with the subresource: `pods/log`, `deployments/scale`. */
  readonly resource: string;
  readonly verb: string;
  readonly namespace?: string;
  readonly name?: string;
  /** The request, for messages. */
  readonly request: string;
}

/** `METHOD path?query` without the unset query parameters. */
const describe = (method: string, path: string, query: Readonly<Record<string, string | undefined>> = {}) => {
  const q = new URLSearchParams(
    Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
  ).toString();
  return `${method} ${path}${q ? `?${q}` : ""}`;
};

const accessOf = (req: ApiRequest, parsed: ParsedPath | undefined): Access => {
  const request = describe(req.method, req.path, req.query);
  const verb = req.method === "DELETE" && !parsed?.name ? "deletecollection" : verbOf(req, parsed);
  return {
    group: parsed?.kind.group ?? "?",
    resource: parsed
      ? parsed.kind.plural + (parsed.subresource ? `/${parsed.subresource}` : "")
      : `? ${req.path}`,
    verb: verb ?? `? ${req.method}`,
    namespace: parsed?.namespace,
    name: parsed?.name,
    request,
  };
};

const key = (a: { group: string; resource: string; verb: string }) =>
  `${a.group === "" ? "core" : a.group} ${a.resource} ${a.verb}`;

/**
 * Records the provider's requests: the API server's `interceptor` sees requests and watches; log
 * reads (`pods/{name}/log`) do not pass through it (SimApiServer.readLog), so that method is wrapped too.
 */
const record = (api: SimApiServer) => {
  const seen: Access[] = [];
  const previous = api.interceptor;
  const readLog = api.readLog;
  api.interceptor = (req, parsed) => {
    seen.push(accessOf(req, parsed));
    return previous?.(req, parsed);
  };
  api.readLog = function (this: SimApiServer, path, query, onLine, onEnd) {
    const parts = path.split("/");
    seen.push({
      group: "",
      resource: "pods/log",
      verb: "get",
      namespace: parts[4],
      name: parts[6],
      request: describe("GET", path, query),
    });
    return readLog.call(this, path, query, onLine, onEnd);
  };
  return {
    seen,
    restore: () => {
      api.interceptor = previous;
      delete (api as { readLog?: unknown }).readLog;
    },
  };
};

/** The workout: every feature of the provider, each checked to have worked. */
const workout = async () => {
  let seen: Access[] = [];
  await withProvider(async (h) => {
    const ok = async (method: string, path: string, body?: unknown, expected = [200, 201, 202]) => {
      const r = await h.advanceUntil(h.call(method, path, body), 10);
      assert.ok(expected.includes(r.status), `${method} ${path}: ${r.status} ${r.text}`);
      return r;
    };
    const recorder = record(h.cluster.api);
    try {
      // The caches listed and started watching before the recorder was installed: their periodic
      // resync lists and watches again.
      await h.advance(resyncMs + 1_000);
      // Leader election: the Lease was created at start-up, before the recorder; gone, it is created again.
      h.cluster.store.delete(Kinds.Lease, "openfaas", "faas-deno");
      await h.advance(4_000);
      // Load sharing: the leader lists the membership Leases each tick, and deletes one long expired.
      h.cluster.store.create(Kinds.Lease, "openfaas", {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name: "faas-deno-member-gone",
          labels: { "app.kubernetes.io/part-of": "faas-deno-members" },
        },
        spec: { holderIdentity: "gone", leaseDurationSeconds: 15, renewTime: "2000-01-01T00:00:00.000000Z" },
      });
      await h.advance(4_000);
      assert.equal(h.cluster.store.peek(Kinds.Lease, "openfaas", "faas-deno-member-gone"), undefined);

      h.cluster.store.create(h.cluster.store.kinds.find("openfaas.com", "v1", "profiles")!, "openfaas-fn", {
        apiVersion: "openfaas.com/v1",
        kind: "Profile",
        metadata: { name: "spot" },
        spec: { tolerations: [{ key: "spot", operator: "Exists", effect: "NoSchedule" }] },
      });
      // Secrets CRUD.
      await ok("POST", "/system/secrets", { name: "api-key", value: "one" });
      await ok("PUT", "/system/secrets", { name: "api-key", value: "two" });
      await ok("POST", "/system/secrets", { name: "scratch", value: "x" });
      assert.match((await ok("GET", "/system/secrets")).text, /api-key/);
      await ok("DELETE", "/system/secrets", { name: "scratch" });
      // Deploy with a secret and a profile, wait until ready, invoke.
      const fn = {
        service: "workout",
        image: "functions/alpine:latest",
        envProcess: "cat",
        secrets: ["api-key"],
        annotations: { "com.openfaas.profile": "spot" },
        // Predicted: its invocation history is persisted (a ConfigMap read, created, then updated).
        labels: { "com.openfaas.scale.zero": "true", "com.openfaas.scale.predictive": "true" },
      };
      await ok("POST", "/system/functions", fn);
      await h.advance(10_000);
      assert.equal((await ok("POST", "/function/workout", "hello")).text, "hello");
      // Status, usage, list.
      assert.equal(JSON.parse((await ok("GET", "/system/function/workout")).text).availableReplicas, 1);
      await ok("POST", "/function/workout", "load");
      await h.advance(15_000);
      const described = JSON.parse((await ok("GET", "/system/function/workout?usage=1")).text);
      assert.ok(described.usage, `usage=1 read the metrics API: ${JSON.stringify(described)}`);
      assert.equal(JSON.parse((await ok("GET", "/system/functions")).text).length, 1);
      // Update (new image), scale.
      await ok("PUT", "/system/functions", { ...fn, image: "ghcr.io/openfaas/alpine:latest" });
      await ok("POST", "/system/scale-function/workout", { serviceName: "workout", replicas: 2 });
      await h.advance(20_000);
      assert.equal(JSON.parse((await ok("GET", "/system/function/workout")).text).availableReplicas, 2);
      // Another invocation after the history write interval: the history record is updated.
      await ok("POST", "/function/workout", "again");
      await h.advance(4_000);
      // Logs: one-shot, then followed and left.
      assert.match((await ok("GET", "/system/logs?name=workout&tail=5")).text, /"name":"workout"/);
      const follow = await h.request("GET", "/system/logs?name=workout&follow=true");
      assert.equal(follow.status, 200);
      const reader = follow.body!.getReader();
      assert.ok((await reader.read()).value, "a followed line");
      await reader.cancel();
      // Namespaces CRUD, then a function in the new namespace.
      await ok("POST", "/system/namespace/team-a", { name: "team-a", labels: { openfaas: "1" } });
      await ok("GET", "/system/namespace/team-a");
      await ok("PUT", "/system/namespace/team-a", { labels: { openfaas: "1", team: "a" } });
      assert.match((await ok("GET", "/system/namespaces")).text, /team-a/);
      await ok("POST", "/system/functions", {
        service: "other",
        image: "functions/alpine:latest",
        namespace: "team-a",
      });
      await ok("DELETE", "/system/functions", { functionName: "other", namespace: "team-a" });
      await ok("DELETE", "/system/namespace/team-a");
      // Delete.
      await ok("DELETE", "/system/functions", { functionName: "workout" });
      await ok("DELETE", "/system/secrets", { name: "api-key" });
      await h.advance(1_000);
    } finally {
      recorder.restore();
    }
    seen = recorder.seen;
  }, { config: { clusterRole: true, predictiveScaling: true, historyWriteIntervalMs: 10_000 } });
  return seen;
};

let workoutOnce: Promise<Access[]> | undefined;
const recorded = () => (workoutOnce ??= workout());

interface Rule {
  readonly apiGroups?: string[];
  readonly resources?: string[];
  readonly verbs: string[];
  readonly resourceNames?: string[];
}

/** The rules k8s/01-rbac.yaml binds to the faas-deno ServiceAccount, with the namespace they apply in. */
const grantedRules = () => {
  const text = Deno.readTextFileSync(new URL("../../k8s/01-rbac.yaml", import.meta.url));
  // deno-lint-ignore no-explicit-any
  const docs: any[] = YAML.parseAllDocuments(text).map((d) => d.toJS()).filter(Boolean);
  const roles = new Map<string, Rule[]>();
  for (const d of docs) {
    if (d.kind === "ClusterRole") roles.set(`ClusterRole/${d.metadata.name}`, d.rules ?? []);
    if (d.kind === "Role") roles.set(`Role/${d.metadata.namespace}/${d.metadata.name}`, d.rules ?? []);
  }
  const out: { rule: Rule; namespace?: string }[] = [];
  for (const b of docs) {
    if (b.kind !== "ClusterRoleBinding" && b.kind !== "RoleBinding") continue;
    const bound = (b.subjects ?? []).some((s: { kind: string; name: string; namespace?: string }) =>
      s.kind === "ServiceAccount" && s.name === "faas-deno" && s.namespace === "openfaas"
    );
    if (!bound) continue;
    const ref = b.roleRef.kind === "ClusterRole"
      ? `ClusterRole/${b.roleRef.name}`
      : `Role/${b.metadata.namespace}/${b.roleRef.name}`;
    const rules = roles.get(ref);
    assert.ok(rules, `${b.kind} ${b.metadata.name} refers to ${ref}, which the manifest defines`);
    for (const rule of rules) {
      out.push({ rule, namespace: b.kind === "RoleBinding" ? b.metadata.namespace : undefined });
    }
  }
  return out;
};

const has = (list: string[] | undefined, v: string) => (list ?? []).includes(v) || (list ?? []).includes("*");

const allows = (granted: ReturnType<typeof grantedRules>, a: Access) =>
  granted.some(({ rule, namespace }) =>
    (namespace === undefined || namespace === a.namespace) && has(rule.apiGroups, a.group) &&
    has(rule.resources, a.resource) && has(rule.verbs, a.verb) &&
    (rule.resourceNames === undefined || rule.resourceNames.length === 0 ||
      (a.name !== undefined && rule.resourceNames.includes(a.name)))
  );

Deno.test("rbac: every request of the workout is allowed by k8s/01-rbac.yaml", async () => {
  const granted = grantedRules();
  assert.ok(granted.length > 0, "the manifest binds rules to faas-deno");
  const seen = await recorded();
  // The workout reached every part of the API the provider uses (guards against a silent recorder).
  const used = new Set(seen.map(key));
  for (
    const k of [
      "apps deployments create",
      "apps deployments update",
      "apps deployments patch",
      "apps deployments delete",
      "apps deployments list",
      "apps deployments watch",
      "core pods/log get",
      "core namespaces create",
      "metrics.k8s.io pods list",
      "openfaas.com profiles get",
      "coordination.k8s.io leases get",
      "coordination.k8s.io leases create",
      "coordination.k8s.io leases update",
      "core configmaps get",
      "core configmaps create",
      "core configmaps update",
      "coordination.k8s.io leases list",
      "coordination.k8s.io leases delete",
    ]
  ) assert.ok(used.has(k), `the workout used ${k}: ${[...used].sort().join("; ")}`);
  // The check can say no: what the manifests do not grant is denied.
  for (
    const [group, resource, verb] of [
      ["", "nodes", "list"],
      ["apps", "deployments/scale", "update"],
      ["", "secrets", "deletecollection"],
      ["", "pods", "delete"],
      ["", "configmaps", "list"],
      ["", "configmaps", "delete"],
      // Granted in the provider's namespace only.
      ["coordination.k8s.io", "leases", "delete"],
      ["coordination.k8s.io", "leases", "list"],
      ["coordination.k8s.io", "leases", "update"],
    ]
  ) {
    assert.equal(
      allows(granted, { group, resource, verb, namespace: "openfaas-fn", request: "" }),
      false,
      verb,
    );
  }
  const denied = seen.filter((a) => !allows(granted, a));
  assert.deepEqual(
    [...new Set(denied.map((a) => `${key(a)} (${a.request})`))],
    [],
    "requests the manifests do not allow",
  );
});

/**
 * Grants the workout cannot exercise, with the reason. Empty: the paths the workout does not take (the
 * re-read of a Deployment or Secret after a retried create, the conflict retries) need only
 * permissions that the workout's ordinary paths use as well (`deployments get`, `secrets get`).
 */
const justified: Readonly<Record<string, string>> = {};

Deno.test({
  name: "rbac: every (apiGroup, resource, verb) k8s/01-rbac.yaml grants is used by the workout",
  fn: async () => {
    const granted = grantedRules();
    const seen = await recorded();
    const used = new Set(seen.map(key));
    const grants = new Set<string>();
    for (const { rule } of granted) {
      for (const group of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs) grants.add(key({ group, resource, verb }));
        }
      }
    }
    for (const k of Object.keys(justified)) assert.ok(grants.has(k), `justified but not granted: ${k}`);
    const unused = [...grants].filter((g) => !used.has(g) && !(g in justified)).sort();
    assert.deepEqual(unused, [], "granted but never used by the provider");
  },
});
