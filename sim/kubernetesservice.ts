/**
 * The `kubernetes` Service in `default`, as every cluster has it: the API server writes it itself
 * (pkg/controlplane/controller/kubernetesservice and its endpoint reconciler), with no selector, an
 * `https` port 443 to the server's port, and an Endpoints (marked `skip-mirror`) and EndpointSlice
 * (named after the Service, labelled with its name, not managed by the EndpointSlice controller)
 * that point at the API server's address. In process the address is the simulator's nominal one
 * (127.0.0.1:6443); `serveSim` points them at the address it listens on.
 */
import { type KindInfo, Kinds, type KObj } from "./kinds.ts";
import type { Store } from "./store.ts";

export const kubernetesServiceName = "kubernetes";
const namespace = "default";

/** Where the API server is reached: an IP address and a port. */
export interface ApiServerAddress {
  readonly ip: string;
  readonly port: number;
}

export const nominalApiServerAddress: ApiServerAddress = { ip: "127.0.0.1", port: 6443 };

const isIPv6 = (ip: string) => ip.includes(":");

const put = (store: Store, kind: KindInfo, wanted: KObj, change: (o: KObj) => void) => {
  const name = wanted.metadata.name!;
  if (!store.peek(kind, namespace, name)) store.create(kind, namespace, wanted);
  else store.mutate(kind, namespace, name, change);
};

/**
 * Creates or brings up to date the `kubernetes` Service, Endpoints and EndpointSlice for an API
 * server at `address` (nothing is written when they already say so). A no-op without a `default`
 * namespace.
 */
export const ensureKubernetesService = (
  store: Store,
  address: ApiServerAddress = nominalApiServerAddress,
) => {
  if (!store.peek(Kinds.Namespace, undefined, namespace)) return;
  const port = { name: "https", port: 443, protocol: "TCP", targetPort: address.port };
  const service = store.peek(Kinds.Service, namespace, kubernetesServiceName);
  if (!service) {
    store.create(Kinds.Service, namespace, {
      metadata: { name: kubernetesServiceName, labels: { component: "apiserver", provider: "kubernetes" } },
      spec: { type: "ClusterIP", sessionAffinity: "None", ports: [port] },
    });
  } else if (JSON.stringify(service.spec?.ports) !== JSON.stringify([port])) {
    store.mutate(Kinds.Service, namespace, kubernetesServiceName, (o) => {
      o.spec.ports = [port];
    });
  }
  const subsets = [{
    addresses: [{ ip: address.ip }],
    ports: [{ name: "https", port: address.port, protocol: "TCP" }],
  }];
  const endpoints = store.peek(Kinds.Endpoints, namespace, kubernetesServiceName);
  if (JSON.stringify(endpoints?.subsets) !== JSON.stringify(subsets)) {
    put(store, Kinds.Endpoints, {
      metadata: {
        name: kubernetesServiceName,
        labels: { "endpointslice.kubernetes.io/skip-mirror": "true" },
      },
      subsets,
    }, (o) => {
      o.subsets = subsets;
    });
  }
  const addressType = isIPv6(address.ip) ? "IPv6" : "IPv4";
  const sliceEndpoints = [{ addresses: [address.ip], conditions: { ready: true } }];
  const ports = [{ name: "https", port: address.port, protocol: "TCP" }];
  let slice = store.peek(Kinds.EndpointSlice, namespace, kubernetesServiceName);
  if (slice && slice.addressType !== addressType) {
    // A slice's addressType is immutable: one for the other family is replaced.
    store.delete(Kinds.EndpointSlice, namespace, kubernetesServiceName);
    slice = undefined;
  }
  if (
    slice?.addressType !== addressType ||
    JSON.stringify(slice?.endpoints) !== JSON.stringify(sliceEndpoints) ||
    JSON.stringify(slice?.ports) !== JSON.stringify(ports)
  ) {
    put(store, Kinds.EndpointSlice, {
      metadata: {
        name: kubernetesServiceName,
        labels: { "kubernetes.io/service-name": kubernetesServiceName },
      },
      addressType,
      endpoints: sliceEndpoints,
      ports,
    }, (o) => {
      o.addressType = addressType;
      o.endpoints = sliceEndpoints;
      o.ports = ports;
    });
  }
};
