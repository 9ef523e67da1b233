/**
 * Pod IPs: each pod gets an IP from its node's range, kept across container restarts and free again
 * once the pod is deleted.
 */
import type { PodRun } from "./run.ts";

/** Pod IPs per node: 10.244.{node}.2 to .251 (slots 0 to 249), handed out round-robin. */
const podIpSlots = 250;

/** A node's pod IP range: the slots in use by its pods, and where the next search starts. */
interface NodeIps {
  next: number;
  readonly used: Set<number>;
}

/** The first three octets of a node's pod network (10.244.{node number}). */
const nodePodNet = (node: string) => `10.244.${Number(/(\d+)$/.exec(node)?.[1] ?? 0)}`;

export class PodIps {
  private readonly nodes = new Map<string, NodeIps>();

  /** The next free IP of the node's range for the run's pod (round-robin), or undefined when all are taken. */
  allocate(r: PodRun, node: string): string | undefined {
    let ips = this.nodes.get(node);
    if (!ips) this.nodes.set(node, ips = { next: 1, used: new Set() });
    for (let i = 0; i < podIpSlots; i++) {
      const slot = (ips.next + i) % podIpSlots;
      if (ips.used.has(slot)) continue;
      ips.used.add(slot);
      ips.next = slot + 1;
      r.ip = { node, slot };
      return `${nodePodNet(node)}.${slot + 2}`;
    }
    return undefined;
  }

  /** Frees the run's IP (its pod is gone). */
  release(r: PodRun) {
    if (r.ip) this.nodes.get(r.ip.node)?.used.delete(r.ip.slot);
  }
}

/** What the CNI plugin answers when the node's range is full. */
export const noIpMessage = (node: string): string => {
  const net = nodePodNet(node);
  return `Failed to create pod sandbox: failed to setup network for sandbox: failed to allocate for range 0: no IP addresses available in range set: ${net}.2-${net}.${
    podIpSlots + 1
  }`;
};
