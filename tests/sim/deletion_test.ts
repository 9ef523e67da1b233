/**
 * Deletion as a client sees it over HTTP: propagation policies (kubectl --cascade), finalizers, what
 * DELETE answers per kind and policy, dryRun on every write, and Status.details on errors.
 */
import assert from "node:assert/strict";
import { getJson, send, type SimContext, withSimServer } from "../support/simcluster.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { deploymentFixture, lineReader } from "../support/fixtures.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const startupLog = () => ["Forking - env []", "Listening on port: 8080"];
const withServer = (fn: Parameters<typeof withSimServer>[0]) =>
  withSimServer(fn, { kubelet: { startupLog } });

const ns = "openfaas-fn";
const deps = (url: string) => `${url}/apis/apps/v1/namespaces/${ns}/deployments`;
const sets = (url: string) => `${url}/apis/apps/v1/namespaces/${ns}/replicasets`;
const pods = (url: string) => `${url}/api/v1/namespaces/${ns}/pods`;
const cms = (url: string) => `${url}/api/v1/namespaces/${ns}/configmaps`;
const del = (url: string, body?: unknown) =>
  body === undefined ? getJson(url, { method: "DELETE" }) : send(url, "DELETE", body);
const items = async (url: string): Promise<Any[]> => (await getJson(url)).body.items;

