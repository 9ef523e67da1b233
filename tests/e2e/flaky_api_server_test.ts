/**
 * The provider against a flaky API server (over HTTP, seeded faults: 500, 503,
 * 429 with Retry-After, 409 on updates, dropped watches, expired
 * resourceVersions): every operation succeeds or fails with a clear error, no
 * function or secret is lost or duplicated, and the caches converge.
 */
import assert from "node:assert/strict";
import { startProvider } from "../support/harness.ts";
import { Faults } from "../../sim/faults.ts";
import { Kinds } from "../../sim/kinds.ts";

/** Fault seeds: three fixed ones, or `FAULT_SEEDS=1,2,3` (e.g. `$(seq -s, 100 140)`) to search further. */
const seeds = (Deno.env.get("FAULT_SEEDS") ?? "3,11,29").split(",").map(Number).filter(Number.isInteger);

for (const seed of seeds) {
  for (const transport of ["http", "in-process"] as const) {
    Deno.test(`faults: operations succeed or fail clearly, nothing is lost, caches converge [seed ${seed}, ${transport}]`, async () => {
      const faults = new Faults({
        seed,
        rate: 0.15,
        statuses: [500, 503, 429, 409],
        retryAfterSeconds: 1,
        watchDropRate: 0.3,
        compactRate: 0.02,
      });
      const h = await startProvider({ sim: { transport, faults } });
      try {
        const call = (method: string, path: string, body?: unknown) =>
          h.advanceUntil(h.call(method, path, body), 200, 300_000);
        const deployed = new Map<string, string>();
        const secrets = new Set<string>();
        const scaled = new Set<string>();
        const deleted = new Set<string>();
        const check = (r: { status: number; text: string }, what: string) => {
          assert.ok(
            r.status < 300 || (r.status >= 400 && r.text.trim().length > 0),
            `${what}: ${r.status} without a message`,
          );
          return r.status < 300;
        };
        for (let i = 0; i < 8; i++) {
          const name = `fn-${i}`;
          const image = `functions/alpine:v${i}`;
          if (
            check(
              await call("POST", "/system/functions", { service: name, image, envProcess: "cat" }),
              `deploy ${name}`,
            )
          ) {
            deployed.set(name, image);
          }
          if (
            check(await call("POST", "/system/secrets", { name: `s-${i}`, value: `v${i}` }), `secret s-${i}`)
          ) {
            secrets.add(`s-${i}`);
          }
        }
        for (const [name] of [...deployed].slice(0, 4)) {
          const image = `ghcr.io/openfaas/alpine:${name}`;
          if (
            check(
              await call("PUT", "/system/functions", { service: name, image, envProcess: "cat" }),
              `update ${name}`,
            )
          ) {
            deployed.set(name, image);
          }
          if (
            check(
              await call("POST", `/system/scale-function/${name}`, { serviceName: name, replicas: 2 }),
              `scale ${name}`,
            )
          ) {
            scaled.add(name);
          }
        }
        for (const [name] of [...deployed].slice(4, 6)) {
          const r = await call("DELETE", "/system/functions", { functionName: name });
          if (check(r, `delete ${name}`)) {
            deployed.delete(name);
            deleted.add(name);
          }
        }
        assert.ok(deployed.size >= 4, `most operations succeed under faults (${deployed.size} functions)`);
        assert.ok(scaled.size >= 1 && deleted.size >= 1, `some scales (${scaled.size}) and deletes succeed`);
        assert.ok(
          faults.log.filter((f) => f.fault === "error").length >= 1,
          `faults were injected: ${faults.log.length}`,
        );

        // Faults stop; the caches must converge to the API server's state.
        faults.enabled = false;
        await h.advance(120_000);
        const stored = h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items;
        for (const [name, image] of deployed) {
          const d = stored.filter((x) => x.metadata.name === name);
          assert.equal(d.length, 1, `${name} exists exactly once`);
          assert.equal(
            d[0].spec.template.spec.containers[0].image,
            image,
            `${name} has its last successful image`,
          );
          assert.ok(h.cluster.store.peek(Kinds.Service, "openfaas-fn", name), `${name} has its Service`);
        }
        for (const name of deleted) {
          assert.equal(
            h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", name),
            undefined,
            `deleted ${name} has no Deployment`,
          );
          assert.equal(
            h.cluster.store.peek(Kinds.Service, "openfaas-fn", name),
            undefined,
            `deleted ${name} has no Service`,
          );
        }
        for (const name of scaled) {
          assert.equal(
            h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", name)?.spec.replicas,
            2,
            `scaled ${name} has 2 replicas`,
          );
        }
        for (const d of stored) {
          assert.ok(
            deployed.has(d.metadata.name!) ||
              h.cluster.store.peek(Kinds.Service, "openfaas-fn", d.metadata.name!),
            `no half function ${d.metadata.name}`,
          );
        }
        const storedSecrets = h.cluster.store.list(Kinds.Secret, "openfaas-fn").items.map((s) =>
          s.metadata.name
        );
        for (const s of secrets) assert.ok(storedSecrets.includes(s), `secret ${s} kept`);
        const list = JSON.parse((await call("GET", "/system/functions")).text) as {
          name: string;
          replicas: number;
        }[];
        assert.deepEqual(
          list.map((f) => `${f.name}:${f.replicas}`).sort(),
          stored.map((d) => `${d.metadata.name}:${d.spec.replicas}`).sort(),
          "the list (from the caches) equals the API server's state",
        );
        assert.equal((await call("GET", "/healthz")).status, 200);
      } finally {
        await h.close();
      }
    });
  }
}
