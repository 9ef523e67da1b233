/**
 * Pod IPs: each pod gets an IP from its node's range, kept across container restarts and free again
 * once the pod is deleted.
 *
 * Each node has a /24 of 250 pod IPs, x.y.z.2 to x.y.z.251. Node number n (the number its name ends
 * with, `sim-node-n`; a node whose name has none, or whose number another node took, gets 0 or else
 * the highest unused number) has the /24 `A.(B + floor(n / 256)).(n % 256)`, where A.B is
 * - "virtual" (in-process runs): 10.244, so sim-node-1 has 10.244.1.0/24 as with flannel's default
 *   10.244.0.0/16; nodes 256 and up spill into 10.245.x, 10.246.x ... up to 10.255.x (3,072 nodes);
 * - "loopback" (pods listening on the host, ./../../podnet/listeners.ts): 127.10, so the addresses are
 *   in 127.0.0.0/8, which Linux routes to `lo` with no configuration; nodes 256 and up spill into
 *   127.11.x ... up to 127.255.x (62,976 nodes).
 * `podCidr` (`A.B.0.0/16`, `deno task sim --pod-cidr`) moves the start: two simulators with loopback pods
 * on one host need different ones, or their pods would ask for the same sockets.
 * A node past the last range gets no pod IPs: its pods fail to get a sandbox (FailedCreatePodSandBox).
 */
import type { PodNetworkMode, PodRun } from "./run.ts";

export type { PodNetworkMode };

/** Pod IPs per node: .2 to .251 (slots 0 to 249), handed out round-robin. */
const podIpSlots = 250;

type FirstOctets = readonly [number, number];

const defaultOctets: Record<PodNetworkMode, FirstOctets> = {
  virtual: [10, 244],
  loopback: [127, 10],
};

/** The default pod CIDR of a mode, as `--pod-cidr` spells it. */
export const defaultPodCidr = (mode: PodNetworkMode): string => `${defaultOctets[mode].join(".")}.0.0/16`;

/**
 * The first two octets of a pod CIDR `A.B.0.0/16`; throws a message naming what is wrong. Loopback pods
 * need 127.B with B from 1 (127.0.0.0/16 holds 127.0.0.1, where the API server and the provider listen);
 * virtual pod IPs must not be loopback addresses, which the host would answer.
 */
export const parsePodCidr = (mode: PodNetworkMode, cidr: string): FirstOctets => {
  const m = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/.exec(cidr);
  const [a, b] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(a <= 255 && b <= 255)) {
    throw new Error(`pod CIDR "${cidr}": expected A.B.0.0/16, e.g. ${defaultPodCidr(mode)}`);
  }
  if (mode === "loopback" && (a !== 127 || b === 0)) {
    throw new Error(`pod CIDR "${cidr}": loopback pods need 127.B.0.0/16 with B from 1 to 255`);
  }
  if (mode === "virtual" && a === 127) {
    throw new Error(`pod CIDR "${cidr}": virtual pod IPs must not be loopback addresses (127.0.0.0/8)`);
  }
  return [a, b];
};

/** The first three octets of node number `n`'s pod network, or undefined past the last range. */
export const nodePodNet = (
  mode: PodNetworkMode,
  n: number,
  octets = defaultOctets[mode],
): string | undefined => {
  const [a, b] = octets;
  const second = b + Math.floor(n / 256);
  return second > 255 ? undefined : `${a}.${second}.${n % 256}`;
};

/** A node's pod IP range: the slots in use by its pods, and where the next search starts. */
interface NodeIps {
  readonly net: string | undefined;
  next: number;
  readonly used: Set<number>;
}

export class PodIps {
  private readonly nodes = new Map<string, NodeIps>();
  /** Node numbers given out (a number names one node's range). */
  private readonly numbers = new Set<number>();

  private readonly octets: FirstOctets;
  /** The highest node number with a range. */
  private readonly lastNodeNumber: number;

  constructor(private readonly mode: PodNetworkMode = "virtual", podCidr?: string) {
    this.octets = podCidr === undefined ? defaultOctets[mode] : parsePodCidr(mode, podCidr);
    this.lastNodeNumber = (256 - this.octets[1]) * 256 - 1;
  }

  private rangeOf(node: string): NodeIps {
    let ips = this.nodes.get(node);
    if (ips) return ips;
    const suffix = /(\d+)$/.exec(node)?.[1];
    let n = suffix === undefined ? NaN : Number(suffix);
    if (!Number.isSafeInteger(n) || this.numbers.has(n)) {
      // 0 first (no sim-node has it), then from the last range down, clear of the numbered nodes.
      n = this.numbers.has(0) ? this.lastNodeNumber : 0;
      while (this.numbers.has(n) && n > 0) n--;
    }
    this.numbers.add(n);
    this.nodes.set(node, ips = { net: nodePodNet(this.mode, n, this.octets), next: 1, used: new Set() });
    return ips;
  }

  /** The next free IP of the node's range for the run's pod (round-robin), or undefined when all are taken. */
  allocate(r: PodRun, node: string): string | undefined {
    const ips = this.rangeOf(node);
    if (ips.net === undefined) return undefined;
    for (let i = 0; i < podIpSlots; i++) {
      const slot = (ips.next + i) % podIpSlots;
      if (ips.used.has(slot)) continue;
      ips.used.add(slot);
      ips.next = slot + 1;
      r.ip = { node, slot };
      return `${ips.net}.${slot + 2}`;
    }
    return undefined;
  }

  /** Frees the run's IP (its pod is gone). */
  release(r: PodRun) {
    if (r.ip) this.nodes.get(r.ip.node)?.used.delete(r.ip.slot);
  }

  /** What the CNI plugin answers when the node's range is full (or the node has none). */
  noIpMessage(node: string): string {
    const net = this.rangeOf(node).net;
    const prefix =
      "Failed to create pod sandbox: failed to setup network for sandbox: failed to allocate for range 0";
    return net === undefined
      ? `${prefix}: no pod IP range left for node ${node} (the simulator's ${this.mode} pod network is full)`
      : `${prefix}: no IP addresses available in range set: ${net}.2-${net}.${podIpSlots + 1}`;
  }
}
