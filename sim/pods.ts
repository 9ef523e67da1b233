/** What a simulated container sees: its environment, mounted secret files, clock and log. */
import type { SimClock } from "./clock.ts";
import type { Store } from "./store.ts";
import type { LogStore } from "./logs.ts";
import { Kinds, type KObj } from "./kinds.ts";
import type { ContainerContext } from "./images/context.ts";
import { decodeBase64 } from "../src/lib/base64.ts";

/** What a pod's container sees of its cluster: secrets to mount, the clock, its log. */
export interface PodHost {
  readonly clock: SimClock;
  readonly store: Store;
  readonly logs: LogStore;
}

/** Files a container sees from its projected secret volumes. */
const mountedFiles = (cluster: PodHost, pod: KObj): Map<string, Uint8Array> => {
  const files = new Map<string, Uint8Array>();
  const container = pod.spec.containers[0];
  for (const mount of container.volumeMounts ?? []) {
    const volume = (pod.spec.volumes ?? []).find((v: { name: string }) => v.name === mount.name);
    for (const source of volume?.projected?.sources ?? []) {
      if (!source.secret) continue;
      const secret = cluster.store.peek(Kinds.Secret, pod.metadata.namespace, source.secret.name);
      if (!secret) continue;
      const items: { key: string; path: string }[] = source.secret.items ??
        Object.keys(secret.data ?? {}).map((k) => ({ key: k, path: k }));
      for (const item of items) {
        const value = secret.data?.[item.key];
        if (value !== undefined) files.set(`${mount.mountPath}/${item.path}`, decodeBase64(value));
      }
    }
  }
  return files;
};

export const containerContext = (cluster: PodHost, pod: KObj): ContainerContext => {
  const container = pod.spec.containers[0];
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const ns = pod.metadata.namespace!;
  return {
    podName: pod.metadata.name!,
    namespace: ns,
    functionName: pod.metadata.labels?.faas_function ?? container.name,
    env,
    files: mountedFiles(cluster, pod),
    now: () => cluster.clock.now(),
    // An aborted sleep cancels its timer, so no fiber is left waiting in virtual time.
    sleep: (ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve) => {
        const cancel = cluster.clock.after(ms, resolve);
        signal?.addEventListener("abort", () => {
          cancel();
          resolve();
        }, { once: true });
      }),
    log: (line: string) =>
      cluster.logs.append(ns, pod.metadata.name!, container.name, cluster.clock.now(), line),
  };
};
