/**
 * How many pod sockets the simulator may open: its open-file limit (`ulimit -n`) less the descriptors
 * it keeps for its API server, its clients' watches and the connections to the pods, so that pods
 * never take the last descriptor the API server needs to accept a connection.
 */

/** Descriptors kept for everything but the pods' listening sockets (half the limit when that is small). */
export const reservedDescriptors = 1_000;

export interface SocketBudget {
  /** Listening sockets the pods may hold. */
  readonly sockets: number;
  /** The open-file limit it comes from (undefined: unknown, no cap). */
  readonly limit?: number;
}

/** The soft limit on open files from `/proc/self/limits` (Linux), or undefined where it cannot be read. */
export const openFileLimit = (): number | undefined => {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    return soft === undefined || soft === "unlimited" ? undefined : Number(soft);
  } catch {
    return undefined;
  }
};

/** The budget for an open-file limit (or this process's own). */
export const socketBudget = (limit = openFileLimit()): SocketBudget =>
  limit === undefined
    ? { sockets: Number.POSITIVE_INFINITY }
    : { sockets: limit - Math.min(reservedDescriptors, Math.floor(limit / 2)), limit };
