/** REST paths of the kinds the provider uses. */

export const paths = {
  deployments: (ns?: string, name?: string) => collection("/apis/apps/v1", "deployments", ns, name),
  services: (ns?: string, name?: string) => collection("/api/v1", "services", ns, name),
  secrets: (ns?: string, name?: string) => collection("/api/v1", "secrets", ns, name),
  pods: (ns?: string, name?: string) => collection("/api/v1", "pods", ns, name),
  events: (ns?: string, name?: string) => collection("/api/v1", "events", ns, name),
  endpointSlices: (ns?: string, name?: string) =>
    collection("/apis/discovery.k8s.io/v1", "endpointslices", ns, name),
  namespaces: (name?: string) => `/api/v1/namespaces${name ? `/${encodeURIComponent(name)}` : ""}`,
  podLog: (ns: string, name: string) => `${collection("/api/v1", "pods", ns, name)}/log`,
};

const collection = (prefix: string, plural: string, ns?: string, name?: string) =>
  `${prefix}${ns ? `/namespaces/${encodeURIComponent(ns)}` : ""}/${plural}${
    name ? `/${encodeURIComponent(name)}` : ""
  }`;
