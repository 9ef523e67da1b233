/**
 * The `effect` import of the whole project (deno.json maps the bare specifier "effect" here): the
 * modules of Effect the project uses, each from its own entry point. The package's own index loads all
 * of its 140-odd modules at start-up, about 9 MiB of resident memory and 3.6 MiB of V8 heap in every
 * process that the project never uses (measured by bench:memory's start-up figures and by importing
 * each alone). A module not listed here is added here when first needed; `effect/<Module>` and
 * `effect/testing` resolve to the package as before.
 */
// First: Effect must not find node:async_hooks while its modules load (see ./asynccontext.ts).
import { restoreAsyncHooks } from "./asynccontext.ts";
export * as Cause from "effect/Cause";
export * as Clock from "effect/Clock";
export * as Context from "effect/Context";
export * as Data from "effect/Data";
export * as Deferred from "effect/Deferred";
export * as Duration from "effect/Duration";
export * as Effect from "effect/Effect";
export * as Exit from "effect/Exit";
export * as Fiber from "effect/Fiber";
export * as FiberSet from "effect/FiberSet";
export * as Layer from "effect/Layer";
export * as Logger from "effect/Logger";
export * as ManagedRuntime from "effect/ManagedRuntime";
export * as Option from "effect/Option";
export * as Queue from "effect/Queue";
export * as Random from "effect/Random";
export * as References from "effect/References";
export * as Result from "effect/Result";
export * as Schedule from "effect/Schedule";
export * as Schema from "effect/Schema";
export * as Scope from "effect/Scope";
export * as Stream from "effect/Stream";

restoreAsyncHooks();
