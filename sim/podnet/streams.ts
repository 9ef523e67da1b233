/** Response bodies that end when a container stops. */

/** Content types the images stream (sim/images/http.ts); any other body they answer is whole in memory. */
const streamed = /^(text\/event-stream|application\/x-ndjson)\b/i;

/**
 * `res` as it goes on the wire from a container that may stop: a body the image made whole is sent whole
 * (with its Content-Length, as the watchdogs send it), or not at all when `signal` aborts first; a
 * streamed body is cut as `cutOnAbort` does.
 */
export const onTheWire = async (res: Response, signal: AbortSignal): Promise<Response> => {
  if (!res.body) return res;
  if (streamed.test(res.headers.get("content-type") ?? "")) return cutOnAbort(res, signal);
  let onAbort = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error("the container stopped"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  const whole = res.arrayBuffer();
  try {
    const bytes = await Promise.race([whole, stopped]);
    return new Response(bytes, { status: res.status, statusText: res.statusText, headers: res.headers });
  } catch (e) {
    res.body.cancel().catch(() => {});
    whole.catch(() => {});
    throw e;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
};

/**
 * `res` with a body that errors (the client sees the connection cut) and cancels the image's own body
 * once `signal` aborts: a stopped container answers nothing more.
 */
export const cutOnAbort = (res: Response, signal: AbortSignal): Response => {
  if (!res.body) return res;
  const reader = res.body.getReader();
  let done = false;
  let onAbort = () => {};
  const finish = () => {
    done = true;
    signal.removeEventListener("abort", onAbort);
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        if (done) return;
        finish();
        controller.error(new Error("the container stopped"));
        reader.cancel().catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      const chunk = await reader.read().catch((e) => {
        if (!done) {
          finish();
          controller.error(e);
        }
        return { done: true, value: undefined } as const;
      });
      if (done) return;
      if (chunk.done) {
        finish();
        controller.close();
      } else controller.enqueue(chunk.value);
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
};
