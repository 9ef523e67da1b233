/**
 * REST paths and typed clients for the kinds the provider uses, on top of the
 * KubeApi seam (types from kubernetes-types).
 */
import type { Effect, Stream } from "effect";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type {
  Affinity,
  Event,
  Namespace,
  Pod,
  PodSecurityContext,
  Secret,
  Service,
  Toleration,
} from "kubernetes-types/core/v1.d.ts";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.d.ts";
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import type { KubeApiShape, KubeError, WatchEvent } from "./api.ts";

const collection = (prefix: string, plural: string, ns?: string, name?: string) =>
  `${prefix}${ns ? `/namespaces/${encodeURIComponent(ns)}` : ""}/${plural}${
    name ? `/${encodeURIComponent(name)}` : ""
  }`;

export const paths = {
  deployments: (ns?: string, name?: string) => collection("/apis/apps/v1", "deployments", ns, name),
  services: (ns?: string, name?: string) => collection("/api/v1", "services", ns, name),
  secrets: (ns?: string, name?: string) => collection("/api/v1", "secrets", ns, name),
  pods: (ns?: string, name?: string) => collection("/api/v1", "pods", ns, name),
  events: (ns?: string, name?: string) => collection("/api/v1", "events", ns, name),
  endpointSlices: (ns?: string, name?: string) =>
    collection("/apis/discovery.k8s.io/v1", "endpointslices", ns, name),
  namespaces: (_ns?: string, name?: string) =>
    `/api/v1/namespaces${name ? `/${encodeURIComponent(name)}` : ""}`,
  podLog: (ns: string, name: string) => `${collection("/api/v1", "pods", ns, name)}/log`,
  /** Leases (`coordination.k8s.io/v1`): leader election. */
  leases: (ns?: string, name?: string) => collection("/apis/coordination.k8s.io/v1", "leases", ns, name),
  /** OpenFaaS Profiles (`openfaas.com/v1`). */
  profiles: (ns?: string, name?: string) => collection("/apis/openfaas.com/v1", "profiles", ns, name),
  /** metrics-server's PodMetrics (read-only: get and list). */
  podMetrics: (ns?: string, name?: string) => collection("/apis/metrics.k8s.io/v1beta1", "pods", ns, name),
};

/** The classic fields of an OpenFaaS Profile's spec (`openfaas.com/v1`; kubernetes-types has no CRDs). */
export interface ProfileSpec {
  readonly tolerations?: Toleration[];
  readonly runtimeClassName?: string;
  readonly podSecurityContext?: PodSecurityContext;
  readonly affinity?: Affinity;
}

export interface Profile {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { readonly name?: string; readonly namespace?: string };
  readonly spec?: ProfileSpec;
}

/** `metrics.k8s.io/v1beta1` PodMetrics, as metrics-server serves it (kubernetes-types has no metrics API). */
export interface PodMetrics {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
  /** RFC 3339: the end of the window. */
  readonly timestamp?: string;
  /** e.g. `30s`. */
  readonly window?: string;
  readonly containers: readonly {
    readonly name: string;
    /** Quantities: `cpu` (e.g. `1234567n`), `memory` (e.g. `2048Ki`). */
    readonly usage: Readonly<Record<string, string>>;
  }[];
}

export interface ObjectList<T> {
  readonly metadata: { readonly resourceVersion: string };
  readonly items: T[];
}

type Query = Readonly<Record<string, string | undefined>>;

/** Typed operations on one kind. `ns` is ignored for cluster-scoped kinds (Namespace). */
export interface ResourceClient<T> {
  get(ns: string | undefined, name: string): Effect.Effect<T, KubeError>;
  list(ns?: string, query?: Query): Effect.Effect<ObjectList<T>, KubeError>;
  create(ns: string | undefined, obj: T): Effect.Effect<T, KubeError>;
  replace(ns: string | undefined, name: string, obj: T): Effect.Effect<T, KubeError>;
  /** A JSON merge patch. */
  patch(ns: string | undefined, name: string, patch: unknown): Effect.Effect<T, KubeError>;
  remove(ns: string | undefined, name: string, query?: Query): Effect.Effect<T, KubeError>;
  watch(ns?: string, query?: Query): Stream.Stream<WatchEvent<T>, KubeError>;
}

const client = <T>(kube: KubeApiShape, path: (ns?: string, name?: string) => string): ResourceClient<T> => ({
  get: (ns, name) => kube.request<T>({ method: "GET", path: path(ns, name) }),
  list: (ns, query) => kube.request<ObjectList<T>>({ method: "GET", path: path(ns), query }),
  create: (ns, obj) => kube.request<T>({ method: "POST", path: path(ns), body: obj }),
  replace: (ns, name, obj) => kube.request<T>({ method: "PUT", path: path(ns, name), body: obj }),
  patch: (ns, name, patch) =>
    kube.request<T>({
      method: "PATCH",
      path: path(ns, name),
      body: patch,
      contentType: "application/merge-patch+json",
    }),
  remove: (ns, name, query) => kube.request<T>({ method: "DELETE", path: path(ns, name), query }),
  watch: (ns, query) => kube.watch<T>(path(ns), query),
});

/** Typed clients for Deployment, Service, Secret, Pod, Namespace, EndpointSlice and Event. */
export const resources = (kube: KubeApiShape) => ({
  deployments: client<Deployment>(kube, paths.deployments),
  services: client<Service>(kube, paths.services),
  secrets: client<Secret>(kube, paths.secrets),
  pods: client<Pod>(kube, paths.pods),
  namespaces: client<Namespace>(kube, paths.namespaces),
  endpointSlices: client<EndpointSlice>(kube, paths.endpointSlices),
  events: client<Event>(kube, paths.events),
  profiles: client<Profile>(kube, paths.profiles),
  leases: client<Lease>(kube, paths.leases),
  /** Usage of pods (metrics.k8s.io): only get and list are served. */
  podMetrics: client<PodMetrics>(kube, paths.podMetrics),
  /** Lines of a pod's log (`pods/{name}/log`). */
  podLog: (ns: string, name: string, query?: Query) => kube.lines(paths.podLog(ns, name), query),
});

export type Resources = ReturnType<typeof resources>;
