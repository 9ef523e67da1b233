/** A function's status explains why it is not ready: image pull, crash loop, OOM, no capacity. */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";

const deploy = async (h: Harness, body: Record<string, unknown>) => {
  const r = await h.call("POST", "/system/functions", { image: "functions/alpine:latest", ...body });
  assert.equal(r.status, 202, r.text);
};

Deno.test("status explains why a function is not ready: image pull, crash loop, OOM, no capacity", () =>
  withProvider(async (h) => {
    await deploy(h, { service: "badimage", image: "registry.invalid/none:1" });
    await deploy(h, { service: "crasher", image: "sim/crashloop:latest" });
    await deploy(h, { service: "oom", image: "sim/oom:latest", limits: { memory: "128Mi" } });
    await deploy(h, { service: "huge", requests: { cpu: "64" } });
    await h.advance(60_000);
    const reason = async (name: string) =>
      JSON.parse((await h.call("GET", `/system/function/${name}`)).text).readiness;
    const bad = await reason("badimage");
    assert.ok(["ImagePullBackOff", "ErrImagePull"].includes(bad.reason), JSON.stringify(bad));
    assert.match(bad.message, /registry.invalid\/none:1/);
    assert.equal((await reason("crasher")).reason, "CrashLoopBackOff");
    assert.equal((await reason("oom")).reason, "OOMKilled");
    const huge = await reason("huge");
    assert.equal(huge.reason, "Unschedulable");
    assert.match(huge.message, /Insufficient cpu/);
    const list = JSON.parse((await h.call("GET", "/system/functions")).text);
    assert.equal(
      list.find((f: { name: string }) => f.name === "crasher").readiness.reason,
      "CrashLoopBackOff",
    );
  }));
