/** What tests do with functions through the provider's API: deploy, read status, find pods, sample over time. */
import assert from "node:assert/strict";
import type { Harness } from "./harness.ts";
import { Kinds } from "../../sim/kinds.ts";

/** The fields of a FunctionStatus the tests read. */
export interface FunctionStatusBody {
  readonly name: string;
  readonly replicas: number;
  readonly availableReplicas: number;
  readonly image: string;
  readonly readiness?: { readonly reason: string; readonly message: string; readonly pod: string };
  readonly [field: string]: unknown;
}

/** Deploys a function (image functions/alpine:latest unless the body names one); expects 202. */
export const deployFunction = async (h: Harness, body: Record<string, unknown>, query = "") => {
  const r = await h.call("POST", `/system/functions${query}`, { image: "functions/alpine:latest", ...body });
  assert.equal(r.status, 202, r.text);
};

/** A deploy body for a function that runs `env` in the watchdog. */
export const envFunction = (service: string, extra: Record<string, unknown> = {}) => ({
  service,
  image: "functions/alpine:latest",
  envProcess: "env",
  ...extra,
});

/** The function's Deployment as stored in the simulator. */
export const deploymentOf = (h: Harness, name: string, ns = "openfaas-fn") => {
  const d = h.cluster.store.peek(Kinds.Deployment, ns, name);
  assert.ok(d, `Deployment ${ns}/${name} exists`);
  return d;
};

/** GET /system/function/{name}; expects 200. */
export const functionStatus = async (h: Harness, name: string): Promise<FunctionStatusBody> => {
  const r = await h.call("GET", `/system/function/${name}`);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text);
};

/** The simulated cluster's pods of a function (openfaas-fn). */
export const podsOf = (h: Harness, name: string) =>
  h.cluster.store.list(Kinds.Pod, "openfaas-fn").items.filter((p) =>
    p.metadata.labels?.faas_function === name
  );

/** Samples `f` once per second of virtual time for `seconds` seconds; index i is i seconds after the start. */
export const everySecond = async <T>(h: Harness, seconds: number, f: () => Promise<T> | T): Promise<T[]> => {
  const out: T[] = [await f()];
  for (let i = 1; i <= seconds; i++) {
    await h.advance(1_000);
    out.push(await f());
  }
  return out;
};

/** The function's `spec.replicas` as stored in the simulator. */
export const replicasOf = (h: Harness, name: string) =>
  h.cluster.store.get(Kinds.Deployment, "openfaas-fn", name).spec.replicas;

/**
 * Advances virtual time a second at a time (at most `seconds`) until a deleted function's Deployment is
 * gone: it is deleted in the foreground, so it stays (being deleted) until its pods have terminated.
 */
export const untilDeploymentGone = async (h: Harness, name: string, seconds = 60, ns = "openfaas-fn") => {
  for (let i = 0; i < seconds && h.cluster.store.peek(Kinds.Deployment, ns, name); i++) {
    await h.advance(1_000);
  }
  assert.equal(
    h.cluster.store.peek(Kinds.Deployment, ns, name),
    undefined,
    `Deployment ${ns}/${name} is gone`,
  );
};
