/** Kubernetes Events recorded by the simulated components (`kubectl describe` shows them). */
import { rfc3339 } from "../env.ts";
import type { SimEnv } from "../env.ts";
import { Kinds, type KObj } from "../kinds.ts";
import type { Store } from "../store.ts";

/** Per store: the Event already recorded for (object, reason, message), to count repeats. */
const seen = new WeakMap<Store, Map<string, string>>();

export const recordEvent = (
  store: Store,
  env: SimEnv,
  involved: KObj,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
  component: string,
): void => {
  const ns = involved.metadata.namespace ?? "default";
  if (!store.peek(Kinds.Namespace, undefined, ns)) return;
  const now = rfc3339(env.now());
  let index = seen.get(store);
  if (!index) seen.set(store, index = new Map());
  const key = `${involved.metadata.uid}\u0000${reason}\u0000${message}`;
  const existing = index.get(key);
  if (existing && store.peek(Kinds.Event, ns, existing)) {
    store.mutate(Kinds.Event, ns, existing, (o) => {
      o.count = (o.count ?? 1) + 1;
      o.lastTimestamp = now;
    });
    return;
  }
  const name = `${involved.metadata.name}.${env.uid().replaceAll("-", "").slice(0, 16)}`;
  index.set(key, name);
  store.create(Kinds.Event, ns, {
    metadata: { name },
    involvedObject: {
      kind: involved.kind,
      namespace: involved.metadata.namespace,
      name: involved.metadata.name,
      uid: involved.metadata.uid,
      apiVersion: involved.apiVersion,
    },
    type,
    reason,
    message,
    source: { component },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  });
};
