/**
 * An update whose read-modify-write keeps conflicting (409 after conflictRetry's tries) answers 500, as
 * faas-netes answers a failed update, and never 409: clients read a 4xx as "nothing changed", and when the
 * Deployment was updated but the Service was not, something did. Found by the chaos runner (seed 160 of
 * `--seeds 1..200 --hours 2`: an update answered 409 had updated the Deployment).
 */
import assert from "node:assert/strict";
import { apiTest, type Harness } from "../support/harness.ts";
import { Faults } from "../../sim/faults.ts";
import { Kinds } from "../../sim/kinds.ts";

const fn = (rev: string) => ({
  service: "conflicted",
  image: "ghcr.io/openfaas/of-echo:latest",
  envVars: { REV: rev },
});
const revOf = (h: Harness): string | undefined =>
  h.cluster.store.peek(Kinds.Deployment, "openfaas-fn", "conflicted")?.spec?.template?.spec?.containers?.[0]
    ?.env
    ?.find((e: { name: string }) => e.name === "REV")?.value;

// Every update of a Service conflicts; Deployments (under /apis/apps/) are spared.
const serviceConflicts = new Faults({
  seed: 3,
  verbRates: { update: 1 },
  statuses: [409],
  exemptPaths: ["/apis/apps/"],
});
serviceConflicts.enabled = false;

apiTest(
  "update: a Service that keeps conflicting after the Deployment was updated is a 500, not a 409",
  async (h) => {
    serviceConflicts.enabled = false;
    assert.equal((await h.call("POST", "/system/functions", fn("1"))).status, 202);
    serviceConflicts.enabled = true;
    const r = await h.advanceUntil(h.call("PUT", "/system/functions", fn("2")), 100, 60_000);
    serviceConflicts.enabled = false;
    assert.equal(r.status, 500, r.text);
    assert.match(r.text, /Service .*kept changing|kept changing.*Service/);
    // The Deployment was updated: a 4xx would have told the client nothing happened.
    assert.equal(revOf(h), "2");
  },
  { sim: { faults: serviceConflicts } },
);

const allConflicts = new Faults({ seed: 4, verbRates: { update: 1 }, statuses: [409] });
allConflicts.enabled = false;

apiTest("update: a Deployment that keeps conflicting is a 500 and changes nothing", async (h) => {
  allConflicts.enabled = false;
  assert.equal((await h.call("POST", "/system/functions", fn("1"))).status, 202);
  allConflicts.enabled = true;
  const r = await h.advanceUntil(h.call("PUT", "/system/functions", fn("2")), 100, 60_000);
  allConflicts.enabled = false;
  assert.equal(r.status, 500, r.text);
  assert.match(r.text, /Deployment kept changing/);
  assert.equal(revOf(h), "1");
}, { sim: { faults: allConflicts } });
