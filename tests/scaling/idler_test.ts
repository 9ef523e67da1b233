/** The idler: a zero=true function goes to zero after zero-duration without requests, and not before. */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";
import { deployFunction, functionStatus as status } from "../support/functions.ts";

const scaling = { config: { scaling: true } };

const deploy = (h: Harness, service: string, labels: Record<string, string> = {}) =>
  deployFunction(h, { service, envProcess: "cat", labels });

Deno.test("an idle zero=true function reaches 0 after zero-duration and not before", () =>
  withProvider(async (h) => {
    await deploy(h, "idle", { "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "2m" });
    await h.advance(10_000);
    assert.equal((await h.advanceUntil(h.call("POST", "/function/idle", "x"))).status, 200);
    await h.advance(110_000);
    assert.equal((await status(h, "idle")).replicas, 1, "not before zero-duration");
    await h.advance(14_000);
    assert.equal((await status(h, "idle")).replicas, 0, "at zero after zero-duration");
    // and a function without zero=true is never idled
    await deploy(h, "busy");
    await h.advance(20 * 60_000);
    assert.equal((await status(h, "busy")).replicas, 1);
  }, scaling));
