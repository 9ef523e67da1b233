/** Informer edge cases, against the simulator in virtual time. */
import assert from "node:assert/strict";
import { Effect, Layer, ManagedRuntime, Scope } from "effect";
import { TestClock } from "effect/testing";
import type { Pod, Secret } from "kubernetes-types/core/v1.d.ts";
import { SimCluster } from "../sim/cluster.ts";
import { SimTransport } from "../sim/transport.ts";
import { Kinds } from "../sim/kinds.ts";
import { makeInformer } from "../src/kube/informer.ts";
import { paths } from "../src/kube/resources.ts";
import { deploymentFixture } from "./fixtures.ts";

const withInformer = async <T extends { metadata?: { name?: string } }>(
  path: string,
  fn: (ctx: {
    informer: Awaited<ReturnType<typeof start<T>>>;
    cluster: typeof SimCluster.Service;
    advance: (ms: number) => Promise<void>;
  }) => Promise<void>,
) => {
  const rt = ManagedRuntime.make(
    SimTransport.pipe(
      Layer.provideMerge(SimCluster.layer()),
      Layer.provideMerge(TestClock.layer({ warningDelay: "1 hour" })),
    ),
  );
  const scope = await rt.runPromise(Scope.make());
  try {
    const cluster = await rt.runPromise(Effect.service(SimCluster));
    const informer = await start<T>(rt, scope, path);
    await fn({ informer, cluster, advance: (ms) => rt.runPromise(TestClock.adjust(ms)) });
  } finally {
    await rt.runPromise(Scope.close(scope, Effect.void as never));
    await rt.dispose();
  }
};

const start = async <T extends { metadata?: { name?: string } }>(
  // deno-lint-ignore no-explicit-any
  rt: ManagedRuntime.ManagedRuntime<any, never>,
  scope: Scope.Closeable,
  path: string,
) => {
  const informer = await rt.runPromise(Scope.provide(scope)(makeInformer<T>({ path })));
  await rt.runPromise(informer.synced);
  return informer;
};

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
