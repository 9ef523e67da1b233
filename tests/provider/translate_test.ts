/**
 * The pure mapping between a FunctionDeployment and its Deployment and Service (src/provider/translate.ts),
 * as properties: the status read back is the request, an update is the update's, and every object
 * built is one a real API server accepts.
 */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { validateFunctionDeployment } from "../../src/domain/function.ts";
import { isDnsLabel } from "../../src/domain/validation.ts";
import { applyUpdate, type SecretRef, toFunctionStatus, toKubernetes } from "../../src/provider/translate.ts";
import {
  assertStatusMatches,
  cfg,
  defaultNs,
  deploymentArb,
  dnsLabel,
  expectedReplicas,
  type Gen,
  minReplicas,
  scaleMin,
  validScaleMin,
} from "../support/function_requests.ts";

const secretRefsArb = (names: readonly string[]) =>
  fc.tuple(
    ...names.map((name) =>
      fc.record({
        name: fc.constant(name),
        type: fc.constantFrom("Opaque", "kubernetes.io/dockerconfigjson", undefined),
        keys: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9._-]{0,8}$/), { maxLength: 3 }),
      })
    ),
  ) as fc.Arbitrary<SecretRef[]>;

/** A request with generated secret names and matching SecretRefs (some of them pull secrets). */
const withSecretRefs = (gen: Gen = {}) =>
  deploymentArb({ ...gen, secrets: fc.uniqueArray(dnsLabel, { maxLength: 3 }) }).chain((req) =>
    secretRefsArb(req.secrets ?? []).map((refs) => ({ req, refs }))
  );

/** The deployment as the API server would hand it back: with a creation time and a status. */
const stored = (d: Deployment, available: number): Deployment => ({
  ...structuredClone(d),
  metadata: { ...d.metadata, creationTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "7" },
  status: { replicas: d.spec?.replicas, availableReplicas: available },
});

// ---------------------------------------------------------------------------
// 1. Pure translation
// ---------------------------------------------------------------------------

Deno.test("property: toFunctionStatus(toKubernetes(req)) round-trips the request", () => {
  fc.assert(
    fc.property(withSecretRefs(), dnsLabel, fc.nat(5), ({ req, refs }, ns, available) => {
      assert.equal(validateFunctionDeployment(req), undefined, "the generated request is valid");
      const { deployment, service } = toKubernetes(req, ns, refs, cfg);
      const s = toFunctionStatus(stored(deployment, available));
      assertStatusMatches(s, req, ns);
      assert.equal(s.replicas, expectedReplicas(req.labels));
      assert.equal(s.availableReplicas, available);
      assert.equal(s.createdAt, "2026-01-01T00:00:00Z");
      assert.equal(s.invocationCount, 0);
      // The Service selects exactly the function's pods.
      assert.deepEqual(service.spec?.selector, { faas_function: req.service });
      assert.equal(deployment.spec?.template.metadata?.labels?.faas_function, req.service);
    }),
    { numRuns: runs(150) },
  );
});

Deno.test("property: applyUpdate gives the status of the update and keeps replicas unless scale.min is set", () => {
  fc.assert(
    fc.property(
      withSecretRefs(),
      // Updates with scale.min absent or a positive integer (invalid values: next test).
      withSecretRefs({ labelScaleMin: validScaleMin }),
      fc.integer({ min: 0, max: 20 }),
      fc.bigInt({ min: 0n, max: 10n ** 18n }),
      ({ req: first, refs: firstRefs }, { req: second, refs }, scaled, rollout) => {
        const update = { ...second, service: first.service };
        const existing = toKubernetes(first, defaultNs, firstRefs, cfg).deployment;
        existing.spec!.replicas = scaled;
        const updated = applyUpdate(stored(existing, 0), update, refs, cfg, String(rollout));
        const s = toFunctionStatus(updated);
        assertStatusMatches(s, update, defaultNs, { uid: String(rollout) });
        assert.equal(s.replicas, minReplicas(update.labels) ?? scaled);
        assert.equal(s.createdAt, "2026-01-01T00:00:00Z", "metadata of the existing object is kept");
        assert.equal(updated.metadata?.resourceVersion, "7", "optimistic concurrency is preserved");
        assert.equal(updated.spec?.template.metadata?.labels?.uid, String(rollout), "a rollout is forced");
        // Nothing of the first request leaks into the update (labels, annotations, env).
        for (const k of Object.keys(first.labels ?? {})) {
          if (!(k in (update.labels ?? {}))) assert.equal(s.labels?.[k], undefined, `stale label ${k}`);
        }
        for (const k of Object.keys(first.annotations ?? {})) {
          if (!(k in (update.annotations ?? {})) && k !== "prometheus.io.scrape") {
            assert.equal(s.annotations?.[k], undefined, `stale annotation ${k}`);
          }
        }
      },
    ),
    { numRuns: runs(100) },
  );
});

