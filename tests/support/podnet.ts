/** Checks on pods that listen on the host (the simulator's "loopback" pod network). */
import assert from "node:assert/strict";

/** Whether a TCP connection to `ip:port` is refused (nothing listens there). */
export const refuses = async (ip: string, port = 8080): Promise<boolean> => {
  try {
    const conn = await Deno.connect({ hostname: ip, port });
    conn.close();
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused) return true;
    throw e;
  }
};

/** Asserts that nothing listens on `ip:port` any more. */
export const assertRefused = async (ip: string, port = 8080, what = `${ip}:${port}`) =>
  assert.ok(await refuses(ip, port), `${what} still accepts connections`);

/** A pod IP of the loopback pod network (127.10.0.0/16 and the ranges it spills into). */
export const loopbackPodIp = /^127\.(1\d|[2-9]\d|1\d\d|2[0-4]\d|25[0-5])\.\d{1,3}\.\d{1,3}$/;
