/** The scheduler: a pod that fits no node stays Pending with the reason, one that fits is bound at once. */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../../support/harness.ts";
import { deployFunction as deploy, functionStatus as status } from "../../support/functions.ts";
import { Kinds } from "../../../sim/kinds.ts";

interface Status {
  availableReplicas: number;
  readiness?: { reason: string; message: string; pod: string };
}

const podsOf = (h: Harness, name: string) =>
  h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.filter((p) =>
    p.metadata.labels?.faas_function === name
  );

Deno.test("scheduler: a memory request no node can hold stays Pending with Insufficient memory", () =>
  withProvider(async (h) => {
    // Nodes have 16Gi; the request fits none of the three. Its CPU request is small, so memory is the reason.
    await deploy(h, { service: "bigmem", requests: { memory: "20Gi", cpu: "100m" } });
    await h.advance(60_000);
    const [pod] = podsOf(h, "bigmem");
    assert.equal(pod.status.phase, "Pending");
    assert.equal(pod.spec.nodeName, undefined, "not bound to a node");
    assert.equal(pod.status.containerStatuses, undefined, "no container was started");
    const scheduled = pod.status.conditions.find((c: { type: string }) => c.type === "PodScheduled");
    assert.equal(scheduled.status, "False");
    assert.equal(scheduled.reason, "Unschedulable");
    assert.match(scheduled.message, /^0\/3 nodes are available: 3 Insufficient memory\./);
    assert.doesNotMatch(scheduled.message, /Insufficient cpu/);
    const events = h.cluster.store.list(Kinds.Event, "openfaas-fn").items.filter((e) =>
      e.involvedObject.name === pod.metadata.name && e.reason === "FailedScheduling"
    );
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].type, "Warning");
    assert.match(events[0].message, /3 Insufficient memory/);
    const s = await status(h, "bigmem");
    assert.equal(s.availableReplicas, 0);
    assert.equal(s.readiness?.reason, "Unschedulable");
    assert.match(s.readiness!.message, /Insufficient memory/);
    assert.equal(s.readiness!.pod, pod.metadata.name);
    // A request that fits is scheduled at once on the same cluster.
    await deploy(h, { service: "smallmem", requests: { memory: "1Gi" } });
    await h.advance(10_000);
    assert.equal((await status(h, "smallmem")).availableReplicas, 1);
    assert.equal(podsOf(h, "bigmem")[0].spec.nodeName, undefined, "still Pending");
  }));
