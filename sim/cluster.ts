/**
 * A simulated Kubernetes cluster: the object store and API server, nodes,
 * the default namespaces, and the controllers (deployment, scheduler, kubelet,
 * endpoints), all driven by Effect's Clock.
 */
import { Context, Effect, Layer } from "effect";
import { makeSimClock, type SimClock } from "./clock.ts";
import { randomNameSuffix } from "./names.ts";
import { Store } from "./store.ts";
import { SimApiServer } from "./apiserver.ts";
import { Kinds } from "./kinds.ts";
import { LogStore } from "./logs.ts";
import { ImageCatalog, type SimImage } from "./images/catalog.ts";
import { type ControllerError, ControllerHub } from "./controllers/hub.ts";
import { GarbageCollector } from "./controllers/gc.ts";
import { DeploymentController } from "./controllers/deployment.ts";
import { Scheduler } from "./controllers/scheduler.ts";
import { Kubelet } from "./controllers/kubelet.ts";
import type { KubeletOptions, PodNetworkMode } from "./controllers/kubelet/run.ts";
import { EndpointsController } from "./controllers/endpoints.ts";
import { NamespaceController } from "./controllers/namespace.ts";
import { startupLog } from "./images/runtime.ts";
import { containerContext } from "./pods.ts";
import { meteredPod, UsageMeter } from "./usagemeter.ts";
import { installCustomResources } from "./crds.ts";
import { profileCrd } from "./crd/definition.ts";
import { PodListeners, type PodListenersOptions } from "./podnet/listeners.ts";
import { ensureKubernetesService } from "./kubernetesservice.ts";

export interface SimOptions {
  readonly seed?: number;
  readonly nodes?: number;
  readonly nodeCpu?: string;
  readonly nodeMemory?: string;
  readonly images?: readonly SimImage[];
  /** Namespace marked `openfaas=1` at start (besides `openfaas`). */
  readonly functionNamespace?: string;
  readonly historySize?: number;
  readonly kubelet?: KubeletOptions;
  /** Told about each failed reconcile, which is retried with back-off (default: a line on stderr). */
  readonly onControllerError?: (e: ControllerError) => void;
  /** The random suffix of generated names (default: seeded, apimachinery's alphabet); for tests. */
  readonly nameSuffix?: () => string;
  /**
   * Installs OpenFaaS's Profile CRD (profiles.openfaas.com) at start, as installing OpenFaaS does
   * (default true). false: a bare cluster, where `openfaas.com/v1` profiles are 404 until a CRD is applied.
   */
  readonly profileCrd?: boolean;
  /**
   * "loopback": pod IPs in 127.10.0.0/16 and every running pod listening there on real sockets
   * (sim/podnet/listeners.ts), closed when the cluster shuts down; "virtual" (default): pod IPs in
   * 10.244.0.0/16, reachable only through the in-process network (sim/network.ts).
   */
  readonly podNetwork?: PodNetworkMode;
  /**
   * Where pod IPs start, `A.B.0.0/16` (default 10.244.0.0/16 virtual, 127.10.0.0/16 loopback): two clusters
   * with loopback pods on one host need different ones.
   */
  readonly podCidr?: string;
  /** How the pods' sockets report a port they cannot bind (default: a line on stderr). */
  readonly podListeners?: PodListenersOptions;
}

export interface SimClusterShape {
  readonly clock: SimClock;
  readonly store: Store;
  readonly api: SimApiServer;
  readonly logs: LogStore;
  readonly catalog: ImageCatalog;
  readonly kubelet: Kubelet;
  /** CPU and memory use of running pods (the metrics API's source). */
  readonly usage: UsageMeter;
  /** The pods' sockets on the host, with the "loopback" pod network. */
  readonly listeners?: PodListeners;
  readonly options: Required<
    Pick<SimOptions, "seed" | "nodes" | "nodeCpu" | "nodeMemory" | "functionNamespace" | "podNetwork">
  >;
}

export class SimCluster extends Context.Service<SimCluster, SimClusterShape>()("faas/sim/SimCluster") {
  static layer(options: SimOptions = {}): Layer.Layer<SimCluster> {
    return Layer.effect(SimCluster, makeSimCluster(options));
  }
}

