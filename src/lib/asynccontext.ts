/**
 * Keeps Effect from tying fibers to `node:async_hooks`, which on Deno leaks memory without bound.
 *
 * When its core module is first evaluated, Effect 4 looks up `AsyncResource` through
 * `process.getBuiltinModule("node:async_hooks")` and, if found, wraps every resumption of a suspended fiber
 * in a new AsyncResource, so that AsyncLocalStorage values follow fibers. Deno's AsyncResource keeps a
 * snapshot of the async context it was created in, and that context holds the resource it was running in;
 * so a fiber that suspends again and again (the scaler's tick, every informer, lease renewals, load
 * reports) builds a chain of resources that is never freed: about 44 bytes per suspension, measured over
 * 100,000 suspensions of one fiber (4.3 MiB, still held after the fiber ended), and a heap that kept
 * growing through a 30-minute soak of the provider. The project uses no AsyncLocalStorage, so Effect is
 * shown no `node:async_hooks` while its modules load (`hideAsyncHooks`, imported by ./effect.ts before
 * any Effect module) and the lookup is restored right after (`restoreAsyncHooks`, from ./effect.ts's body).
 */

interface BuiltinModules {
  getBuiltinModule?: (id: string) => unknown;
}

const proc = (globalThis as { process?: BuiltinModules }).process;
const original = proc?.getBuiltinModule;

/** Hides `node:async_hooks` from `process.getBuiltinModule`; every other module is found as before. */
const hideAsyncHooks = () => {
  if (!proc || !original) return;
  proc.getBuiltinModule = (id: string) =>
    id === "node:async_hooks" || id === "async_hooks" ? undefined : original.call(proc, id);
};

/** Puts `process.getBuiltinModule` back as it was (Effect has made its choice by then). */
export const restoreAsyncHooks = () => {
  if (proc && original) proc.getBuiltinModule = original;
};

hideAsyncHooks();