Deno.test({
  name:
    "property: applyUpdate keeps replicas when scale.min is not a positive integer (faas-netes getMinReplicaCount)",
  fn: () => {
    fc.assert(
      fc.property(
        deploymentArb(),
        fc.constantFrom("0", "00"),
        fc.integer({ min: 0, max: 20 }),
        (req, min, scaled) => {
          const existing = toKubernetes(req, defaultNs, [], cfg).deployment;
          existing.spec!.replicas = scaled;
          const update = { ...req, secrets: [], labels: { ...req.labels, [scaleMin]: min } };
          const s = toFunctionStatus(applyUpdate(existing, update, [], cfg, "1"));
          assert.equal(s.replicas, scaled);
        },
      ),
      { numRuns: runs(50) },
    );
  },
});

Deno.test("property: toKubernetes builds objects a real API server accepts", () => {
  fc.assert(
    fc.property(withSecretRefs(), ({ req, refs }) => {
      const { deployment, service } = toKubernetes(req, defaultNs, refs, cfg);
      const pod = deployment.spec!.template.spec!;
      for (const c of pod.containers) assert.ok(isDnsLabel(c.name), `container name ${c.name}`);
      const grace = pod.terminationGracePeriodSeconds;
      assert.ok(Number.isSafeInteger(grace) && grace! >= 0, `terminationGracePeriodSeconds ${grace}`);
      const replicas = deployment.spec!.replicas!;
      assert.ok(Number.isInteger(replicas) && replicas >= 0 && replicas < 2 ** 31, `replicas ${replicas}`);
      assert.equal(service.metadata?.name, req.service);
      const names = pod.containers[0].env!.map((e) => e.name);
      assert.equal(new Set(names).size, names.length, "env names are unique");
      const volumes = (pod.volumes ?? []).map((v) => v.name);
      assert.equal(new Set(volumes).size, volumes.length, "volume names are unique");
      for (const m of pod.containers[0].volumeMounts ?? []) assert.ok(volumes.includes(m.name), m.name);
    }),
    { numRuns: runs(150) },
  );
});

Deno.test({
  name: "property: write_timeout gives a non-negative integer terminationGracePeriodSeconds",
  fn: () => {
    const duration = fc.tuple(
      fc.constantFrom("", "-", "+"),
      fc.integer({ min: 0, max: 600 }),
      fc.constantFrom("s", "ms", "m", "h", "", ".5s", "us", "h1m"),
    )
      .map(([sign, n, unit]) => `${sign}${n}${unit}`);
    fc.assert(
      fc.property(deploymentArb(), duration, (req, wt) => {
        const r = { ...req, envVars: { ...req.envVars, write_timeout: wt } };
        assert.equal(validateFunctionDeployment(r), undefined);
        const grace =
          toKubernetes(r, defaultNs, [], cfg).deployment.spec!.template.spec!.terminationGracePeriodSeconds;
        assert.ok(
          Number.isSafeInteger(grace) && grace! >= 0,
          `write_timeout ${wt}: terminationGracePeriodSeconds ${grace}`,
        );
      }),
      { numRuns: runs(200) },
    );
  },
});

Deno.test({
  name: "property: a scale.min label that passes validation gives replicas a real API server accepts",
  fn: () => {
    fc.assert(
      fc.property(
        deploymentArb(),
        fc.oneof(
          fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
          fc.constantFrom("2147483647", "2147483648"),
        ),
        (req, min) => {
          const r = { ...req, labels: { ...req.labels, [scaleMin]: min } };
          fc.pre(validateFunctionDeployment(r) === undefined);
          const replicas = toKubernetes(r, defaultNs, [], cfg).deployment.spec!.replicas!;
          assert.ok(
            Number.isInteger(replicas) && replicas >= 0 && replicas < 2 ** 31,
            `${min}: replicas ${replicas}`,
          );
        },
      ),
      { numRuns: runs(100) },
    );
  },
});

Deno.test({
  name: "property: volume names of valid requests are DNS-1123 labels",
  fn: () => {
    fc.assert(
      fc.property(
        withSecretRefs({ name: fc.stringMatching(/^[a-z]{40,63}$/) }).filter(({ req }) =>
          validateFunctionDeployment(req) === undefined
        ),
        ({ req, refs }) => {
          const pod = toKubernetes(req, defaultNs, refs, cfg).deployment.spec!.template.spec!;
          for (const v of pod.volumes ?? []) assert.ok(isDnsLabel(v.name), `volume name ${v.name}`);
        },
      ),
      { numRuns: runs(100) },
    );
  },
});
