/** OpenFaaS Profiles: the pure application rules, then deploy and update through the API. */
import assert from "node:assert/strict";
import type { PodSpec } from "kubernetes-types/core/v1.d.ts";
import { applyProfiles, removeProfiles } from "../../src/provider/profiles.ts";
import type { Profile } from "../../src/kube/resources.ts";
import { profileNames } from "../../src/domain/keys.ts";
import { apiTest, type Harness, withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

const gpu = { key: "gpu", operator: "Exists", effect: "NoSchedule" };
const spot = { key: "spot", operator: "Equal", value: "true", effect: "NoExecute" };
const zoneA = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }],
    },
  },
};
const profile = (name: string, spec: Profile["spec"]): Profile => ({ metadata: { name }, spec });

Deno.test("profileNames: comma-separated, trimmed, blanks and repeats dropped", () => {
  assert.deepEqual(profileNames({ "com.openfaas.profile": " gpu, ,spot,gpu " }), ["gpu", "spot"]);
  assert.deepEqual(profileNames({}), []);
  assert.deepEqual(profileNames(undefined), []);
});

Deno.test("applyProfiles: tolerations appended once, the rest replaced, later profiles win", () => {
  const pod: PodSpec = { containers: [], tolerations: [spot], securityContext: { runAsUser: 1 } };
  applyProfiles(pod, [
    profile("a", { tolerations: [gpu], runtimeClassName: "gvisor", affinity: zoneA }),
    profile("b", { tolerations: [gpu, spot], runtimeClassName: "kata", podSecurityContext: { fsGroup: 2 } }),
  ]);
  assert.deepEqual(pod.tolerations, [spot, gpu]);
  assert.equal(pod.runtimeClassName, "kata");
  assert.deepEqual(pod.affinity, zoneA);
  assert.deepEqual(pod.securityContext, { fsGroup: 2 }, "the profile's context replaces the pod's");
  // Applying again changes nothing.
  const before = structuredClone(pod);
  applyProfiles(pod, [profile("a", { tolerations: [gpu] })]);
  assert.deepEqual(pod, before);
});

Deno.test("removeProfiles: takes off only what is still the profile's", () => {
  const p = profile("a", {
    tolerations: [gpu],
    runtimeClassName: "gvisor",
    affinity: zoneA,
    podSecurityContext: { fsGroup: 2, runAsNonRoot: true },
  });
  const pod: PodSpec = { containers: [], tolerations: [spot] };
  applyProfiles(pod, [p]);
  pod.securityContext = { ...pod.securityContext, runAsUser: 7 };
  removeProfiles(pod, [p]);
  assert.deepEqual(pod.tolerations, [spot]);
  assert.equal(pod.runtimeClassName, undefined);
  assert.equal(pod.affinity, undefined);
  assert.deepEqual(pod.securityContext, { runAsUser: 7 });
  // Values changed since (another profile's) stay.
  const other: PodSpec = { containers: [], runtimeClassName: "kata", affinity: { podAffinity: {} } };
  removeProfiles(other, [p]);
  assert.equal(other.runtimeClassName, "kata");
  assert.deepEqual(other.affinity, { podAffinity: {} });
});

const createProfile = (h: Harness, name: string, spec: Profile["spec"], ns = "openfaas-fn") =>
  h.cluster.store.create(h.cluster.store.kinds.find("openfaas.com", "v1", "profiles")!, ns, {
    apiVersion: "openfaas.com/v1",
    kind: "Profile",
    metadata: { name },
    spec,
  });

const podSpec = (h: Harness, name: string): PodSpec =>
  h.cluster.store.get(Kinds.Deployment, "openfaas-fn", name).spec.template.spec;

const deployment = (profiles: string, extra: Record<string, unknown> = {}) => ({
  service: "with-profile",
  image: "functions/alpine:latest",
  envProcess: "env",
  annotations: { "com.openfaas.profile": profiles },
  ...extra,
});

