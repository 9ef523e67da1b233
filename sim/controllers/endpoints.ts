/**
 * The endpoints and EndpointSlice controllers, in one pass over a Service's pods so that the two
 * never disagree (what they compute alike is in serviceendpoints.ts). core/v1 Endpoints: one per
 * Service with a selector, named after it, with its labels, ready and not-ready addresses packed
 * by port, written only when they change, deleted with the Service. EndpointSlices: the matching
 * pods that have an IP, with `conditions.ready` from the pod's Ready condition (what the invoke
 * proxy reads). As in Kubernetes, a slice holds at most 100 endpoints that serve the same ports:
 * an endpoint stays in its slice while its pod lives, new ones fill the slices with room first,
 * and only the slices that changed are written, so a pod's change costs one small write however
 * big the Service.
 */
import { Kinds, type KObj } from "../kinds.ts";
import type { Store } from "../store.ts";
import type { StoreEvent } from "../watch.ts";
import { fromSpec } from "../../src/domain/selectors.ts";
import { type Controller, nsName, shortHash, splitKey } from "./hub.ts";
import { hasReadyCondition } from "./deployment.ts";
import { ApiError } from "../apierror.ts";
import {
  type EndpointPort,
  endpointsSubsets,
  headlessLabel,
  lastChangeTriggerTime,
  maxEndpointsCapacity,
  overCapacity,
  podPorts,
  shouldPodBeInEndpoints,
  TriggerTimes,
  truncateSubsets,
} from "./serviceendpoints.ts";

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
  private readonly triggerTimes = new TriggerTimes();
  constructor(private readonly store: Store) {}

  keysFor(e: StoreEvent): string[] {
    if (e.kind === Kinds.Service) return [nsName(e.object)];
    // An Endpoints deleted by someone else is written again (onEndpointsDelete).
    if (e.kind === Kinds.Endpoints) return e.type === "DELETED" ? [nsName(e.object)] : [];
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
    if (!svc) {
      // The Service is gone: so is its Endpoints (its slices are owned by it: the garbage collector's).
      this.triggerTimes.forget(key);
      if (this.store.peek(Kinds.Endpoints, ns, name)) this.store.delete(Kinds.Endpoints, ns, name);
      return;
    }
    if (
      !svc.spec?.selector || Object.keys(svc.spec.selector).length === 0 || svc.spec.type === "ExternalName"
    ) {
      // Slices are owned by their Service and garbage-collected with it; a Service that lost its
      // selector keeps no managed slice (its endpoints are whatever slices others write), and its
      // Endpoints are left to whoever writes them, as Kubernetes does.
      for (const s of this.managedSlices(svc)) this.store.delete(Kinds.EndpointSlice, ns, s.metadata.name!);
      return;
    }
    const sel = fromSpec({ matchLabels: svc.spec.selector });
    const pods = [...this.store.select(Kinds.Pod, ns, sel)];
    this.syncEndpoints(key, svc, pods);
    this.syncSlices(svc, pods);
  }

  /** The stored Endpoints' subsets as text, once per stored object (stored objects are replaced, not changed). */
  private readonly storedSubsets = new WeakMap<KObj, string>();
  private subsetsText(stored: KObj): string {
    let text = this.storedSubsets.get(stored);
    if (text === undefined) this.storedSubsets.set(stored, text = JSON.stringify(stored.subsets ?? []));
    return text;
  }

  /** core/v1 Endpoints, as the endpoints controller writes them (only when they change). */
  private syncEndpoints(key: string, svc: KObj, pods: readonly KObj[]) {
    const { namespace: ns, name } = svc.metadata;
    const triggerTime = this.triggerTimes.compute(key, svc, pods);
    const subsets = endpointsSubsets(svc, pods);
    const current = this.store.peek(Kinds.Endpoints, ns, name!);
    const labels: Record<string, string> = { ...svc.metadata.labels };
    const currentLabels = { ...current?.metadata.labels };
    delete currentLabels[headlessLabel];
    const total = subsets.reduce(
      (n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0),
      0,
    );
    if (
      current && this.subsetsText(current) === JSON.stringify(subsets) &&
      JSON.stringify(currentLabels) === JSON.stringify(labels) &&
      total <= maxEndpointsCapacity && current.metadata.annotations?.[overCapacity] === undefined
    ) return;
    const annotations: Record<string, string> = { ...current?.metadata.annotations };
    if (triggerTime) annotations[lastChangeTriggerTime] = triggerTime;
    else delete annotations[lastChangeTriggerTime];
    if (truncateSubsets(subsets)) annotations[overCapacity] = "truncated";
    else delete annotations[overCapacity];
    if (svc.spec.clusterIP === "None" || !svc.spec.clusterIP) labels[headlessLabel] = "";
    const write = (o: KObj) => {
      o.metadata.labels = labels;
      o.metadata.annotations = annotations;
      if (Object.keys(labels).length === 0) delete o.metadata.labels;
      if (Object.keys(annotations).length === 0) delete o.metadata.annotations;
      if (subsets.length > 0) o.subsets = subsets;
      else delete o.subsets;
    };
    if (current) {
      this.store.mutate(Kinds.Endpoints, ns, name!, write);
      return;
    }
    const created: KObj = { metadata: { name } };
    write(created);
    try {
      this.store.create(Kinds.Endpoints, ns, created);
    } catch (e) {
      // A namespace being terminated takes no new content: nothing to do.
      if (!(e instanceof ApiError && e.code === 403)) throw e;
    }
  }

  /** The Service's EndpointSlices, from the same pods. */
  private syncSlices(svc: KObj, pods: readonly KObj[]) {
    const ns = svc.metadata.namespace!;
    const name = svc.metadata.name!;
    const tolerate = svc.spec.publishNotReadyAddresses === true;
    const wanted = new Map<string, Endpoint>();
    const portsOf = new Map<string, string>();
    const portSets = new Map<string, EndpointPort[]>();
    for (const p of pods) {
      if (!shouldPodBeInEndpoints(p, true)) continue;
      const serving = hasReadyCondition(p);
      const terminating = Boolean(p.metadata.deletionTimestamp);
      wanted.set(p.metadata.name!, {
        addresses: [p.status.podIP ?? p.status.podIPs[0].ip],
        // A terminating pod is not ready for new requests; it may still be serving the ones it has.
        conditions: { ready: tolerate || (serving && !terminating), serving, terminating },
        nodeName: p.spec.nodeName,
        targetRef: { kind: "Pod", namespace: ns, name: p.metadata.name!, uid: p.metadata.uid },
      });
      // Endpoints that serve different ports (a named targetPort resolved differently) go in different slices.
      const ports = podPorts(svc, p);
      const text = JSON.stringify(ports);
      portsOf.set(p.metadata.name!, text);
      portSets.set(text, ports);
    }
    // Each existing slice keeps the endpoints of its pods that are still wanted, on the same ports.
    const slices = this.managedSlices(svc).map((s) => {
      const endpoints: Endpoint[] = [];
      const ports = s.endpoints?.length ? JSON.stringify(s.ports ?? []) : undefined;
      let changed = false;
      for (const e of (s.endpoints ?? []) as Endpoint[]) {
        const want = wanted.get(e.targetRef?.name);
        if (!want || portsOf.get(e.targetRef.name) !== ports) {
          changed = true;
          continue;
        }
        wanted.delete(e.targetRef.name);
        if (!sameEndpoint(e, want)) changed = true;
        endpoints.push(want);
      }
      return { name: s.metadata.name!, endpoints, changed, exists: true, ports, stored: s.ports };
    });
    // New endpoints fill the slices of their ports with room (or an empty one), then new slices.
    const taken = new Set(slices.map((s) => s.name));
    let n = 0;
    for (const e of [...wanted.values()].sort(byPodName)) {
      const ports = portsOf.get(e.targetRef.name)!;
      let slice = slices.find((s) => s.ports === ports && s.endpoints.length < maxEndpointsPerSlice) ??
        slices.find((s) => s.endpoints.length === 0);
      if (!slice) {
        let sliceName = EndpointsController.sliceName(name);
        while (taken.has(sliceName) || this.store.peek(Kinds.EndpointSlice, ns, sliceName)) {
          sliceName = EndpointsController.extraSliceName(name, ++n);
        }
        taken.add(sliceName);
        slices.push(
          slice = { name: sliceName, endpoints: [], changed: true, exists: false, ports, stored: [] },
        );
      }
      slice.ports = ports;
      slice.endpoints.push(e);
      slice.changed = true;
    }
    if (slices.length === 0) {
      // A Service with no endpoints keeps one empty slice, with no ports.
      const sliceName = EndpointsController.sliceName(name);
      slices.push({
        name: sliceName,
        endpoints: [],
        changed: true,
        exists: false,
        ports: undefined,
        stored: [],
      });
    }
    slices.forEach((s, i) => {
      s.endpoints.sort(byPodName);
      const ports = s.endpoints.length > 0 ? portSets.get(s.ports!)! : null;
      const portsChanged = JSON.stringify(s.stored ?? null) !== JSON.stringify(ports);
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
      } else if (s.changed || portsChanged) {
        this.store.mutate(Kinds.EndpointSlice, ns, s.name, (o) => {
          o.endpoints = s.endpoints;
          o.ports = ports;
        });
      }
    });
  }
}
