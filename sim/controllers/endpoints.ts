/**
 * The EndpointSlice controller: the slices of a Service with a selector list the
 * matching pods that have an IP, with `conditions.ready` from the pod's Ready
 * condition (what the invoke proxy reads). As in Kubernetes, a slice holds at
 * most 100 endpoints: an endpoint stays in its slice while its pod lives, new
 * ones fill the slices with room first, and only the slices that changed are
 * written, so a pod's change costs one small write however big the Service.
 */
import { Kinds, type KObj } from "../kinds.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import { fromSpec } from "../../src/domain/selectors.ts";
import { type Controller, nsName, shortHash, splitKey } from "./hub.ts";
import { hasReadyCondition, isPodReady } from "./deployment.ts";

export const serviceNameLabel = "kubernetes.io/service-name";
const managedByLabel = "endpointslice.kubernetes.io/managed-by";
const managedBy = "endpointslice-controller.k8s.io";

/** kube-controller-manager's `--max-endpoints-per-slice` default. */
export const maxEndpointsPerSlice = 100;

interface Endpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  nodeName?: string;
  targetRef: { kind: "Pod"; namespace: string; name: string; uid: string };
}

const sameEndpoint = (a: Endpoint, b: Endpoint) =>
  a.addresses?.[0] === b.addresses[0] && a.addresses?.length === 1 &&
  a.conditions?.ready === b.conditions.ready && a.conditions?.serving === b.conditions.serving &&
  a.conditions?.terminating === b.conditions.terminating && a.nodeName === b.nodeName &&
  a.targetRef?.name === b.targetRef.name && a.targetRef?.uid === b.targetRef.uid;

const byPodName = (a: Endpoint, b: Endpoint) =>
  a.targetRef.name < b.targetRef.name ? -1 : a.targetRef.name > b.targetRef.name ? 1 : 0;

export class EndpointsController implements Controller {
  readonly name = "endpointslice";
  constructor(private readonly store: Store) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Service) return [nsName(e.object)];
    if (e.kind !== Kinds.Pod) return [];
    // The Services selecting the pod now or before (from the store's selector index).
    const ns = e.object.metadata.namespace;
    const services = [e.object, ...(e.old ? [e.old] : [])]
      .flatMap((p) => this.store.selecting(Kinds.Service, ns, p.metadata.labels));
    return [...new Set(services.map(nsName))];
  }

  /** The name of a Service's first slice. */
  static sliceName(svcName: string) {
    return `${svcName}-${shortHash(svcName, 5)}`;
  }

  /** The name of a Service's n-th extra slice (n >= 1). */
  private static extraSliceName(svcName: string, n: number) {
    return `${svcName}-${shortHash(`${svcName}/${n}`, 5)}`;
  }

  /** The slices this controller keeps for the Service, the first slice first. */
  private managedSlices(svc: KObj): KObj[] {
    const first = EndpointsController.sliceName(svc.metadata.name!);
    return this.store.dependentsOfKind(svc.metadata.uid, Kinds.EndpointSlice)
      .filter((s) => s.metadata.labels?.[managedByLabel] === managedBy)
      .sort((a, b) =>
        a.metadata.name === first
          ? -1
          : b.metadata.name === first
          ? 1
          : a.metadata.name! < b.metadata.name!
          ? -1
          : 1
      );
  }

  reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const svc = this.store.peek(Kinds.Service, ns, name);
    if (!svc || !svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) {
      // Slices are owned by their Service and garbage-collected with it; a Service that lost its
      // selector keeps no managed slice (its endpoints are whatever slices others write).
      if (svc) {
        for (const s of this.managedSlices(svc)) this.store.delete(Kinds.EndpointSlice, ns, s.metadata.name!);
      }
      return;
    }
    const sel = fromSpec({ matchLabels: svc.spec.selector });
    const wanted = new Map<string, Endpoint>();
    for (const p of this.store.select(Kinds.Pod, ns, sel)) {
      if (!p.status?.podIP) continue;
      wanted.set(p.metadata.name!, {
        addresses: [p.status.podIP],
        // A terminating pod is not ready for new requests; it may still be serving the ones it has.
        conditions: p.metadata.deletionTimestamp
          ? { ready: false, serving: hasReadyCondition(p), terminating: true }
          : { ready: isPodReady(p), serving: isPodReady(p), terminating: false },
        nodeName: p.spec.nodeName,
        targetRef: { kind: "Pod", namespace: ns, name: p.metadata.name!, uid: p.metadata.uid },
      });
    }
    const ports = (svc.spec.ports ?? []).map((
      p: { name?: string; port: number; targetPort?: number; protocol?: string },
    ) => ({
      name: p.name ?? "",
      port: typeof p.targetPort === "number" ? p.targetPort : p.port,
      protocol: p.protocol ?? "TCP",
    }));
    const portsText = JSON.stringify(ports);
    // Each existing slice keeps the endpoints of its pods that are still wanted.
    const slices = this.managedSlices(svc).map((s) => {
      const endpoints: Endpoint[] = [];
      let changed = JSON.stringify(s.ports ?? []) !== portsText;
      for (const e of (s.endpoints ?? []) as Endpoint[]) {
        const want = wanted.get(e.targetRef?.name);
        if (!want) {
          changed = true;
          continue;
        }
        wanted.delete(e.targetRef.name);
        if (!sameEndpoint(e, want)) changed = true;
        endpoints.push(want);
      }
      return { name: s.metadata.name!, endpoints, changed, exists: true };
    });
    // New endpoints fill the slices with room, then new slices.
    const fresh = [...wanted.values()].sort(byPodName);
    let next = 0;
    for (const s of slices) {
      while (next < fresh.length && s.endpoints.length < maxEndpointsPerSlice) {
        s.endpoints.push(fresh[next++]);
        s.changed = true;
      }
    }
    const taken = new Set(slices.map((s) => s.name));
    let n = 0;
    while (next < fresh.length || slices.length === 0) {
      let sliceName = EndpointsController.sliceName(name);
      while (taken.has(sliceName) || this.store.peek(Kinds.EndpointSlice, ns, sliceName)) {
        sliceName = EndpointsController.extraSliceName(name, ++n);
      }
      taken.add(sliceName);
      const endpoints = fresh.slice(next, next + maxEndpointsPerSlice);
      next += endpoints.length;
      slices.push({ name: sliceName, endpoints, changed: true, exists: false });
    }
    slices.forEach((s, i) => {
      s.endpoints.sort(byPodName);
      if (s.exists && s.endpoints.length === 0 && i > 0) {
        this.store.delete(Kinds.EndpointSlice, ns, s.name);
      } else if (!s.exists) {
        this.store.create(Kinds.EndpointSlice, ns, {
          metadata: {
            name: s.name,
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
          endpoints: s.endpoints,
          ports,
        });
      } else if (s.changed) {
        this.store.mutate(Kinds.EndpointSlice, ns, s.name, (o) => {
          o.endpoints = s.endpoints;
          o.ports = ports;
        });
      }
    });
  }
}
