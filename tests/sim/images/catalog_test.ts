/** The catalog's slow and hanging images in a cluster, as the provider reports them. */
import assert from "node:assert/strict";
import { withProvider } from "../../support/harness.ts";
import {
  deployFunction as deploy,
  everySecond,
  functionStatus as status,
  podsOf,
} from "../../support/functions.ts";
import { Kinds } from "../../../sim/kinds.ts";

interface Status {
  availableReplicas: number;
  replicas: number;
  image: string;
  readiness?: { reason: string; message: string; pod: string };
}

Deno.test("images: sim/slow-start is unavailable, with a reason, until ~20 s, then available", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "slow", image: "sim/slow-start:latest" });
    const samples = await everySecond(h, 30, () => status(h, "slow"));
    const firstAvailable = samples.findIndex((s) => s.availableReplicas === 1);
    // Pull 1.5 s, then 20 s to start, seen by the 2 s readiness probe: available at 21.5 s.
    assert.ok(firstAvailable >= 20 && firstAvailable <= 23, `available after ${firstAvailable} s`);
    for (const [t, s] of samples.entries()) {
      if (t < firstAvailable) {
        assert.equal(s.availableReplicas, 0, `t=${t}s`);
        assert.ok(s.readiness, `t=${t}s: status says why it is not available: ${JSON.stringify(s)}`);
        assert.ok(
          ["ContainerCreating", "NotReady"].includes(s.readiness.reason),
          `t=${t}s: ${s.readiness.reason}`,
        );
        assert.match(s.readiness.pod, /^slow-/);
      } else {
        assert.equal(s.availableReplicas, 1, `t=${t}s: stays available`);
        assert.equal(s.readiness, undefined, `t=${t}s: no reason once available`);
      }
    }
    // Once the image is pulled the container runs but is not ready: that is the reason for most of the wait.
    assert.equal(samples[10].readiness?.reason, "NotReady");
    const [pod] = podsOf(h, "slow");
    assert.equal(pod.status.containerStatuses[0].restartCount, 0, "slow, not crashing");
  }));

Deno.test("images: sim/hang never becomes available; status says the container is not ready", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "hang", image: "sim/hang:latest" });
    await h.advance(5_000);
    // Sampled every 10 s for 5 minutes.
    for (let t = 0; t < 30; t++) {
      const s = await status(h, "hang");
      assert.equal(s.availableReplicas, 0, `t=${5 + t * 10}s`);
      assert.equal(s.readiness?.reason, "NotReady", JSON.stringify(s));
      assert.match(s.readiness!.message, /hang/, "names the unready container");
      await h.advance(10_000);
    }
    const [pod] = podsOf(h, "hang");
    const container = pod.status.containerStatuses[0];
    assert.equal(pod.status.phase, "Running", "the container runs: it is not a crash or a pull failure");
    assert.ok(container.state.running, JSON.stringify(container.state));
    assert.equal(container.ready, false);
    assert.equal(container.restartCount, 0);
    const ready = pod.status.conditions.find((c: { type: string }) => c.type === "Ready");
    assert.equal(ready.status, "False");
    assert.equal(
      h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "hang").status.availableReplicas,
      undefined,
    );
  }));
