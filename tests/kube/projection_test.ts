/**
 * What the caches keep of each object (src/kube/projection.ts): the API server's bookkeeping and the
 * fields nobody reads are gone, and everything the routes, the scaler and the proxy read is still
 * there: a function's status, a pod's readiness reason, a slice's ready endpoints are the same from the
 * kept object as from the whole one.
 */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { Pod, Secret } from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import {
  keepDeployment,
  keepEndpointSlice,
  keepPod,
  keepSecret,
  lastAppliedAnnotation,
} from "../../src/kube/projection.ts";
import { toFunctionStatus, toKubernetes } from "../../src/provider/translate.ts";
import { readinessOf } from "../../src/provider/health.ts";
import { cfg, deploymentArb, dnsLabel } from "../support/function_requests.ts";

const managedFields = [{
  manager: "kubectl-client-side-apply",
  operation: "Update",
  apiVersion: "apps/v1",
  time: "2026-01-01T00:00:00Z",
  fieldsType: "FieldsV1",
  fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:faas_function": {} } } },
}];

/** The Deployment as a real API server returns it: bookkeeping, kubectl's copy, a status with conditions. */
const asServed = (d: Deployment, available: number): Deployment => ({
  ...structuredClone(d),
  metadata: {
    ...d.metadata,
    creationTimestamp: "2026-01-01T00:00:00Z",
    resourceVersion: "7",
    uid: "u-1",
    managedFields,
    annotations: { ...d.metadata?.annotations, [lastAppliedAnnotation]: JSON.stringify(d) },
  },
  status: {
    observedGeneration: 1,
    replicas: d.spec?.replicas,
    readyReplicas: available,
    availableReplicas: available,
    conditions: [{
      type: "Available",
      status: "True",
      reason: "MinimumReplicasAvailable",
      message: "Deployment has minimum availability.",
    }],
  },
});

Deno.test("property: a kept Deployment gives the same function status, without bookkeeping or probes", () => {
  fc.assert(
    fc.property(deploymentArb(), dnsLabel, fc.nat(5), (req, ns, available) => {
      const refs = (req.secrets ?? []).map((name) => ({ name, keys: ["k"] }));
      const full = asServed(toKubernetes(req, ns, refs, cfg).deployment, available);
      const before = structuredClone(full);
      const kept = keepDeployment(full);
      assert.deepEqual(full, before, "the object handed in is not changed");
      assert.deepEqual(toFunctionStatus(kept), toFunctionStatus(full));
      // What the scaler, the proxy and the informer read besides.
      assert.deepEqual(kept.metadata?.labels, full.metadata?.labels);
      assert.equal(kept.metadata?.resourceVersion, "7");
      assert.equal(kept.spec?.replicas, full.spec?.replicas);
      assert.equal(kept.status?.readyReplicas, available);
      assert.deepEqual(kept.spec?.template.metadata, full.spec?.template.metadata);
      // What is dropped.
      assert.equal(kept.metadata?.managedFields, undefined);
      assert.equal(kept.metadata?.annotations?.[lastAppliedAnnotation], undefined);
      assert.equal(kept.status?.conditions, undefined);
      const c = kept.spec?.template.spec?.containers[0];
      assert.equal(c?.readinessProbe, undefined);
      assert.equal(c?.livenessProbe, undefined);
      assert.ok(JSON.stringify(kept).length < JSON.stringify(full).length);
    }),
    { numRuns: runs(100) },
  );
});

const pod = (name: string, status: Pod["status"], extra: Partial<Pod["metadata"]> = {}): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name,
    namespace: "openfaas-fn",
    labels: { faas_function: "fn", "pod-template-hash": "abc" },
    annotations: { "prometheus.io.scrape": "false" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "fn-abc", uid: "u-2" }],
    managedFields,
    resourceVersion: "11",
    uid: "u-3",
    ...extra,
  },
  spec: {
    containers: [{ name: "fn", image: "functions/alpine:latest", env: [{ name: "fprocess", value: "env" }] }],
    nodeName: "node-1",
  },
  status,
});

const waiting = (reason: string, message = "") => ({
  phase: "Pending",
  conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" }],
  containerStatuses: [{
    name: "fn",
    image: "functions/alpine:latest",
    imageID: "",
    ready: false,
    restartCount: 0,
    state: { waiting: { reason, message } },
  }],
});

