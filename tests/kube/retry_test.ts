/** The retry Schedules in virtual time: back-off, Retry-After, give-up, conflicts, idempotent writes. */
import assert from "node:assert/strict";
import { Effect, Exit, Fiber } from "effect";
import { TestClock } from "effect/testing";
import { KubeError } from "../../src/kube/api.ts";
import { conflictRetry, idempotentCreate, withApiRetry } from "../../src/kube/retry.ts";
import { metrics } from "../../src/metrics/registry.ts";

const fail = (status: number, reason: string, retryAfterSeconds?: number) =>
  KubeError.status(status, reason, `${status} ${reason}`, retryAfterSeconds);

/** A call that fails with the given errors in turn, then succeeds; records the virtual time of each attempt. */
const scripted = (errors: KubeError[]) => {
  const attempts: number[] = [];
  const call = Effect.gen(function* () {
    attempts.push(yield* Effect.clockWith((c) => Effect.succeed(c.currentTimeMillisUnsafe())));
    const e = errors[attempts.length - 1];
    return e ? yield* Effect.fail(e) : "ok";
  });
  return { call, attempts };
};

const inVirtualTime = <A, E>(effect: Effect.Effect<A, E>, advanceMs: number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(Effect.exit(effect));
      for (let t = 0; t < advanceMs; t += 100) yield* TestClock.adjust(100);
      return yield* Fiber.join(fiber);
    }).pipe(Effect.provide(TestClock.layer())),
  );

Deno.test("apiRetry: 429 waits at least Retry-After; 5xx backs off and succeeds", async () => {
  const s = scripted([fail(429, "TooManyRequests", 5), fail(503, "ServiceUnavailable")]);
  const retriesBefore = metrics.kubeRetries.get();
  const exit = await inVirtualTime(withApiRetry(s.call), 20_000);
  assert.ok(Exit.isSuccess(exit));
  assert.equal(s.attempts.length, 3);
  assert.ok(s.attempts[1] - s.attempts[0] >= 5_000, `waited ${s.attempts[1] - s.attempts[0]} ms after a 429`);
  assert.ok(s.attempts[2] - s.attempts[1] < 5_000, "a 503 without Retry-After backs off briefly");
  assert.equal(metrics.kubeRetries.get() - retriesBefore, 2);
});

Deno.test("apiRetry: gives up after its time budget; 4xx are not retried", async () => {
  const always = scripted(Array(1000).fill(fail(500, "InternalError")));
  const exit = await inVirtualTime(withApiRetry(always.call), 60_000);
  assert.ok(Exit.isFailure(exit));
  assert.ok(always.attempts.length > 3);
  assert.ok(always.attempts.at(-1)! <= 40_000, "stops within the 30 s budget plus one capped delay");
  const notFound = scripted([fail(404, "NotFound")]);
  const nf = await inVirtualTime(withApiRetry(notFound.call), 5_000);
  assert.ok(Exit.isFailure(nf));
  assert.equal(notFound.attempts.length, 1);
});

Deno.test("conflictRetry: re-runs the read-modify-write on 409 Conflict, not on AlreadyExists", async () => {
  const conflicts = scripted([fail(409, "Conflict"), fail(409, "Conflict")]);
  assert.ok(Exit.isSuccess(await inVirtualTime(Effect.retry(conflicts.call, conflictRetry), 1_000)));
  assert.equal(conflicts.attempts.length, 3);
  const exists = scripted([fail(409, "AlreadyExists")]);
  assert.ok(Exit.isFailure(await inVirtualTime(Effect.retry(exists.call, conflictRetry), 1_000)));
  assert.equal(exists.attempts.length, 1);
  // A conflict that never goes away: 5 tries in all, as client-go's DefaultRetry.
  const forever = scripted(Array.from({ length: 20 }, () => fail(409, "Conflict")));
  assert.ok(Exit.isFailure(await inVirtualTime(Effect.retry(forever.call, conflictRetry), 1_000)));
  assert.equal(forever.attempts.length, 5);
});

Deno.test("idempotentCreate: AlreadyExists on the first attempt is a real duplicate, after a retry it is ours", async () => {
  const first = scripted([fail(409, "AlreadyExists")]);
  const dup = await inVirtualTime(idempotentCreate(first.call, Effect.succeed("ours")), 1_000);
  assert.ok(Exit.isFailure(dup));
  const lost = scripted([fail(503, "ServiceUnavailable"), fail(409, "AlreadyExists")]);
  const recovered = await inVirtualTime(idempotentCreate(lost.call, Effect.succeed("ours")), 5_000);
  assert.deepEqual(recovered, Exit.succeed("ours"));
  const other = scripted([fail(503, "ServiceUnavailable"), fail(409, "AlreadyExists")]);
  assert.ok(
    Exit.isFailure(await inVirtualTime(idempotentCreate(other.call, Effect.succeed(undefined)), 5_000)),
  );
});
