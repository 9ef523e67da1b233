/**
 * The store's indexes (sim/storeindex.ts): a label-selected list answers from the label index
 * exactly what a scan would, through creates, relabels and removals; the Services selecting a pod
 * are found from its labels; the scheduler's cached nodes follow Node changes.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Store } from "../../sim/store.ts";
import { Kinds, type KObj } from "../../sim/kinds.ts";
import { matches, type Selector } from "../../src/domain/selectors.ts";
import { withSimCluster } from "../support/simcluster.ts";

const newStore = () => {
  let t = 0, id = 0;
  const store = new Store({ now: () => ++t, uid: () => `uid-${++id}` });
  for (const ns of ["a", "b"]) store.create(Kinds.Namespace, undefined, { metadata: { name: ns } });
  return store;
};

const names = (objects: readonly KObj[]) =>
  objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();

/** What a scan finds: every object of the kind in scope that matches. */
const scanned = (store: Store, ns: string | undefined, selector: Selector) =>
  [...store.scan(Kinds.ConfigMap, ns)].filter((o) => matches(selector, o.metadata.labels));

const labelsArb = fc.dictionary(fc.constantFrom("app", "tier", "x"), fc.constantFrom("1", "2", "3"), {
  maxKeys: 3,
});
const opArb = fc.oneof(
  fc.record({
    op: fc.constant("put" as const),
    ns: fc.constantFrom("a", "b"),
    name: fc.integer({ min: 0, max: 5 }),
    labels: labelsArb,
  }),
  fc.record({
    op: fc.constant("delete" as const),
    ns: fc.constantFrom("a", "b"),
    name: fc.integer({ min: 0, max: 5 }),
  }),
);
const requirementArb = fc.oneof(
  fc.record({
    key: fc.constantFrom("app", "tier", "x"),
    op: fc.constant("=" as const),
    value: fc.constantFrom("1", "2", "9"),
  }),
  fc.record({
    key: fc.constantFrom("app", "tier"),
    op: fc.constant("in" as const),
    values: fc.array(fc.constantFrom("1", "2", "9"), { maxLength: 2 }),
  }),
  fc.record({
    key: fc.constantFrom("app", "x"),
    op: fc.constantFrom("!=" as const),
    value: fc.constantFrom("1", "2"),
  }),
  fc.record({
    key: fc.constantFrom("tier", "x"),
    op: fc.constantFrom("exists" as const, "!exists" as const),
  }),
);

Deno.test("store index: label-selected lists find exactly what a scan finds, through relabels and removals", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 40 }),
      fc.array(requirementArb, { maxLength: 3 }),
      fc.constantFrom(undefined, "a", "b"),
      (ops, selector, ns) => {
        const store = newStore();
        for (const o of ops) {
          const name = `cm-${o.name}`;
          const exists = store.peek(Kinds.ConfigMap, o.ns, name);
          if (o.op === "delete") {
            if (exists) store.delete(Kinds.ConfigMap, o.ns, name);
          } else if (exists) {
            store.mutate(Kinds.ConfigMap, o.ns, name, (c) => {
              c.metadata.labels = o.labels;
            });
          } else store.create(Kinds.ConfigMap, o.ns, { metadata: { name, labels: o.labels } });
        }
        const expected = names(scanned(store, ns, selector));
        assert.deepEqual(names(store.select(Kinds.ConfigMap, ns, selector)), expected);
        const listed = store.list(Kinds.ConfigMap, ns, selector).items;
        assert.deepEqual(names(listed), expected);
        // Sorted by namespace, then name; copies, not the stored objects.
        assert.deepEqual(listed.map((o) => `${o.metadata.namespace}/${o.metadata.name}`), expected);
        for (const o of listed) {
          assert.notEqual(o, store.peek(Kinds.ConfigMap, o.metadata.namespace, o.metadata.name!));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("store index: the Services selecting a pod's labels, in its namespace, as selectors change", () => {
  const store = newStore();
  const svc = (ns: string, name: string, selector?: Record<string, string>) =>
    store.create(Kinds.Service, ns, { metadata: { name }, spec: { selector, ports: [{ port: 80 }] } });
  svc("a", "web", { app: "web" });
  svc("a", "web-v2", { app: "web", version: "2" });
  svc("a", "headless");
  svc("a", "empty", {});
  svc("b", "web", { app: "web" });
  const selecting = (ns: string, labels: Record<string, string>) =>
    store.selecting(Kinds.Service, ns, labels).map((s) => s.metadata.name).sort();
  assert.deepEqual(selecting("a", { app: "web" }), ["web"]);
  assert.deepEqual(selecting("a", { app: "web", version: "2", other: "x" }), ["web", "web-v2"]);
  assert.deepEqual(selecting("a", { version: "2" }), []);
  assert.deepEqual(selecting("b", { app: "web", version: "2" }), ["web"]);
  assert.deepEqual(selecting("a", {}), []);
  // A changed selector is found under its new labels only; a deleted Service is not found.
  store.mutate(Kinds.Service, "a", "web", (s) => {
    s.spec.selector = { app: "api" };
  });
  assert.deepEqual(selecting("a", { app: "web", version: "2" }), ["web-v2"]);
  assert.deepEqual(selecting("a", { app: "api" }), ["web"]);
  store.delete(Kinds.Service, "a", "web-v2");
  assert.deepEqual(selecting("a", { app: "web", version: "2" }), []);
  // A Service that gains a selector is found.
  store.mutate(Kinds.Service, "a", "headless", (s) => {
    s.spec.selector = { version: "2" };
  });
  assert.deepEqual(selecting("a", { app: "web", version: "2" }), ["headless"]);
});

Deno.test("scheduler: its cached nodes follow Node changes (a cordoned node gets no pod, a new node does)", async () => {
  await withSimCluster(async ({ cluster, advance }) => {
    const pod = (name: string) =>
      cluster.api.handle({
        method: "POST",
        path: "/api/v1/namespaces/default/pods",
        body: { metadata: { name }, spec: { containers: [{ name: "c", image: "functions/alpine" }] } },
      });
    const nodeOf = (name: string) => cluster.store.peek(Kinds.Pod, "default", name)?.spec.nodeName;
    assert.equal(pod("p1").status, 201);
    await advance(10);
    assert.equal(nodeOf("p1"), "sim-node-1");
    // Cordon the only node: the next pod waits, Unschedulable.
    cluster.store.mutate(Kinds.Node, undefined, "sim-node-1", (n) => {
      n.spec.unschedulable = true;
    });
    assert.equal(pod("p2").status, 201);
    await advance(10);
    assert.equal(nodeOf("p2"), undefined);
    const scheduled = cluster.store.peek(Kinds.Pod, "default", "p2")!.status.conditions[0];
    assert.match(scheduled.message, /^0\/1 nodes are available: 1 node\(s\) were unschedulable\./);
    // A new node: the waiting pod goes there.
    const node = structuredClone(cluster.store.peek(Kinds.Node, undefined, "sim-node-1")!);
    cluster.store.create(Kinds.Node, undefined, {
      metadata: { name: "sim-node-2", labels: node.metadata.labels },
      spec: {},
    });
    cluster.store.mutate(Kinds.Node, undefined, "sim-node-2", (n) => {
      n.status = node.status;
    });
    await advance(10);
    assert.equal(nodeOf("p2"), "sim-node-2");
  }, { nodes: 1 });
});
