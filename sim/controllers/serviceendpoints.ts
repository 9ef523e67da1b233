/**
 * What the endpoints and EndpointSlice controllers compute alike from a Service and its pods, so
 * that core/v1 Endpoints and the EndpointSlices never disagree: which pods count (Kubernetes'
 * ShouldPodBeInEndpoints), each Service port's target resolved on a pod (podutil.FindPort: a number,
 * or a named container port), the Endpoints subsets in their canonical packing (RepackSubsets:
 * addresses grouped by the ports they serve, not-ready trumping ready, sorted by IP then uid), the
 * 1,000-address cap, and the `endpoints.kubernetes.io/last-change-trigger-time` tracker.
 */
import type { KObj } from "../kinds.ts";
import { hasReadyCondition } from "./deployment.ts";

export const lastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time";
export const overCapacity = "endpoints.kubernetes.io/over-capacity";
export const headlessLabel = "service.kubernetes.io/headless";
/** The endpoints controller's maxCapacity: addresses kept in one Endpoints object. */
export const maxEndpointsCapacity = 1000;

export interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName: string;
  targetRef: { kind: "Pod"; namespace: string; name: string; uid: string };
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

/** A pod that has finished (Succeeded or Failed) serves nothing. */
const isPodTerminal = (pod: KObj) => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";

/** Kubernetes' ShouldPodBeInEndpoints: not terminal, has an IP, and (unless asked) not terminating. */
export const shouldPodBeInEndpoints = (pod: KObj, includeTerminating: boolean): boolean =>
  !isPodTerminal(pod) && Boolean(pod.status?.podIP || pod.status?.podIPs?.length) &&
  (includeTerminating || !pod.metadata.deletionTimestamp);

/** podutil.FindPort: the container port a Service port targets on `pod`, or undefined when none. */
export const findPort = (pod: KObj, sp: ServicePort): number | undefined => {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === "number") return target;
  const protocol = sp.protocol ?? "TCP";
  const sidecars = (pod.spec?.initContainers ?? []).filter((c: KObj) => c.restartPolicy === "Always");
  for (const c of [...(pod.spec?.containers ?? []), ...sidecars]) {
    for (const p of c.ports ?? []) {
      if (p.name === target && (p.protocol ?? "TCP") === protocol) return p.containerPort;
    }
  }
  return undefined;
};

/** The Service's ports as served by `pod` (ports whose target the pod lacks are left out). */
export const podPorts = (svc: KObj, pod: KObj): EndpointPort[] => {
  const out: EndpointPort[] = [];
  for (const sp of (svc.spec?.ports ?? []) as ServicePort[]) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    out.push({
      name: sp.name ?? "",
      port,
      protocol: sp.protocol ?? "TCP",
      ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}),
    });
  }
  return out;
};

const isHeadless = (svc: KObj) => svc.spec?.clusterIP === "None";

const podAddress = (svc: KObj, pod: KObj): EndpointAddress => ({
  ip: pod.status?.podIP ?? pod.status.podIPs[0].ip,
  ...(pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name ? { hostname: pod.spec.hostname } : {}),
  nodeName: pod.spec?.nodeName ?? "",
  targetRef: {
    kind: "Pod",
    namespace: pod.metadata.namespace!,
    name: pod.metadata.name!,
    uid: pod.metadata.uid,
  },
});

/** LessEndpointAddress: by IP (bytewise), then by pod uid. */
const byIpThenUid = (a: EndpointAddress, b: EndpointAddress) =>
  a.ip < b.ip
    ? -1
    : a.ip > b.ip
    ? 1
    : a.targetRef.uid < b.targetRef.uid
    ? -1
    : a.targetRef.uid > b.targetRef.uid
    ? 1
    : 0;

const portKey = (p: EndpointPort) =>
  `${p.name}\u0000${p.port}\u0000${p.protocol}\u0000${p.appProtocol ?? ""}`;
const byPortKey = (
  a: EndpointPort,
  b: EndpointPort,
) => (portKey(a) < portKey(b) ? -1 : portKey(a) > portKey(b) ? 1 : 0);

interface Member {
  readonly address: EndpointAddress;
  readonly ready: boolean;
  readonly ports: readonly [string, EndpointPort][];
}

/**
 * What a pod contributes to a Service's Endpoints, cached by object: stored objects are replaced,
 * never changed, so an unchanged pod (and Service) costs a lookup, not a recomputation.
 */
const members = new WeakMap<KObj, { svc: KObj; member: Member | undefined }>();

const podMember = (svc: KObj, pod: KObj, tolerate: boolean): Member | undefined => {
  const cached = members.get(pod);
  if (cached?.svc === svc) return cached.member;
  let member: Member | undefined;
  if (shouldPodBeInEndpoints(pod, tolerate)) {
    member = {
      address: podAddress(svc, pod),
      ready: tolerate || hasReadyCondition(pod),
      ports: podPorts(svc, pod).map((served) => {
        // An Endpoints port without a name has no `name` (omitempty), unlike a slice's.
        const { name, ...unnamed } = served;
        const port = name ? served : unnamed as EndpointPort;
        return [portKey(port), port] as [string, EndpointPort];
      }),
    };
  }
  members.set(pod, { svc, member });
  return member;
};

/**
 * The subsets of a Service's Endpoints (the endpoints controller's syncService): pods that count,
 * ready ones (or all with publishNotReadyAddresses) under `addresses`, the others under
 * `notReadyAddresses`, packed by the set of ports they serve. Kubernetes orders subsets and ports
 * by a hash of their contents; here by their contents, which is as stable.
 */
