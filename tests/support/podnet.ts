/** Checks on pods that listen on the host (the simulator's "loopback" pod network). */
import assert from "node:assert/strict";

/**
 * Whether a TCP connection to `ip:port` is refused (nothing listens there). A connection reset while
 * connecting (a socket that is closing) counts as not refused yet.
 */
export const refuses = async (ip: string, port = 8080): Promise<boolean> => {
  try {
    const conn = await Deno.connect({ hostname: ip, port });
    conn.close();
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused) return true;
    if (e instanceof Deno.errors.ConnectionReset) return false;
    throw e;
  }
};

/**
 * Asserts that nothing listens on `ip:port` any more. A socket closes asynchronously after its pod
 * stopped: this tries up to 50 times, 20 ms apart.
 */
export const assertRefused = async (ip: string, port = 8080, what = `${ip}:${port}`) => {
  for (let i = 0; i < 50; i++) {
    if (await refuses(ip, port)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${what} still accepts connections`);
};

/** A pod IP of the loopback pod network (127.10.0.0/16 and the ranges it spills into). */
export const loopbackPodIp = /^127\.(1\d|[2-9]\d|1\d\d|2[0-4]\d|25[0-5])\.\d{1,3}\.\d{1,3}$/;