/** A Deployment with `replicas` running pods, after 30 s. */
const running = async (url: string, advance: SimContext["advance"], name: string, replicas = 2) => {
  const created = await send(deps(url), "POST", deploymentFixture(name, undefined, { replicas }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await advance("30 seconds");
  assert.equal((await items(pods(url))).length, replicas);
};

Deno.test({
  name:
    "deletion: kubectl --cascade=foreground keeps the Deployment listed, deleting, until its pods are gone",
  ignore: !kubectlPath,
  fn: () =>
    withServer(async ({ url, advance }) => {
      await running(url, advance, "fg");
      const out = await kubectl(
        url,
        "delete",
        "deployment",
        "fg",
        "-n",
        ns,
        "--cascade=foreground",
        "--wait=false",
      );
      assert.equal(out.code, 0, out.stderr);
      const marked = await getJson(`${deps(url)}/fg`);
      assert.equal(marked.status, 200);
      assert.ok(marked.body.metadata.deletionTimestamp);
      assert.deepEqual(marked.body.metadata.finalizers, ["foregroundDeletion"]);
      assert.equal(marked.body.metadata.deletionGracePeriodSeconds, 0);
      assert.deepEqual((await items(deps(url))).map((d) => d.metadata.name), ["fg"], "still listed");
      // The ReplicaSet waits for its pods the same way; the pods terminate.
      const [rs] = await items(sets(url));
      assert.deepEqual(rs.metadata.finalizers, ["foregroundDeletion"]);
      const terminating = await items(pods(url));
      assert.equal(terminating.length, 2);
      assert.ok(terminating.every((p) => p.metadata.deletionTimestamp));
      let sawWaiting = false;
      for (let i = 0; i < 60 && (await getJson(`${deps(url)}/fg`)).status === 200; i++) {
        const left = (await items(pods(url))).length + (await items(sets(url))).length;
        assert.ok(left > 0, "the Deployment stays only while dependents are left");
        sawWaiting = true;
        await advance("1 second");
      }
      assert.ok(sawWaiting);
      assert.equal((await getJson(`${deps(url)}/fg`)).status, 404);
      assert.deepEqual(await items(pods(url)), []);
      assert.deepEqual(await items(sets(url)), []);
    }),
});

Deno.test({
  name: "deletion: background removes the Deployment at once and its dependents later; orphan keeps them",
  ignore: !kubectlPath,
  fn: () =>
    withServer(async ({ url, advance }) => {
      await running(url, advance, "bg");
      const out = await kubectl(url, "delete", "deployment", "bg", "-n", ns, "--wait=false");
      assert.equal(out.code, 0, out.stderr);
      assert.equal((await getJson(`${deps(url)}/bg`)).status, 404);
      const left = await items(pods(url));
      assert.equal(left.length, 2, "the pods go later");
      assert.ok(left.every((p) => p.metadata.deletionTimestamp));
      await advance("40 seconds");
      assert.deepEqual(await items(pods(url)), []);
      assert.deepEqual(await items(sets(url)), []);

      await running(url, advance, "or");
      const orphaned = await kubectl(url, "delete", "deployment", "or", "-n", ns, "--cascade=orphan");
      assert.equal(orphaned.code, 0, orphaned.stderr);
      assert.equal((await getJson(`${deps(url)}/or`)).status, 404);
      const [rs] = await items(sets(url));
      assert.ok(rs, "the ReplicaSet stays");
      assert.equal(rs.metadata.ownerReferences, undefined, "without its owner");
      assert.equal(rs.metadata.deletionTimestamp, undefined);
      await advance("10 seconds");
      const kept = await items(pods(url));
      assert.equal(kept.length, 2);
      assert.ok(kept.every((p) =>
        !p.metadata.deletionTimestamp && p.metadata.ownerReferences[0].uid === rs.metadata.uid
      ));
    }),
});

Deno.test("deletion: an object with a finalizer is marked, refuses new finalizers, and goes with its last one", () =>
  withServer(async ({ url }) => {
    const created = await send(cms(url), "POST", {
      metadata: { name: "held", finalizers: ["example.com/hold"] },
      data: { a: "b" },
    });
    assert.equal(created.status, 201);
    const answer = await del(`${cms(url)}/held`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.kind, "ConfigMap", "the object, left in place, is the answer");
    assert.ok(answer.body.metadata.deletionTimestamp);
    assert.equal(answer.body.metadata.deletionGracePeriodSeconds, 0);
    const read = await getJson(`${cms(url)}/held`);
    assert.equal(read.status, 200);
    assert.equal(read.body.metadata.deletionTimestamp, answer.body.metadata.deletionTimestamp);

    // A second DELETE may switch it to the foreground (the finalizer is added); the timestamp stays.
    const again = await del(`${cms(url)}/held`, { propagationPolicy: "Foreground" });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.metadata.finalizers, ["example.com/hold", "foregroundDeletion"]);
    assert.equal(again.body.metadata.deletionTimestamp, answer.body.metadata.deletionTimestamp);

    const more = await send(
      `${cms(url)}/held`,
      "PATCH",
      { metadata: { finalizers: ["example.com/hold", "example.com/other"] } },
      "application/merge-patch+json",
    );
    assert.equal(more.status, 422);
    assert.equal(more.body.details.causes[0].reason, "FieldValueForbidden");
    assert.equal(more.body.details.causes[0].field, "metadata.finalizers");
    assert.match(more.body.message, /no new finalizers can be added if the object is being deleted/);

    // The garbage collector drops foregroundDeletion (no dependents); the last finalizer's removal deletes it.
    assert.deepEqual((await getJson(`${cms(url)}/held`)).body.metadata.finalizers, ["example.com/hold"]);
    const released = await send(
      `${cms(url)}/held`,
      "PATCH",
      { metadata: { finalizers: null } },
      "application/merge-patch+json",
    );
    assert.equal(released.status, 200);
    assert.equal((await getJson(`${cms(url)}/held`)).status, 404);
  }));

Deno.test("deletion: DELETE answers a Status or the object, per kind and policy", () =>
  withServer(async ({ url, advance }) => {
    await send(cms(url), "POST", { metadata: { name: "a" } });
    const status = await del(`${cms(url)}/a`);
    const uid = status.body.details?.uid;
    assert.equal(status.status, 200);
    assert.deepEqual(status.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name: "a", kind: "configmaps", uid },
    });
    assert.match(uid, /./);

    await running(url, advance, "web", 1);
    const dep = await del(`${deps(url)}/web`);
    assert.equal(dep.status, 200);
    assert.deepEqual(
      [dep.body.kind, dep.body.status, dep.body.details.group, dep.body.details.kind, dep.body.details.name],
      ["Status", "Success", "apps", "deployments", "web"],
    );

    // Services, pods and namespaces answer with the object.
    const svc = await send(`${url}/api/v1/namespaces/${ns}/services`, "POST", {
      metadata: { name: "svc" },
      spec: { ports: [{ port: 8080 }] },
    });
    assert.equal(svc.status, 201);
    const gone = await del(`${url}/api/v1/namespaces/${ns}/services/svc`);
    assert.equal(gone.status, 200);
    assert.equal(gone.body.kind, "Service");
    assert.equal(gone.body.metadata.name, "svc");

    await running(url, advance, "one", 1);
    const [pod] = await items(pods(url));
    const graceful = await del(`${pods(url)}/${pod.metadata.name}`, { gracePeriodSeconds: 20 });
    assert.equal(graceful.status, 200);
    assert.equal(graceful.body.kind, "Pod");
    assert.equal(graceful.body.metadata.deletionGracePeriodSeconds, 20);
    // A later DELETE may only shorten the grace period.
    const longer = await del(`${pods(url)}/${pod.metadata.name}`, { gracePeriodSeconds: 60 });
    assert.equal(longer.body.metadata.deletionGracePeriodSeconds, 20);
    const shorter = await del(`${pods(url)}/${pod.metadata.name}`, { gracePeriodSeconds: 5 });
    assert.equal(shorter.body.metadata.deletionGracePeriodSeconds, 5);
    assert.equal(
      Date.parse(shorter.body.metadata.deletionTimestamp),
      Date.parse(graceful.body.metadata.deletionTimestamp) - 15_000,
    );

    // orphanDependents: false (the legacy cascade) answers 202 while the object waits.
    await send(cms(url), "POST", { metadata: { name: "b", finalizers: ["example.com/hold"] } });
    const accepted = await del(`${cms(url)}/b`, { orphanDependents: false });
    assert.equal(accepted.status, 202);
    // Cascading this way is the background policy: no foregroundDeletion finalizer.
    assert.deepEqual(accepted.body.metadata.finalizers, ["example.com/hold"]);

    const both = await del(`${cms(url)}/b`, { orphanDependents: true, propagationPolicy: "Orphan" });
    assert.equal(both.status, 422);
    const unknown = await getJson(`${cms(url)}/b?propagationPolicy=Sideways`, { method: "DELETE" });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.details.causes[0].reason, "FieldValueNotSupported");
    const wrongUid = await del(`${cms(url)}/b`, { preconditions: { uid: "not-it" } });
    assert.equal(wrongUid.status, 409);
  }));

