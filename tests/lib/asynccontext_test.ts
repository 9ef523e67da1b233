/**
 * Effect loaded through the project's `effect` module does not wrap fiber resumptions in
 * node:async_hooks resources, which on Deno chain up and are never freed (src/lib/asynccontext.ts).
 */
// First import: the project's Effect, as every module of the provider loads it.
import { Effect } from "effect";
import assert from "node:assert/strict";
import { AsyncResource } from "node:async_hooks";
import process from "node:process";

Deno.test("async context: a fiber that suspends 1,000 times creates no AsyncResource, and the lookup is restored", async () => {
  const original = AsyncResource.prototype.runInAsyncScope;
  let scopes = 0;
  const counting = function (this: AsyncResource, ...args: Parameters<typeof original>) {
    scopes++;
    return Reflect.apply(original, this, args);
  };
  AsyncResource.prototype.runInAsyncScope = counting as typeof original;
  try {
    let n = 0;
    await Effect.runPromise(Effect.gen(function* () {
      while (n < 1_000) {
        n++;
        yield* Effect.yieldNow;
        if (n % 100 === 0) yield* Effect.sleep(0);
      }
    }));
    assert.equal(n, 1_000);
    assert.equal(scopes, 0, "fiber resumptions ran inside AsyncResources");
  } finally {
    AsyncResource.prototype.runInAsyncScope = original;
  }
  // Anything else that asks for node:async_hooks still gets it.
  const builtin = (process as unknown as { getBuiltinModule: (id: string) => { AsyncResource?: unknown } })
    .getBuiltinModule("node:async_hooks");
  assert.equal(builtin.AsyncResource, AsyncResource);
});
