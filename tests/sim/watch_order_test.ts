/**
 * Watch streams as a client-go program reads them over HTTP, raw: every event in strictly
 * increasing resourceVersion order, ADDED before MODIFIED, nothing after DELETED, each change once,
 * and the last event per object equal to the object a GET returns, through bursts of controller
 * writes; periodic BOOKMARKs on the cluster's clock when asked for.
 */
import assert from "node:assert/strict";
import { getJson, send, withSimCluster, withSimServer } from "../support/simcluster.ts";
import { deploymentFixture } from "../support/fixtures.ts";
import { assertWatchOrder, type RawEvent, type RawWatch, rawWatch } from "../support/watchstream.ts";
import { Kinds } from "../../sim/kinds.ts";
import { kubectlPath, kubectlSpawn } from "../support/kubectl.ts";
import type { StoreEvent } from "../../sim/watch.ts";

const ns = "openfaas-fn";
const core = `/api/v1/namespaces/${ns}`;
const apps = `/apis/apps/v1/namespaces/${ns}`;
const watched = [
  `${core}/pods`,
  `${apps}/deployments`,
  `${apps}/replicasets`,
  `${core}/endpoints`,
  `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
];

const standalonePod = (name: string) => ({
  metadata: { name, labels: { faas_function: "burst" } },
  spec: { containers: [{ name: "c", image: "functions/alpine:latest", ports: [{ containerPort: 8080 }] }] },
});

Deno.test("watch order: raw HTTP streams stay in resourceVersion order through a burst of controller writes", async () => {
  await withSimServer(async ({ url, advance, cluster }) => {
    await send(`${url}${apps}/deployments`, "POST", deploymentFixture("burst", undefined, { replicas: 0 }));
    await send(`${url}${core}/services`, "POST", {
      metadata: { name: "burst" },
      spec: { selector: { faas_function: "burst" }, ports: [{ port: 8080 }] },
    });
    const startRv = Number(cluster.store.resourceVersion);
    const watches: [string, RawWatch][] = [];
    for (const path of watched) {
      const rv = (await getJson(`${url}${path}`)).body.metadata.resourceVersion;
      watches.push([
        path,
        await rawWatch(`${url}${path}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`),
      ]);
    }
    try {
      const scale = (replicas: number) =>
        send(`${url}${apps}/deployments/burst/scale`, "PUT", { spec: { replicas } });
      assert.equal((await scale(20)).status, 200);
      await advance("1 second");
      assert.equal((await scale(3)).status, 200);
      await advance("500 millis");
      // A watch started in the middle of the burst, from the list it resumes after.
      const midRv = (await getJson(`${url}${core}/pods`)).body.metadata.resourceVersion;
      const mid = await rawWatch(
        `${url}${core}/pods?watch=1&resourceVersion=${midRv}&allowWatchBookmarks=true`,
      );
      watches.push([`${core}/pods (from the middle)`, mid]);
      assert.equal((await scale(0)).status, 200);
      for (const n of ["solo-a", "solo-b", "solo-c"]) {
        assert.equal((await send(`${url}${core}/pods`, "POST", standalonePod(n))).status, 201);
      }
      await advance("3 seconds");
      assert.equal((await scale(4)).status, 200);
      await getJson(`${url}${core}/pods/solo-a?gracePeriodSeconds=0`, { method: "DELETE" });
      await getJson(`${url}${core}/pods/solo-b`, { method: "DELETE" });
      await advance("45 seconds");
      assert.equal((await scale(2)).status, 200);
      // Settle, then a bookmark on every stream marks the end.
      await advance("2 minutes");
      const finalRv = cluster.store.resourceVersion;
      for (const [path, w] of watches) {
        await w.until(
          (e) => e.type === "BOOKMARK" && Number(e.object.metadata.resourceVersion) >= finalRv,
          `the final bookmark on ${path}`,
        );
      }
      const uidsSince = new Set<string>();
      for (const w of watches) {
        for (const e of w[1].events) {
          if (e.type === "ADDED" && Number(e.object.metadata.resourceVersion) > startRv) {
            uidsSince.add(e.object.metadata.uid);
          }
        }
      }
      let seen = 0;
      for (const [path, w] of watches) {
        const relevant = w.events.filter((e) => Number(e.object.metadata.resourceVersion) <= finalRv);
        const last = assertWatchOrder(relevant, {
          what: path,
          createdDuringWatch: (uid) => !path.includes("middle") && uidsSince.has(uid),
        });
        const base = path.split(" ")[0];
        for (const e of last.values()) {
          const got = await getJson(`${url}${base}/${e.object.metadata.name}`);
          if (e.type === "DELETED") {
            // Gone, or a new object under the same name.
            assert.ok(
              got.status === 404 || got.body.metadata.uid !== e.object.metadata.uid,
              `${path}: ${e.object.metadata.name}`,
            );
          } else {
            assert.equal(got.status, 200, `${path}: ${e.object.metadata.name} is listed by its last event`);
            assert.deepEqual(
              e.object,
              got.body,
              `${path}: the last event of ${e.object.metadata.name} is its state`,
            );
          }
          seen++;
        }
        // Every object listed now was seen on the stream (nothing missed).
        const listed = (await getJson(`${url}${base}`)).body.items as {
          metadata: { uid: string; name: string };
        }[];
        if (!path.includes("middle")) {
          for (const o of listed) {
            if (o.metadata.uid && last.has(o.metadata.uid) === false) {
              // Objects from before the watch that never changed are not on a resumed stream.
              assert.ok(
                Number((o as { metadata: { resourceVersion?: string } }).metadata.resourceVersion) <= startRv,
                `${path}: ${o.metadata.name} changed but never showed on the stream`,
              );
            }
          }
        }
      }
      assert.ok(seen > 20, `the burst touched many objects (${seen})`);
      const pods = watches[0][1].events.filter((e) => e.type !== "BOOKMARK");
      assert.ok(pods.filter((e) => e.type === "ADDED").length >= 20, "20+ pods were created");
      assert.ok(pods.filter((e) => e.type === "DELETED").length >= 18, "and most deleted again");
    } finally {
      for (const [, w] of watches) await w.close();
    }
  });
});

Deno.test("watch order: a watch started while changes are still being delivered sends each change once", async () => {
  await withSimCluster(({ cluster }) => {
    const { store, api } = cluster;
    const path = `${core}/configmaps`;
    const name = (o: unknown) => (o as { metadata: { name: string } }).metadata.name;
    const fromList: string[] = [];
    const resumed: string[] = [];
    const cancels: (() => void)[] = [];
    const before = store.resourceVersion;
    // One listener writes in reaction to a change (its writes wait in the delivery queue); the next
    // one starts two watches at that moment: one from a list, one resuming from before the change.
    const stopWriter = store.subscribe((e: StoreEvent) => {
      if (e.kind !== Kinds.ConfigMap || e.object.metadata.name !== "trigger") return;
      for (const n of ["reaction-1", "reaction-2"]) {
        store.create(Kinds.ConfigMap, ns, { metadata: { name: n } });
      }
    });
    const stopWatcher = store.subscribe((e: StoreEvent) => {
      if (e.kind !== Kinds.ConfigMap || e.object.metadata.name !== "trigger") return;
      const sink = (into: string[]) => ({
        event: (type: string, o: unknown) => into.push(`${type}:${name(o)}`),
        close: () => {},
      });
      cancels.push(api.watch(path, {}, sink(fromList)));
      cancels.push(api.watch(path, { resourceVersion: String(before) }, sink(resumed)));
    });
    try {
      store.create(Kinds.ConfigMap, ns, { metadata: { name: "trigger" } });
      store.create(Kinds.ConfigMap, ns, { metadata: { name: "after" } });
      assert.deepEqual(fromList, ["ADDED:reaction-1", "ADDED:reaction-2", "ADDED:trigger", "ADDED:after"]);
      assert.deepEqual(resumed, ["ADDED:trigger", "ADDED:reaction-1", "ADDED:reaction-2", "ADDED:after"]);
    } finally {
      for (const c of cancels) c();
      stopWriter();
      stopWatcher();
    }
  });
});

Deno.test("watch: BOOKMARKs come every minute of cluster time when asked for, carrying the current resourceVersion", async () => {
  await withSimServer(async ({ url, advance }) => {
    const base = `${url}${core}/configmaps`;
    const rv = (await getJson(base)).body.metadata.resourceVersion;
    const withMarks = await rawWatch(`${base}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`);
    const without = await rawWatch(`${base}?watch=1&resourceVersion=${rv}`);
    try {
      await send(base, "POST", { metadata: { name: "one" } });
      await withMarks.until((e) => e.type === "ADDED", "the ADDED event");
      await advance("30 seconds");
      // Changes elsewhere move the resourceVersion on; the bookmark carries it.
      await send(`${url}${core}/secrets`, "POST", { metadata: { name: "elsewhere" } });
      await advance("31 seconds");
      const mark = await withMarks.until((e) => e.type === "BOOKMARK", "a bookmark after a minute");
      const added = withMarks.events.find((e) => e.type === "ADDED")!;
      assert.deepEqual(Object.keys(mark.object).sort(), ["apiVersion", "kind", "metadata"]);
      assert.equal(mark.object.kind, "ConfigMap");
      assert.equal(mark.object.apiVersion, "v1");
      assert.deepEqual(Object.keys(mark.object.metadata), ["resourceVersion"]);
      const markRv = Number(mark.object.metadata.resourceVersion);
      assert.ok(
        markRv > Number(added.object.metadata.resourceVersion),
        "the bookmark is past the last event",
      );
      const secret = await getJson(`${url}${core}/secrets/elsewhere`);
      assert.ok(markRv >= Number(secret.body.metadata.resourceVersion), "and past changes to other kinds");
      await advance("60 seconds");
      await withMarks.until((e) => e.type === "BOOKMARK" && e !== mark, "a second bookmark");
      // The watch that did not ask gets none: a change after two minutes is the next thing it sees.
      await send(base, "POST", { metadata: { name: "two" } });
      await without.until((e: RawEvent) => e.object.metadata?.name === "two", "the second ADDED");
      assert.deepEqual(without.events.map((e) => e.type), ["ADDED", "ADDED"]);
      assertWatchOrder(withMarks.events);
    } finally {
      await withMarks.close();
      await without.close();
    }
  });
});

Deno.test("watch: sendInitialEvents ends the initial ADDED events with the initial-events-end bookmark", async () => {
  await withSimServer(async ({ url }) => {
    const base = `${url}${core}/configmaps`;
    for (const n of ["a", "b"]) await send(base, "POST", { metadata: { name: n } });
    const w = await rawWatch(
      `${base}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
    );
    try {
      const mark = await w.until((e) => e.type === "BOOKMARK", "the initial-events-end bookmark");
      assert.deepEqual(w.events.slice(0, 2).map((e) => `${e.type}:${e.object.metadata.name}`), [
        "ADDED:a",
        "ADDED:b",
      ]);
      assert.equal(mark.object.metadata.annotations["k8s.io/initial-events-end"], "true");
      const listRv = (await getJson(base)).body.metadata.resourceVersion;
      assert.equal(mark.object.metadata.resourceVersion, listRv);
    } finally {
      await w.close();
    }
  });
});

