/** The scaler's decision rules on their own: pure functions of memory, load, policy and time. */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import { policyFrom } from "../../src/domain/scaling.ts";
import {
  defaultWindows,
  freshMemory,
  idleBeyondZeroDuration,
  inFlightLoad,
  nextHoldMs,
  predict,
  reactive,
} from "../../src/scaling/rules.ts";

const policy = policyFrom({ "com.openfaas.scale.min": "2", "com.openfaas.scale.max": "6" });

Deno.test("rules: the reactive want stays within [min, max] for any load and replicas", () =>
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc.integer({ min: 0, max: 50 }),
      (stable, panic, current) => {
        const { want } = reactive(
          freshMemory,
          { stable, panic },
          policy,
          { current, ready: current },
          1e6,
          defaultWindows,
        );
        return want >= 2 && want <= 6;
      },
    ),
    { numRuns: runs(200) },
  ));

Deno.test("rules: scale-down waits for the peak of the window, the panic window's peaks included", () => {
  let memory = freshMemory;
  // 4.5 req/s per replica: a burst over the panic window wants 4, the stable window wants 2.
  memory =
    reactive(memory, { stable: 9, panic: 18 }, policy, { current: 4, ready: 4 }, 0, defaultWindows).memory;
  const soon = reactive(
    memory,
    { stable: 0, panic: 0 },
    policy,
    { current: 4, ready: 4 },
    10_000,
    defaultWindows,
  );
  assert.equal(soon.want, 4, "the burst 10 s ago still counts");
  const later = reactive(
    soon.memory,
    { stable: 0, panic: 0 },
    policy,
    { current: 4, ready: 4 },
    21_000,
    defaultWindows,
  );
  assert.equal(later.want, 2, "past the 20 s window: down to min");
});

Deno.test("rules: a count someone else set is kept until the load needs more, then the window decides", () => {
  const memory = { ...freshMemory, externalUntil: 20_000 };
  const idle = { stable: 0, panic: 0 };
  assert.equal(reactive(memory, idle, policy, { current: 5, ready: 5 }, 10_000, defaultWindows).want, 5);
  assert.equal(
    reactive(memory, idle, policy, { current: 1, ready: 1 }, 10_000, defaultWindows).want,
    1,
    "below min too",
  );
  assert.equal(
    reactive(memory, { stable: 40, panic: 40 }, policy, { current: 5, ready: 5 }, 10_000, defaultWindows)
      .want,
    6,
    "more load: up, within max",
  );
  assert.equal(reactive(memory, idle, policy, { current: 5, ready: 5 }, 20_000, defaultWindows).want, 2);
});

Deno.test("rules: panic mode starts at twice the ready pods and lasts a stable window", () => {
  const burst = reactive(
    freshMemory,
    { stable: 1, panic: 30 },
    policy,
    { current: 2, ready: 2 },
    0,
    defaultWindows,
  );
  assert.equal(burst.panicking, true);
  assert.equal(burst.want, 6);
  assert.equal(burst.memory.panicUntil, defaultWindows.stableMs);
  const mild = reactive(
    freshMemory,
    { stable: 1, panic: 12 },
    policy,
    { current: 2, ready: 2 },
    0,
    defaultWindows,
  );
  assert.equal(mild.panicking, false, "3 wanted is less than twice 2 ready");
});

Deno.test("rules: in-flight samples average over each window and drop what is older than the stable one", () => {
  let samples: readonly (readonly [number, number])[] = [];
  let load = { stable: 0, panic: 0 };
  for (let t = 0; t <= 40_000; t += 2_000) {
    ({ samples, load } = inFlightLoad(samples, t < 30_000 ? 0 : 6, t, defaultWindows));
  }
  assert.ok(samples.every(([at]) => at > 10_000));
  assert.equal(load.panic, 6);
  assert.equal(load.stable, (6 * 6) / 15);
});

Deno.test("rules: idler and hold back-off", () => {
  const p = policyFrom({ "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "2m" });
  assert.equal(idleBeyondZeroDuration(undefined, 0, p, 119_999), undefined);
  assert.equal(idleBeyondZeroDuration(undefined, 0, p, 120_000), 120_000);
  assert.equal(idleBeyondZeroDuration({ inFlight: 1, lastStarted: 0, lastEnded: 0 }, 0, p, 1e9), undefined);
  assert.equal(
    idleBeyondZeroDuration({ inFlight: 0, lastStarted: 0, lastEnded: 100_000 }, 0, p, 200_000),
    undefined,
  );
  assert.deepEqual([0, 30_000, 60_000, 240_000, 300_000].map(nextHoldMs), [
    30_000,
    60_000,
    120_000,
    300_000,
    300_000,
  ]);
});

Deno.test("rules: the predictor unloads before the pre-warm point, pre-warms at it and unloads past the keep-alive", () => {
  const windows = { prewarmMs: 10 * 60_000, keepAliveUntilMs: 20 * 60_000, reason: "r" };
  const after = (ms: number, current: number, waiting = false) =>
    predict({ inFlight: 0, lastStarted: 0, lastEnded: 1_000 }, windows, current, waiting, 1_000 + ms).kind;
  assert.equal(after(60_000, 1), "unload");
  assert.equal(after(60_000, 0), "stay");
  assert.equal(after(60_000, 1, true), "wait");
  assert.equal(after(10 * 60_000, 0), "prewarm");
  assert.equal(after(15 * 60_000, 1), "load");
  assert.equal(after(20 * 60_000, 1), "unload");
  assert.equal(predict({ inFlight: 2, lastStarted: 0, lastEnded: 0 }, windows, 1, false, 5).kind, "load");
});
