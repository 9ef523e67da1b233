/**
 * Invoking simulated watchdog functions through /function: verbs, bodies, secrets, redirects, timeouts,
 * failures.
 */
import assert from "node:assert/strict";
import { type Harness, withProvider } from "../support/harness.ts";

const deploy = async (h: Harness, body: Record<string, unknown>) => {
  const r = await h.call("POST", "/system/functions", { image: "functions/alpine:latest", ...body });
  assert.equal(r.status, 202, r.text);
};

/** Deploys and waits (virtual time) until the function is available. */
const deployReady = async (h: Harness, body: Record<string, unknown>) => {
  await deploy(h, body);
  await h.advance(10_000);
  const s = JSON.parse((await h.call("GET", `/system/function/${body.service}`)).text);
  assert.equal(s.availableReplicas, 1, JSON.stringify(s));
};

const invoke = (h: Harness, method: string, path: string, body?: string, headers?: Record<string, string>) =>
  h.advanceUntil(h.call(method, path, body, headers));

Deno.test("invoke: every verb reaches an env function, which sees Http_Method, query and path", () =>
  withProvider(async (h) => {
    await deployReady(h, {
      service: "env-test-verbs",
      envProcess: "env",
      envVars: { custom_env: "custom_env_value" },
    });
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
      const r = await invoke(
        h,
        method,
        "/function/env-test-verbs.openfaas-fn",
        method === "GET" ? undefined : "x",
      );
      assert.equal(r.status, 200, `${method}: ${r.text}`);
      assert.match(r.text, new RegExp(`Http_Method=${method}`));
      assert.match(r.text, /custom_env=custom_env_value/);
      assert.ok(r.headers.get("x-call-id"));
      assert.ok(r.headers.get("x-start-time"));
    }
    const q = await invoke(h, "GET", "/function/env-test-verbs/sub/path?testing=1");
    assert.match(q.text, /Http_Query=testing=1/);
    assert.match(q.text, /Http_Path=\/sub\/path/);
  }));

Deno.test("invoke: a 256 KiB body is echoed byte-exact by cat", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "echo", envProcess: "cat" });
    const data = new Uint8Array(256 * 1024).map((_, i) => (i * 7 + 3) % 256);
    const res = await h.advanceUntil(fetch(`${h.url}/function/echo`, { method: "POST", body: data }));
    const back = new Uint8Array(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.equal(back.length, data.length);
    assert.deepEqual(back, data);
  }));

Deno.test("invoke: a secret is read back by cat /var/openfaas/secrets/<name>", () =>
  withProvider(async (h) => {
    assert.equal(
      (await h.call("POST", "/system/secrets", { name: "secret-string", value: "s3cr3t value" })).status,
      202,
    );
    await deployReady(h, {
      service: "secret-string",
      envProcess: "cat /var/openfaas/secrets/secret-string",
      secrets: ["secret-string"],
    });
    const r = await invoke(h, "POST", "/function/secret-string", "");
    assert.equal(r.status, 200);
    assert.equal(r.text, "s3cr3t value");
    // rotation, then a redeploy (as the certifier does) picks the new value up
    await h.call("PUT", "/system/secrets", { name: "secret-string", value: "rotated" });
    await h.call("PUT", "/system/functions", {
      service: "secret-string",
      image: "functions/alpine:latest",
      envProcess: "cat /var/openfaas/secrets/secret-string",
      secrets: ["secret-string"],
      annotations: { redeploy: "1" },
    });
    await h.advance(30_000);
    assert.equal((await invoke(h, "POST", "/function/secret-string", "")).text, "rotated");
  }));

Deno.test("invoke: the redirector's 302 is passed through unfollowed", () =>
  withProvider(async (h) => {
    await deployReady(h, {
      service: "redirector-test",
      image: "theaxer/redirector:latest",
      envVars: { destination: "http://127.0.0.1:9/" },
    });
    const r = await invoke(h, "POST", "/function/redirector-test", "");
    assert.equal(r.status, 302);
    assert.equal(r.headers.get("location"), "http://127.0.0.1:9/");
  }));

Deno.test("invoke: write_timeout is honoured: a slower answer is lost and the proxy says 502", () =>
  withProvider(async (h) => {
    await deployReady(h, {
      service: "slow-writer",
      envProcess: "sleep 2; echo late",
      envVars: { write_timeout: "1s" },
    });
    const r = await invoke(h, "POST", "/function/slow-writer", "");
    assert.equal(r.status, 502);
    assert.equal(r.headers.get("x-openfaas-internal"), "proxy");
    await deployReady(h, {
      service: "quick-writer",
      envProcess: "sleep 2; echo ok",
      envVars: { write_timeout: "3s" },
    });
    assert.equal((await invoke(h, "POST", "/function/quick-writer", "")).text, "ok\n");
  }));

Deno.test("invoke: a failing fprocess gives 500; sha512sum matches coreutils", () =>
  withProvider(async (h) => {
    await deployReady(h, { service: "fails", envProcess: "cat /nonexistent" });
    assert.equal((await invoke(h, "POST", "/function/fails", "")).status, 500);
    await deployReady(h, { service: "stronghash", envProcess: "sha512sum" });
    const r = await invoke(h, "POST", "/function/stronghash", "hello");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", new TextEncoder().encode("hello")));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(r.text, `${hex}  -\n`);
  }));
