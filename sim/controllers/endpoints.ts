/**
 * The EndpointSlice controller: one slice per Service with a selector, listing
 * the matching pods that have an IP, with `conditions.ready` from the pod's
 * Ready condition (what the invoke proxy reads).
 */
import { Kinds, type KObj } from "../kinds.ts";
import type { Store, StoreEvent } from "../store.ts";
import { fromSpec, matches } from "../../src/domain/selectors.ts";
import { type Controller, nsName, shortHash, splitKey } from "./hub.ts";
import { hasReadyCondition, isPodReady } from "./deployment.ts";

export const serviceNameLabel = "kubernetes.io/service-name";
const managedByLabel = "endpointslice.kubernetes.io/managed-by";
const managedBy = "endpointslice-controller.k8s.io";

export class EndpointsController implements Controller {
  readonly name = "endpointslice";
  constructor(private readonly store: Store) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Service) return [nsName(e.object)];
    if (e.kind !== Kinds.Pod) return [];
    const keys: string[] = [];
    for (const svc of this.store.scan(Kinds.Service, e.object.metadata.namespace)) {
      const selector = svc.spec?.selector;
      if (!selector || Object.keys(selector).length === 0) continue;
      const sel = fromSpec({ matchLabels: selector });
      if (matches(sel, e.object.metadata.labels) || (e.old && matches(sel, e.old.metadata.labels))) {
        keys.push(nsName(svc));
      }
    }
    return keys;
  }

  static sliceName(svcName: string) {
    return `${svcName}-${shortHash(svcName, 5)}`;
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const svc = this.store.peek(Kinds.Service, ns, name);
    const sliceName = EndpointsController.sliceName(name);
    const existing = this.store.peek(Kinds.EndpointSlice, ns, sliceName);
    if (!svc || !svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) {
      // Slices are owned by their Service and garbage-collected with it; a Service that lost its
      // selector keeps no managed slice (its endpoints are whatever slices others write).
      if (svc && existing && existing.metadata.labels?.[managedByLabel] === managedBy) {
        this.store.delete(Kinds.EndpointSlice, ns, sliceName);
      }
      return;
    }
    const sel = fromSpec({ matchLabels: svc.spec.selector });
    const pods: KObj[] = [];
    for (const p of this.store.scan(Kinds.Pod, ns)) {
      if (matches(sel, p.metadata.labels) && p.status?.podIP) pods.push(p);
    }
    pods.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
    const endpoints = pods.map((p) => ({
      addresses: [p.status.podIP],
      // A terminating pod is not ready for new requests; it may still be serving the ones it has.
      conditions: p.metadata.deletionTimestamp
        ? { ready: false, serving: hasReadyCondition(p), terminating: true }
        : { ready: isPodReady(p), serving: isPodReady(p), terminating: false },
      nodeName: p.spec.nodeName,
      targetRef: { kind: "Pod", namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
    }));
    const ports = (svc.spec.ports ?? []).map((
      p: { name?: string; port: number; targetPort?: number; protocol?: string },
    ) => ({
      name: p.name ?? "",
      port: typeof p.targetPort === "number" ? p.targetPort : p.port,
      protocol: p.protocol ?? "TCP",
    }));
    if (!existing) {
      this.store.create(Kinds.EndpointSlice, ns, {
        metadata: {
          name: sliceName,
          labels: {
            [serviceNameLabel]: name,
            [managedByLabel]: managedBy,
          },
          ownerReferences: [{
            apiVersion: "v1",
            kind: "Service",
            name,
            uid: svc.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          }],
        },
        addressType: "IPv4",
        endpoints,
        ports,
      });
      return;
    }
    this.store.mutate(Kinds.EndpointSlice, ns, sliceName, (o) => {
      o.endpoints = endpoints;
      o.ports = ports;
    });
  }
}