export const endpointsSubsets = (svc: KObj, pods: readonly KObj[]): EndpointSubset[] => {
  const tolerate = svc.spec?.publishNotReadyAddresses === true;
  const svcPorts = (svc.spec?.ports ?? []) as ServicePort[];
  /** port key -> (address key -> [address, ready]); not ready trumps ready. */
  const byPort = new Map<string, { port: EndpointPort; addrs: Map<string, [EndpointAddress, boolean]> }>();
  const portless = new Map<string, [EndpointAddress, boolean]>();
  const add = (into: Map<string, [EndpointAddress, boolean]>, a: EndpointAddress, ready: boolean) => {
    const key = `${a.ip}\u0000${a.targetRef.uid}`;
    const seen = into.get(key);
    if (!seen || seen[1]) into.set(key, [seen?.[0] ?? a, ready]);
  };
  for (const pod of pods) {
    const m = podMember(svc, pod, tolerate);
    if (!m) continue;
    if (svcPorts.length === 0) {
      // Only a headless Service may have endpoints without ports.
      if (isHeadless(svc)) add(portless, m.address, m.ready);
      continue;
    }
    for (const [key, port] of m.ports) {
      let entry = byPort.get(key);
      if (!entry) byPort.set(key, entry = { port, addrs: new Map() });
      add(entry.addrs, m.address, m.ready);
    }
  }
  // Ports that the same addresses (with the same readiness) serve share a subset.
  const groups = new Map<string, { addrs: [EndpointAddress, boolean][]; ports: EndpointPort[] }>();
  const group = (addrs: Map<string, [EndpointAddress, boolean]>, port?: EndpointPort) => {
    const sorted = [...addrs.values()].sort((a, b) => byIpThenUid(a[0], b[0]));
    const key = sorted.map(([a, r]) => `${a.ip}/${a.targetRef.uid}/${r}`).join(",");
    let g = groups.get(key);
    if (!g) groups.set(key, g = { addrs: sorted, ports: [] });
    if (port) g.ports.push(port);
  };
  for (const { port, addrs } of byPort.values()) group(addrs, port);
  if (portless.size > 0) group(portless);
  const subsets: EndpointSubset[] = [];
  for (const { addrs, ports } of groups.values()) {
    const ready = addrs.filter(([, r]) => r).map(([a]) => a);
    const notReady = addrs.filter(([, r]) => !r).map(([a]) => a);
    subsets.push({
      ...(ready.length > 0 ? { addresses: ready } : {}),
      ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
      ...(ports.length > 0 ? { ports: ports.sort(byPortKey) } : {}),
    });
  }
  if (subsets.length < 2) return subsets;
  const text = subsets.map((s) => JSON.stringify(s));
  return subsets.map((s, i) => [text[i], s] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, s]) => s);
};

/**
 * truncateEndpoints: more than 1,000 addresses are cut to 1,000, ready ones first, each subset
 * keeping its share (rounded up). Returns whether anything was cut.
 */
export const truncateSubsets = (subsets: EndpointSubset[]): boolean => {
  let totalReady = 0, totalNotReady = 0;
  for (const s of subsets) {
    totalReady += s.addresses?.length ?? 0;
    totalNotReady += s.notReadyAddresses?.length ?? 0;
  }
  if (totalReady + totalNotReady <= maxEndpointsCapacity) return false;
  const truncateReady = totalReady > maxEndpointsCapacity;
  const max = truncateReady ? maxEndpointsCapacity : maxEndpointsCapacity - totalReady;
  const total = truncateReady ? totalReady : totalNotReady;
  let canBeAdded = max;
  for (const s of subsets) {
    const inSubset = (truncateReady ? s.addresses?.length : s.notReadyAddresses?.length) ?? 0;
    const toBeAdded = Math.min(Math.ceil((inSubset / total) * max), canBeAdded);
    if (truncateReady) {
      s.addresses = s.addresses?.slice(0, toBeAdded);
      delete s.notReadyAddresses;
      canBeAdded -= s.addresses?.length ?? 0;
    } else {
      s.notReadyAddresses = s.notReadyAddresses?.slice(0, toBeAdded);
      canBeAdded -= s.notReadyAddresses?.length ?? 0;
    }
    if (s.addresses?.length === 0) delete s.addresses;
    if (s.notReadyAddresses?.length === 0) delete s.notReadyAddresses;
  }
  return true;
};

/** When a pod's Ready condition last changed (RFC 3339, which orders as text; undefined: none). */
const readyTransition = (pod: KObj): string | undefined =>
  (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === "Ready")?.lastTransitionTime ||
  undefined;

const after = (t: string, than: string | undefined) => than === undefined || t > than;
const earliest = (min: string | undefined, t: string) => (min === undefined || t < min ? t : min);

/**
 * The TriggerTimeTracker: the earliest change (a pod's Ready transition, the Service's creation)
 * not yet reflected since the Service's last sync; a Service seen for the first time gives its
 * creation time. Undefined: none (the annotation is then removed). Times are compared as the
 * RFC 3339 text the objects carry (one format, so text order is time order).
 */
export class TriggerTimes {
  private readonly states = new Map<string, { service?: string; pods: Map<string, string> }>();

  compute(key: string, svc: KObj, pods: readonly KObj[]): string | undefined {
    const state = this.states.get(key);
    let min: string | undefined;
    const podTimes = new Map<string, string>();
    for (const pod of pods) {
      const t = readyTransition(pod);
      if (t === undefined) continue;
      podTimes.set(pod.metadata.name!, t);
      if (after(t, state?.pods.get(pod.metadata.name!))) min = earliest(min, t);
    }
    const created: string | undefined = svc.metadata.creationTimestamp || undefined;
    if (created !== undefined && after(created, state?.service)) min = earliest(min, created);
    this.states.set(key, { service: created, pods: podTimes });
    return state ? min : created;
  }

  forget(key: string): void {
    this.states.delete(key);
  }
}