Deno.test("deletion: dryRun=All on every write answers as if done and changes nothing", () =>
  withServer(async ({ url, advance }) => {
    await running(url, advance, "dry", 1);
    await send(cms(url), "POST", { metadata: { name: "c" }, data: { k: "v" } });
    const before = await getJson(cms(url));
    const rv = before.body.metadata.resourceVersion;
    const res = await fetch(`${cms(url)}?watch=1&resourceVersion=${rv}`);
    const next = lineReader(res.body!.pipeThrough(new TextDecoderStream()).getReader());
    try {
      const created = await send(`${cms(url)}?dryRun=All`, "POST", { metadata: { name: "new" } });
      assert.equal(created.status, 201);
      assert.ok(created.body.metadata.uid && created.body.metadata.creationTimestamp);
      assert.equal(created.body.metadata.resourceVersion, undefined);
      assert.equal((await getJson(`${cms(url)}/new`)).status, 404);

      const current = (await getJson(`${cms(url)}/c`)).body;
      const put = await send(`${cms(url)}/c?dryRun=All`, "PUT", { ...current, data: { k: "w" } });
      assert.equal(put.status, 200);
      assert.equal(put.body.data.k, "w");
      const patched = await send(
        `${cms(url)}/c?dryRun=All`,
        "PATCH",
        { data: { k: "x" } },
        "application/merge-patch+json",
      );
      assert.equal(patched.body.data.k, "x");
      const deleted = await del(`${cms(url)}/c`, { dryRun: ["All"] });
      assert.equal(deleted.status, 200);
      assert.equal(deleted.body.status, "Success");
      const queryDeleted = await getJson(`${cms(url)}/c?dryRun=All`, { method: "DELETE" });
      assert.equal(queryDeleted.status, 200);
      const scaled = await send(`${deps(url)}/dry/scale?dryRun=All`, "PUT", { spec: { replicas: 5 } });
      assert.equal(scaled.status, 200);
      assert.equal(scaled.body.spec.replicas, 5);
      const deployment = (await getJson(`${deps(url)}/dry`)).body;
      assert.equal(deployment.spec.replicas, 1);
      const bad = await send(`${cms(url)}?dryRun=Maybe`, "POST", { metadata: { name: "x" } });
      assert.equal(bad.status, 422);
      assert.equal((await getJson(`${cms(url)}/x`)).status, 404);

      const after = (await getJson(`${cms(url)}/c`)).body;
      assert.equal(after.metadata.resourceVersion, current.metadata.resourceVersion);
      assert.deepEqual(after.data, { k: "v" });
      assert.equal((await getJson(cms(url))).body.metadata.resourceVersion, rv, "no resourceVersion used");
      // The first event the watch sees is a real write made after the dry runs.
      await send(cms(url), "POST", { metadata: { name: "real" } });
      const first = await next();
      assert.deepEqual([first.type, first.object.metadata.name], ["ADDED", "real"]);
    } finally {
      await res.body?.cancel().catch(() => {});
    }
  }));

