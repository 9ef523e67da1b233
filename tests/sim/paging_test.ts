/**
 * `limit` and `continue` on lists over HTTP, as kubectl (--chunk-size) and client-go's pager use
 * them: stable key order, the continue token and remainingItemCount, every page consistent with the
 * first page's resourceVersion, 410 Expired for a token whose history is compacted, 400 for a
 * malformed token.
 */
import assert from "node:assert/strict";
import { getJson, send, withSimServer } from "../support/simcluster.ts";
import { kubectl, kubectlPath } from "../support/kubectl.ts";
import { inconsistentContinue } from "../../sim/paging.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const names = (body: Any) => body.items.map((o: Any) => o.metadata.name);

/** Creates a namespace and config maps named `names` in it. */
const seed = async (
  url: string,
  ns: string,
  list: string[],
  labels: (n: string) => Record<string, string> = () => ({}),
) => {
  await send(`${url}/api/v1/namespaces`, "POST", { metadata: { name: ns } });
  for (const n of list) {
    const r = await send(`${url}/api/v1/namespaces/${ns}/configmaps`, "POST", {
      metadata: { name: n, labels: labels(n) },
      data: { v: "1" },
    });
    assert.equal(r.status, 201);
  }
};

Deno.test("paging: limit and continue walk a list in key order, with remainingItemCount and one resourceVersion", async () => {
  await withSimServer(async ({ url }) => {
    await seed(url, "paged", ["e", "b", "g", "a", "d", "c", "f"]);
    const base = `${url}/api/v1/namespaces/paged/configmaps`;
    const first = await getJson(`${base}?limit=3`);
    assert.equal(first.status, 200);
    assert.deepEqual(names(first.body), ["a", "b", "c"]);
    assert.equal(first.body.metadata.remainingItemCount, 4);
    assert.equal(typeof first.body.metadata.continue, "string");
    const token = JSON.parse(atob(first.body.metadata.continue.replaceAll("-", "+").replaceAll("_", "/")));
    assert.deepEqual(token, {
      v: "meta.k8s.io/v1",
      rv: Number(first.body.metadata.resourceVersion),
      start: "c\u0000",
    });
    const second = await getJson(
      `${base}?limit=3&continue=${encodeURIComponent(first.body.metadata.continue)}`,
    );
    assert.deepEqual(names(second.body), ["d", "e", "f"]);
    assert.equal(second.body.metadata.remainingItemCount, 1);
    assert.equal(second.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
    const third = await getJson(
      `${base}?limit=3&continue=${encodeURIComponent(second.body.metadata.continue)}`,
    );
    assert.deepEqual(names(third.body), ["g"]);
    assert.equal(third.body.metadata.continue, undefined, "the last page has no continue");
    assert.equal(third.body.metadata.remainingItemCount, undefined);
    // A limit at least the list's size: everything, no token.
    const all = await getJson(`${base}?limit=7`);
    assert.deepEqual(names(all.body), ["a", "b", "c", "d", "e", "f", "g"]);
    assert.equal(all.body.metadata.continue, undefined);
    // A list across namespaces is ordered by namespace/name.
    await seed(url, "paged-b", ["a"]);
    const across = await getJson(`${url}/api/v1/configmaps?limit=2&labelSelector=`);
    const keys = across.body.items.map((o: Any) => `${o.metadata.namespace}/${o.metadata.name}`);
    assert.deepEqual(keys, [...keys].sort());
  });
});

Deno.test("paging: later pages show the list as it was at the first page's resourceVersion", async () => {
  await withSimServer(async ({ url }) => {
    await seed(url, "snap", ["a", "b", "c", "d", "e", "f"]);
    const base = `${url}/api/v1/namespaces/snap/configmaps`;
    const first = await getJson(`${base}?limit=2`);
    assert.deepEqual(names(first.body), ["a", "b"]);
    // Changes after the first page: a new item on a later page, one modified, one deleted.
    await send(base, "POST", { metadata: { name: "cc" } });
    const d = (await getJson(`${base}/d`)).body;
    await send(`${base}/d`, "PUT", { ...d, data: { v: "2" } });
    await getJson(`${base}/e`, { method: "DELETE" });
    const rest = await getJson(
      `${base}?limit=10&continue=${encodeURIComponent(first.body.metadata.continue)}`,
    );
    assert.deepEqual(names(rest.body), ["c", "d", "e", "f"], "as at the first page: no cc, e still there");
    assert.deepEqual(rest.body.items.find((o: Any) => o.metadata.name === "d"), d, "d as it was");
    assert.equal(rest.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
    // A fresh list sees the changes.
    const now = await getJson(base);
    assert.deepEqual(names(now.body), ["a", "b", "c", "cc", "d", "f"]);
  });
});

Deno.test("paging: with a label selector the pages hold matching items and no remainingItemCount", async () => {
  await withSimServer(async ({ url }) => {
    await seed(
      url,
      "sel",
      ["a", "b", "c", "d", "e", "f"],
      (n) => ({ odd: "abcdef".indexOf(n) % 2 === 0 ? "yes" : "no" }),
    );
    const base = `${url}/api/v1/namespaces/sel/configmaps`;
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await getJson(
        `${base}?labelSelector=odd%3Dyes&limit=2${token ? `&continue=${encodeURIComponent(token)}` : ""}`,
      );
      assert.equal(page.status, 200);
      assert.equal(page.body.metadata.remainingItemCount, undefined);
      seen.push(...names(page.body));
      token = page.body.metadata.continue ?? "";
      pages++;
    } while (token && pages < 10);
    assert.deepEqual(seen, ["a", "c", "e"]);
    // A field selector too.
    const byName = await getJson(`${base}?fieldSelector=metadata.name%3Dd&limit=1`);
    assert.deepEqual(names(byName.body), ["d"]);
    // A table keeps the token, so kubectl can ask for the next chunk.
    const table = await getJson(`${base}?limit=4`, {
      headers: { accept: "application/json;as=Table;v=v1;g=meta.k8s.io" },
    });
    assert.equal(table.body.kind, "Table");
    assert.equal(table.body.rows.length, 4);
    assert.equal(typeof table.body.metadata.continue, "string");
    assert.equal(table.body.metadata.remainingItemCount, 2);
  });
});

Deno.test("paging: an expired continue token answers 410 Expired, a malformed one 400", async () => {
  await withSimServer(async ({ url, cluster }) => {
    await seed(url, "old", ["a", "b", "c", "d"]);
    const base = `${url}/api/v1/namespaces/old/configmaps`;
    const first = await getJson(`${base}?limit=2`);
    await send(base, "POST", { metadata: { name: "bb" } });
    cluster.store.compact();
    const expired = await getJson(
      `${base}?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`,
    );
    assert.equal(expired.status, 410);
    assert.equal(expired.body.kind, "Status");
    assert.equal(expired.body.reason, "Expired");
    assert.equal(expired.body.code, 410);
    assert.equal(expired.body.message, inconsistentContinue);
    // The token it offers continues from the same key, at the current state.
    const fresh = expired.body.metadata.continue;
    assert.equal(typeof fresh, "string");
    const rest = await getJson(`${base}?limit=10&continue=${encodeURIComponent(fresh)}`);
    assert.equal(rest.status, 200);
    assert.deepEqual(names(rest.body), ["bb", "c", "d"]);
    assert.equal(rest.body.metadata.resourceVersion, String(cluster.store.resourceVersion));

    for (
      const bad of [
        "not base64!",
        btoa("not json"),
        btoa(JSON.stringify({ v: "v9", rv: 1, start: "a" })),
        btoa(JSON.stringify({ v: "meta.k8s.io/v1", rv: 0, start: "a" })),
      ]
    ) {
      const r = await getJson(`${base}?limit=2&continue=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.reason, "BadRequest");
      assert.match(r.body.message, /^invalid continue token: continue key is not valid/);
    }
    const badLimit = await getJson(`${base}?limit=many`);
    assert.equal(badLimit.status, 400);
  });
});

Deno.test({
  name: "paging: kubectl get pods --chunk-size=2 pages through every pod",
  ignore: !kubectlPath,
  fn: async () => {
    await withSimServer(async ({ url }) => {
      await send(`${url}/api/v1/namespaces`, "POST", { metadata: { name: "chunks" } });
      for (let i = 1; i <= 5; i++) {
        const r = await send(`${url}/api/v1/namespaces/chunks/pods`, "POST", {
          metadata: { name: `pod-${i}` },
          spec: { containers: [{ name: "c", image: "functions/alpine:latest" }] },
        });
        assert.equal(r.status, 201);
      }
      const out = await kubectl(url, "get", "pods", "-n", "chunks", "--chunk-size=2", "-v=6");
      assert.equal(out.code, 0, out.stderr);
      const rows = out.stdout.trim().split("\n");
      assert.match(rows[0], /^NAME\s+READY\s+STATUS/);
      assert.deepEqual(rows.slice(1).map((r) => r.split(/\s+/)[0]), [
        "pod-1",
        "pod-2",
        "pod-3",
        "pod-4",
        "pod-5",
      ]);
      const requests = out.stderr.split("\n").filter((l) =>
        /\/namespaces\/chunks\/pods\?[^"\s]*limit=2/.test(l)
      );
      assert.equal(requests.length, 3, requests.join("\n"));
      assert.equal(requests.filter((l) => l.includes("continue=")).length, 2);
    });
  },
});

Deno.test("paging: a label-selected page comes from the store's label index, not a scan of the kind", async () => {
  await withSimServer(async ({ url, cluster }) => {
    const list = Array.from({ length: 30 }, (_, i) => `cm-${String(i).padStart(2, "0")}`);
    await seed(url, "indexed", list, (n) => ({ tier: Number(n.slice(3)) % 3 === 0 ? "a" : "b" }));
    const scanned: string[] = [];
    const scan = cluster.store.scan.bind(cluster.store);
    cluster.store.scan = (kind, namespace) => {
      scanned.push(kind.kind);
      return scan(kind, namespace);
    };
    const base = `${url}/api/v1/namespaces/indexed/configmaps?labelSelector=tier%3Da&limit=4`;
    const first = await getJson(base);
    assert.equal(first.status, 200);
    assert.deepEqual(names(first.body), ["cm-00", "cm-03", "cm-06", "cm-09"]);
    assert.equal(first.body.metadata.remainingItemCount, undefined, "a selective list does not count");
    const second = await getJson(`${base}&continue=${encodeURIComponent(first.body.metadata.continue)}`);
    assert.deepEqual(names(second.body), ["cm-12", "cm-15", "cm-18", "cm-21"]);
    const third = await getJson(`${base}&continue=${encodeURIComponent(second.body.metadata.continue)}`);
    assert.deepEqual(names(third.body), ["cm-24", "cm-27"]);
    assert.equal(third.body.metadata.continue, undefined);
    assert.deepEqual(scanned.filter((k) => k === "ConfigMap"), [], "no scan of the config maps");
  });
});
