/** Informer edge cases, against the simulator in virtual time. */
import assert from "node:assert/strict";
import { Effect, Scope } from "effect";

import type { Pod, Secret } from "kubernetes-types/core/v1.d.ts";

import { Kinds } from "../../sim/kinds.ts";
import { type Informer, makeInformer } from "../../src/kube/informer.ts";
import { type SimContext, withSimCluster } from "../support/simcluster.ts";
import { paths } from "../../src/kube/resources.ts";
import { deploymentFixture } from "../support/fixtures.ts";

const withInformer = <T extends { metadata?: { name?: string } }>(
  path: string,
  fn: (ctx: SimContext & { informer: Informer<T> }) => Promise<void>,
  before: (ctx: SimContext) => void = () => {},
  pageSize?: number,
) =>
  withSimCluster(async (ctx) => {
    before(ctx);
    const scope = await ctx.rt.runPromise(Scope.make());
    try {
      const informer = await ctx.rt.runPromise(Scope.provide(scope)(makeInformer<T>({ path, pageSize })));
      await ctx.rt.runPromise(informer.synced);
      await fn({ ...ctx, informer });
    } finally {
      await ctx.rt.runPromise(Scope.close(scope, Effect.void as never));
    }
  });

Deno.test("informer: a remove() without a resourceVersion does not hide the object's later events", async () => {
  await withInformer<Secret>(paths.secrets("openfaas-fn"), async ({ informer, cluster, advance }) => {
    informer.remove("openfaas-fn", "late");
    cluster.store.create(Kinds.Secret, "openfaas-fn", { metadata: { name: "late" }, stringData: { a: "b" } });
    await advance(10);
    assert.equal(informer.get("openfaas-fn", "late")?.metadata?.name, "late");
  });
});

Deno.test("informer: an object being deleted (deletionTimestamp) is gone from the cache", async () => {
  await withInformer<Pod>(paths.pods("openfaas-fn"), async ({ informer, cluster, advance }) => {
    cluster.store.create(Kinds.Deployment, "openfaas-fn", deploymentFixture("web"));
    await advance(15_000);
    const [pod] = cluster.store.list(Kinds.Pod, "openfaas-fn").items;
    assert.ok(informer.get("openfaas-fn", pod.metadata.name!), "cached while running");
    cluster.store.delete(Kinds.Pod, "openfaas-fn", pod.metadata.name!);
    await advance(10);
    assert.ok(cluster.store.peek(Kinds.Pod, "openfaas-fn", pod.metadata.name!)?.metadata.deletionTimestamp);
    assert.equal(informer.get("openfaas-fn", pod.metadata.name!), undefined, "terminating: not cached");
  });
});

Deno.test("informer: the first list comes in pages and the cache holds every page's objects", async () => {
  const names = ["s1", "s2", "s3", "s4", "s5", "s6", "s7"];
  await withInformer<Secret>(
    paths.secrets("openfaas-fn"),
    async ({ informer, cluster, advance }) => {
      assert.deepEqual(informer.list("openfaas-fn").map((s) => s.metadata?.name).sort(), names);
      // The watch resumes from the list's resourceVersion: a change after it arrives.
      cluster.store.create(Kinds.Secret, "openfaas-fn", { metadata: { name: "s8" }, stringData: { a: "b" } });
      await advance(10);
      assert.equal(informer.list("openfaas-fn").length, 8);
    },
    ({ cluster }) => {
      for (const name of names) {
        cluster.store.create(Kinds.Secret, "openfaas-fn", { metadata: { name }, stringData: { a: "b" } });
      }
    },
    2,
  );
});