/** Pods in every state the readiness reasons tell apart. */
const pods: Pod[] = [
  pod("unschedulable", {
    phase: "Pending",
    conditions: [{
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
      message: "0/3 nodes are available: 3 Insufficient cpu.",
      lastTransitionTime: "2026-01-01T00:00:00Z",
    }],
  }),
  pod("pull", waiting("ImagePullBackOff", 'Back-off pulling image "nope"')),
  pod("creating", waiting("ContainerCreating")),
  pod("oom", {
    phase: "Running",
    containerStatuses: [{
      name: "fn",
      image: "x",
      imageID: "",
      ready: false,
      restartCount: 3,
      state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s" } },
      lastState: { terminated: { reason: "OOMKilled", exitCode: 137 } },
    }],
  }),
  pod("not-ready", {
    phase: "Running",
    podIP: "10.0.0.7",
    conditions: [
      { type: "PodScheduled", status: "True" },
      {
        type: "Ready",
        status: "False",
        reason: "ContainersNotReady",
        message: "containers with unready status",
      },
    ],
    containerStatuses: [{
      name: "fn",
      image: "x",
      imageID: "sha256:1",
      containerID: "sim://1",
      ready: false,
      restartCount: 0,
      started: true,
      state: { running: { startedAt: "2026-01-01T00:00:00Z" } },
    }],
  }),
  pod("pending", { phase: "Pending" }),
  pod("ready", {
    phase: "Running",
    conditions: [{ type: "Ready", status: "True" }],
    containerStatuses: [{
      name: "fn",
      image: "x",
      imageID: "",
      ready: true,
      restartCount: 0,
      state: { running: {} },
    }],
  }),
  pod("terminating", waiting("ImagePullBackOff"), { deletionTimestamp: "2026-01-01T00:01:00Z" }),
  pod("no-status", undefined),
];

Deno.test("a kept pod gives the same readiness reason, and keeps no spec or bookkeeping", () => {
  for (const p of pods) {
    const kept = keepPod(p);
    assert.deepEqual(readinessOf([kept]), readinessOf([p]), p.metadata?.name);
    assert.equal(kept.spec, undefined);
    assert.deepEqual(kept.metadata, {
      name: p.metadata?.name,
      namespace: "openfaas-fn",
      labels: p.metadata?.labels,
      resourceVersion: "11",
      ...(p.metadata?.deletionTimestamp ? { deletionTimestamp: p.metadata.deletionTimestamp } : {}),
    });
    assert.equal(kept.status?.containerStatuses?.[0]?.image, undefined);
  }
  // Several pods of one function: the most important reason wins either way.
  assert.deepEqual(readinessOf(pods.map(keepPod)), readinessOf(pods));
  assert.equal(readinessOf(pods.map(keepPod))?.reason, "Unschedulable");
  // The scaler's check for a pod that cannot be scheduled.
  assert.ok(
    keepPod(pods[0]).status?.conditions?.some((c) => c.type === "PodScheduled" && c.status === "False"),
  );
});

Deno.test("a kept EndpointSlice keeps the service, ports and each endpoint's addresses, readiness and pod", () => {
  const slice: EndpointSlice = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "fn-x1",
      namespace: "openfaas-fn",
      labels: { "kubernetes.io/service-name": "fn", "endpointslice.kubernetes.io/managed-by": "c" },
      annotations: { "endpoints.kubernetes.io/last-change-trigger-time": "2026-01-01T00:00:00Z" },
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name: "fn", uid: "u-4" }],
      managedFields,
      resourceVersion: "12",
    },
    addressType: "IPv4",
    endpoints: [
      {
        addresses: ["10.0.0.7"],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: "node-1",
        targetRef: { kind: "Pod", namespace: "openfaas-fn", name: "fn-abc-1", uid: "u-3" },
      },
      { addresses: ["10.0.0.8"], conditions: { ready: false } },
    ],
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  };
  assert.deepEqual(keepEndpointSlice(slice), {
    addressType: "IPv4",
    metadata: {
      name: "fn-x1",
      namespace: "openfaas-fn",
      labels: slice.metadata?.labels,
      resourceVersion: "12",
    },
    endpoints: [
      {
        addresses: ["10.0.0.7"],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { name: "fn-abc-1" },
      },
      { addresses: ["10.0.0.8"], conditions: { ready: false } },
    ],
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  });
  assert.deepEqual(keepEndpointSlice({ ...slice, endpoints: undefined as never }).endpoints, []);
});

Deno.test("a kept Secret has no values", () => {
  const secret: Secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "s",
      namespace: "openfaas-fn",
      labels: { a: "b" },
      managedFields,
      resourceVersion: "3",
    },
    type: "Opaque",
    data: { k: "dg==" },
    stringData: { j: "v" },
  };
  assert.deepEqual(keepSecret(secret), {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s", namespace: "openfaas-fn", labels: { a: "b" }, resourceVersion: "3" },
    type: "Opaque",
  });
});
