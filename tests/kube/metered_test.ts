/** Kubernetes API calls in /metrics: successes as 2xx, failures with their status, streams counted once. */
import assert from "node:assert/strict";
import { Effect, Stream } from "effect";
import { type KubeApiShape, KubeError, type WatchEvent } from "../../src/kube/api.ts";
import { meter } from "../../src/kube/metered.ts";
import { metrics } from "../../src/metrics/registry.ts";

const forbidden = KubeError.status(403, "Forbidden", "cannot watch");

const api = (watch: () => Stream.Stream<WatchEvent, KubeError>): KubeApiShape => ({
  request: <T>() => Effect.fail(forbidden) as Effect.Effect<T, KubeError>,
  watch: watch as KubeApiShape["watch"],
  lines: () => Stream.fromIterable(["a", "b"]),
});

Deno.test("metered: a refused watch counts as its status, a working one once as 2xx", async () => {
  const count = (verb: string, code: string) => metrics.kubeRequests.get({ verb, code });
  const errors = (verb: string, code: string) => metrics.kubeErrors.get({ verb, code });
  const before = {
    watch403: count("WATCH", "403"),
    watchErr: errors("WATCH", "403"),
    watchOk: count("WATCH", "2xx"),
    get403: count("GET", "403"),
    linesOk: count("GET", "2xx"),
  };
  const refused = meter(api(() => Stream.fail(forbidden)));
  await Effect.runPromise(Effect.exit(Stream.runDrain(refused.watch("/w"))));
  await Effect.runPromise(Effect.exit(refused.request({ method: "GET", path: "/x" })));
  const events: WatchEvent[] = [1, 2, 3].map((i) => ({ type: "ADDED", object: { i } }));
  const working = meter(api(() => Stream.fromIterable(events)));
  await Effect.runPromise(Stream.runDrain(working.watch("/w")));
  await Effect.runPromise(Stream.runDrain(working.lines("/log")));
  assert.equal(count("WATCH", "403") - before.watch403, 1);
  assert.equal(errors("WATCH", "403") - before.watchErr, 1);
  assert.equal(count("WATCH", "2xx") - before.watchOk, 1, "three events, one watch");
  assert.equal(count("GET", "403") - before.get403, 1);
  assert.equal(count("GET", "2xx") - before.linesOk, 1);
});