Deno.test("deletion: Status.details on 404, 409 and 422, as the API server fills them", () =>
  withServer(async ({ url }) => {
    const missing = await getJson(`${deps(url)}/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body.details, { name: "nope", group: "apps", kind: "deployments" });
    const noSecret = await del(`${url}/api/v1/namespaces/${ns}/secrets/nope`);
    assert.deepEqual(noSecret.body.details, { name: "nope", kind: "secrets" });

    await send(cms(url), "POST", { metadata: { name: "twice" } });
    const exists = await send(cms(url), "POST", { metadata: { name: "twice" } });
    assert.equal(exists.status, 409);
    assert.equal(exists.body.reason, "AlreadyExists");
    assert.deepEqual(exists.body.details, { name: "twice", kind: "configmaps" });
    const stale = await send(`${cms(url)}/twice`, "PUT", {
      metadata: { name: "twice", resourceVersion: "1" },
    });
    assert.equal(stale.status, 409);
    assert.deepEqual(stale.body.details, { name: "twice", kind: "configmaps" });

    const bad = deploymentFixture("Bad_Name");
    bad.spec.template.spec.containers = [];
    const invalid = await send(deps(url), "POST", bad);
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.details.name, "Bad_Name");
    assert.equal(invalid.body.details.group, "apps");
    assert.equal(invalid.body.details.kind, "Deployment");
    const causes = invalid.body.details.causes.map((c: Any) => [c.reason, c.field]);
    assert.deepEqual(causes, [
      ["FieldValueInvalid", "metadata.name"],
      ["FieldValueRequired", "spec.template.spec.containers"],
    ]);
    assert.match(invalid.body.details.causes[0].message, /^Invalid value: "Bad_Name": /);
  }));

Deno.test("deletion: deletecollection deletes what the selector picks and lists it", () =>
  withServer(async ({ url }) => {
    for (const [name, app] of [["x1", "x"], ["x2", "x"], ["y1", "y"]]) {
      await send(cms(url), "POST", { metadata: { name, labels: { app } } });
    }
    const res = await getJson(`${cms(url)}?labelSelector=app%3Dx`, { method: "DELETE" });
    assert.equal(res.status, 200);
    assert.equal(res.body.kind, "ConfigMapList");
    assert.deepEqual(res.body.items.map((o: Any) => o.metadata.name), ["x1", "x2"]);
    assert.deepEqual((await items(cms(url))).map((o) => o.metadata.name), ["y1"]);
    // Namespaced kinds are deleted by collection in one namespace only; namespaces not at all.
    assert.equal((await del(`${url}/api/v1/configmaps`)).status, 405);
    assert.equal((await del(`${url}/api/v1/namespaces`)).status, 405);
    assert.deepEqual((await items(cms(url))).map((o) => o.metadata.name), ["y1"]);
  }));

Deno.test("deletion: the garbage collector drops references to owners that are gone, and collects orphans", () =>
  withServer(async ({ url }) => {
    const parent = (await send(cms(url), "POST", { metadata: { name: "parent" } })).body;
    const ref = (name: string, uid: string) => ({ apiVersion: "v1", kind: "ConfigMap", name, uid });
    const child = await send(cms(url), "POST", {
      metadata: {
        name: "child",
        ownerReferences: [ref("parent", parent.metadata.uid), ref("ghost", "gone-uid")],
      },
    });
    assert.equal(child.status, 201);
    const kept = (await getJson(`${cms(url)}/child`)).body;
    assert.deepEqual(
      kept.metadata.ownerReferences.map((r: Any) => r.name),
      ["parent"],
      "the live owner stays",
    );

    // Owned only by objects that do not exist: collected as soon as it is created.
    const lonely = await send(cms(url), "POST", {
      metadata: { name: "lonely", ownerReferences: [ref("ghost", "x")] },
    });
    assert.equal(lonely.status, 201);
    assert.equal((await getJson(`${cms(url)}/lonely`)).status, 404);

    // Background deletion of the owner: the child goes with it.
    const gone = await del(`${cms(url)}/parent`);
    assert.equal(gone.body.status, "Success");
    assert.equal((await getJson(`${cms(url)}/child`)).status, 404);
  }));