Deno.test("profiles: deploy applies them, update swaps them, a missing one is a 400 that changes nothing", () =>
  withProvider(async (h) => {
    createProfile(h, "gpu", { tolerations: [gpu], runtimeClassName: "nvidia" });
    createProfile(h, "zone-a", { affinity: zoneA, podSecurityContext: { fsGroup: 2 } });

    const missing = await h.call("POST", "/system/functions", deployment("gpu,nope"));
    assert.equal(missing.status, 400);
    assert.match(missing.text, /profile "nope" not found in namespace openfaas-fn/);
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 0);
    const invalid = await h.call("POST", "/system/functions", deployment("Not_A_Name"));
    assert.equal(invalid.status, 400);
    assert.match(invalid.text, /com\.openfaas\.profile/);

    assert.equal((await h.call("POST", "/system/functions", deployment("gpu, zone-a"))).status, 202);
    let spec = podSpec(h, "with-profile");
    assert.deepEqual(spec.tolerations, [gpu]);
    assert.equal(spec.runtimeClassName, "nvidia");
    assert.deepEqual(spec.affinity, zoneA);
    assert.deepEqual(spec.securityContext, { fsGroup: 2 });
    const status = JSON.parse((await h.call("GET", "/system/function/with-profile")).text);
    assert.equal(status.annotations["com.openfaas.profile"], "gpu, zone-a");
    await h.advance(10_000);
    const pods = h.cluster.store.list(Kinds.Pod, "openfaas-fn").items;
    assert.ok(
      pods.length > 0 && pods.every((p) => p.spec.runtimeClassName === "nvidia"),
      "pods carry the profile",
    );

    // Update: zone-a stays, gpu goes; the user's own placement (constraints) is untouched.
    const updated = await h.call(
      "PUT",
      "/system/functions",
      deployment("zone-a", { constraints: ["disk=ssd"] }),
    );
    assert.equal(updated.status, 202, updated.text);
    spec = podSpec(h, "with-profile");
    assert.equal(spec.tolerations, undefined);
    assert.equal(spec.runtimeClassName, undefined);
    assert.deepEqual(spec.affinity, zoneA);
    assert.deepEqual(spec.nodeSelector, { disk: "ssd" });

    // An update naming a missing profile fails and leaves the function as it was.
    const bad = await h.call("PUT", "/system/functions", deployment("zone-a,gone"));
    assert.equal(bad.status, 400);
    assert.deepEqual(podSpec(h, "with-profile").affinity, zoneA);

    // Dropping every profile removes the rest.
    assert.equal((await h.call("PUT", "/system/functions", deployment(""))).status, 202);
    spec = podSpec(h, "with-profile");
    assert.equal(spec.affinity, undefined);
    assert.equal(spec.securityContext?.fsGroup, undefined);
  }));

Deno.test("profiles are read from profiles_namespace", () =>
  withProvider(async (h) => {
    createProfile(h, "gpu", { tolerations: [gpu] }, "openfaas");
    assert.equal((await h.call("POST", "/system/functions", deployment("gpu"))).status, 202);
    assert.deepEqual(podSpec(h, "with-profile").tolerations, [gpu]);
  }, { config: { profilesNamespace: "openfaas" } }));

apiTest(
  "profiles: without the Profile CRD, functions without profiles deploy and one naming a profile is a clear 400",
  async (h) => {
    assert.equal((await h.call("POST", "/system/functions", deployment(""))).status, 202);
    assert.equal(h.cluster.store.list(Kinds.Deployment, "openfaas-fn").items.length, 1);
    const named = await h.call("POST", "/system/functions", { ...deployment("gpu"), service: "wants-gpu" });
    assert.equal(named.status, 400);
    assert.match(named.text, /profile "gpu" not found in namespace openfaas-fn/);
    assert.match(
      named.text,
      /does not serve openfaas\.com\/v1 profiles: is OpenFaaS's Profile CRD installed\?/,
    );
    const list = await h.call("GET", "/system/functions");
    assert.equal(list.status, 200);
    assert.deepEqual(JSON.parse(list.text).map((f: { name: string }) => f.name), ["with-profile"]);
    assert.equal((await h.call("GET", "/healthz")).status, 200);
  },
  { sim: { profileCrd: false } },
);