const makeSimCluster = (options: SimOptions = {}) =>
  Effect.gen(function* () {
    const opts = {
      seed: options.seed ?? 1,
      nodes: options.nodes ?? 3,
      nodeCpu: options.nodeCpu ?? "4",
      nodeMemory: options.nodeMemory ?? "16Gi",
      functionNamespace: options.functionNamespace ?? "openfaas-fn",
      podNetwork: options.podNetwork ?? "virtual",
    };
    const clock = yield* makeSimClock(opts.seed);
    const store = new Store({
      now: clock.now,
      uid: clock.uid,
      historySize: options.historySize,
      nameSuffix: options.nameSuffix ?? (() => randomNameSuffix(clock.random)),
    });
    // Timers that fall due together are one batch of changes for the controllers.
    clock.onTimers((fire) => store.batch(fire));
    installCustomResources(store);
    const logs = new LogStore();
    const catalog = new ImageCatalog(options.images);
    const usage = new UsageMeter(
      clock,
      (ns, name) => meteredPod(store.peek(Kinds.Pod, ns, name), catalog),
    );
    store.subscribe((e) => {
      if (e.type === "DELETED" && e.kind === Kinds.Pod) {
        usage.forget(e.object.metadata.namespace!, e.object.metadata.name!);
        // Followed logs end and the pod's log is dropped, whether or not a container ever ran.
        logs.end(e.object.metadata.namespace!, e.object.metadata.name!);
      }
    });
    const shape: { current?: SimClusterShape } = {};
    const kubelet = new Kubelet(store, clock, catalog, logs, {
      startupLog: (image, pod) => startupLog(image, containerContext(shape.current!, pod)),
      ...options.kubelet,
      podNetwork: opts.podNetwork,
      podCidr: options.podCidr,
    });
    const api = new SimApiServer(store, logs, {
      windowMs: usage.windowMs,
      now: () => usage.now(),
      podMetrics: (ns, pod) => usage.podMetrics(ns, pod),
      // metrics-server cannot reach a failed node's kubelet (sim/disruptions): no metrics from it.
      scraped: (node) => !kubelet.isNodeDown(node),
    }, clock);
    const listeners = opts.podNetwork === "loopback"
      ? new PodListeners({ clock, store, logs, catalog, usage }, options.podListeners)
      : undefined;
    if (listeners) yield* Effect.addFinalizer(() => Effect.promise(() => listeners.closeAll()));
    new ControllerHub(
      store,
      [
        new DeploymentController(store, clock),
        new Scheduler(store, clock),
        kubelet,
        new EndpointsController(store),
        new GarbageCollector(store),
        new NamespaceController(store),
        ...(listeners ? [listeners] : []),
      ],
      clock,
      { onError: options.onControllerError },
    );
    for (const ns of ["default", "kube-system", "kube-public", "openfaas", opts.functionNamespace]) {
      if (store.peek(Kinds.Namespace, undefined, ns)) continue;
      const marked = ns === opts.functionNamespace;
      store.create(Kinds.Namespace, undefined, {
        metadata: {
          name: ns,
          ...(marked ? { labels: { openfaas: "1" }, annotations: { openfaas: "1" } } : {}),
        },
      });
    }
    // Before any other Service, so that it has the service range's first address (10.96.0.1), as in Kubernetes.
    ensureKubernetesService(store);
    if (options.profileCrd !== false) {
      store.create(Kinds.CustomResourceDefinition, undefined, profileCrd());
    }
    for (let i = 1; i <= opts.nodes; i++) {
      const name = `sim-node-${i}`;
      const resources = {
        cpu: opts.nodeCpu,
        memory: opts.nodeMemory,
        pods: "110",
        "ephemeral-storage": "100Gi",
      };
      store.create(Kinds.Node, undefined, {
        metadata: {
          name,
          labels: {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "sim",
          },
        },
        spec: {},
      });
      store.mutate(Kinds.Node, undefined, name, (o) => {
        o.status = {
          capacity: resources,
          allocatable: resources,
          conditions: [{
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "kubelet is posting ready status",
          }],
          addresses: [{ type: "InternalIP", address: `192.168.0.${10 + i}` }, {
            type: "Hostname",
            address: name,
          }],
          nodeInfo: {
            kubeletVersion: "v1.33.0-sim",
            containerRuntimeVersion: "sim://1.0",
            operatingSystem: "linux",
            architecture: "amd64",
            osImage: "faas-deno simulator",
            kernelVersion: "sim",
          },
        };
      });
    }
    shape.current = { clock, store, api, logs, catalog, kubelet, usage, listeners, options: opts };
    return SimCluster.of(shape.current);
  });