Deno.test({
  name: "watch: kubectl get pods --watch prints clean rows across bookmark intervals",
  ignore: !kubectlPath,
  fn: async () => {
    await withSimServer(async ({ url, advance }) => {
      const pod = (name: string) =>
        send(`${url}${core}/pods`, "POST", {
          metadata: { name },
          spec: { containers: [{ name: "c", image: "functions/alpine:latest" }] },
        });
      await pod("w-1");
      // A raw watch that asks for bookmarks alongside kubectl's, which does not.
      const rv = (await getJson(`${url}${core}/pods`)).body.metadata.resourceVersion;
      const raw = await rawWatch(`${url}${core}/pods?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`);
      const watch = await kubectlSpawn(url, "get", "pods", "-n", ns, "--watch");
      try {
        await watch.waitFor(/^w-1\s/);
        await advance("61 seconds");
        await advance("61 seconds");
        await raw.until((e) => e.type === "BOOKMARK", "a bookmark on the raw stream");
        await pod("w-2");
        await advance("5 seconds");
        await watch.waitFor(/^w-2\s+1\/1\s+Running/);
      } finally {
        const stderr = await watch.stop();
        await raw.close();
        assert.doesNotMatch(stderr, /error|BOOKMARK|unexpected/i, stderr);
      }
      assert.match(watch.lines[0], /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
      for (const line of watch.lines.slice(1)) {
        assert.match(line, /^w-[12]\s+\d\/1\s+(Pending|ContainerCreating|Running)\s+0\s+\S+$/, line);
      }
      assert.ok(
        raw.events.filter((e) => e.type === "BOOKMARK").length >= 2,
        "bookmarks were flowing meanwhile",
      );
    });
  },
});
