/**
 * The invoke proxy streams both ways against a real upstream on 127.0.0.1: an SSE or NDJSON response
 * arrives while the pod still holds the rest, and an upload reaches the pod before the client has
 * finished sending it.
 */
import assert from "node:assert/strict";
import { lineReader } from "../support/fixtures.ts";
import { routeTo, withUpstream } from "../support/upstream.ts";

/** Resolves like `p`, or with `fallback` after `ms` of real time (so a buffering proxy fails, not hangs). */
const within = <T>(p: Promise<T>, ms: number, fallback: T): Promise<T> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms))),
  ]);
};

/** A promise with its resolver. */
const signal = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

Deno.test("proxy: the response streams (first chunk arrives before the last is sent)", async () => {
  let releaseLast!: () => void;
  const lastMayGo = new Promise<void>((r) => (releaseLast = r));
  let lastSent = false;
  await withUpstream(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode("data: first\n\n"));
        await lastMayGo;
        lastSent = true;
        controller.enqueue(new TextEncoder().encode("data: last\n\n"));
        controller.close();
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
  }, async (h, up) => {
    await routeTo(h, "sse", up.port);
    const res = await h.request("GET", "/function/sse", undefined, { Accept: "text/event-stream" });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.equal(first, "data: first\n\n");
    assert.equal(lastSent, false, "first chunk arrived before the last was sent");
    releaseLast();
    let rest = "";
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.equal(rest, "data: last\n\n");
  });
});

Deno.test("proxy: an NDJSON response arrives line by line while the pod still holds the rest", async () => {
  const lines = [{ n: 1, text: "first" }, { n: 2, text: "second" }, { n: 3, text: "third" }];
  // Line k+1 is written only once the client has read line k: a proxy that buffers never delivers line 1.
  const clientRead = lines.map(() => signal());
  const written: number[] = [];
  await withUpstream(() => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (const [i, line] of lines.entries()) {
          if (i > 0 && await within(clientRead[i - 1].promise.then(() => true), 3_000, false) === false) {
            controller.error(new Error(`the client never read line ${i}`));
            return;
          }
          written.push(line.n);
          controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
        }
        controller.close();
      },
    });
    return new Response(body, { headers: { "Content-Type": "application/x-ndjson" } });
  }, async (h, up) => {
    await routeTo(h, "ndjson", up.port);
    const res = await h.request("GET", "/function/ndjson");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    assert.equal(res.headers.get("content-length"), null, "not buffered into a sized body");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const got: { n: number; text: string }[] = [];
    const nextLine = lineReader(reader);
    for (const [i] of lines.entries()) {
      const line = await within(nextLine(), 3_000, "timed out");
      assert.notEqual(line, "timed out", `line ${i + 1} did not arrive while the pod held the rest`);
      got.push(line);
      // What the pod has written when the client reads line i+1: nothing after it.
      assert.deepEqual(written, lines.slice(0, i + 1).map((l) => l.n), `after reading line ${i + 1}`);
      clientRead[i].resolve();
    }
    assert.deepEqual(got, lines);
    assert.equal(await nextLine(), undefined, "the stream ends after the last line");
  });
});

Deno.test("proxy: a 1 MiB upload streams through byte-exact, reaching the pod before the client has sent the rest", async () => {
  const chunkSize = 64 * 1024;
  const chunks = 16; // 1 MiB
  const data = new Uint8Array(chunkSize * chunks).map((_, i) => (i * 7 + 3) % 253);
  const podSawData = signal();
  let podFirstChunkAt = -1;
  /** Bytes the client's stream has handed over so far. */
  let sent = 0;
  // The pod reads the upload as it arrives, then echoes every byte back.
  const pod = async (req: Request) => {
    const reader = req.body!.getReader();
    const received: Uint8Array[] = [];
    let total = 0;
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total === 0) {
        podFirstChunkAt = sent;
        podSawData.resolve();
      }
      received.push(value);
      total += value.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of received) {
      all.set(c, at);
      at += c.length;
    }
    return new Response(all);
  };
  let waitedForPod: "yes" | "timed out" | undefined;
  await withUpstream(pod, async (h, up) => {
    await routeTo(h, "upload", up.port);
    let index = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (index === 1) {
          // Hold the rest of the upload until the pod has seen data (or give up after 3 s of real time).
          waitedForPod = await within(podSawData.promise.then(() => "yes" as const), 3_000, "timed out");
        }
        if (index === chunks) {
          controller.close();
          return;
        }
        const chunk = data.slice(index * chunkSize, (index + 1) * chunkSize);
        index++;
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
    const res = await fetch(
      `${h.url}/function/upload`,
      { method: "POST", body, duplex: "half" } as RequestInit,
    );
    const back = new Uint8Array(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.equal(
      waitedForPod,
      "yes",
      "the pod received the first chunk while the client still held the rest",
    );
    assert.ok(
      podFirstChunkAt >= 0 && podFirstChunkAt < data.length,
      `the pod's first chunk came after ${podFirstChunkAt} of ${data.length} bytes were sent`,
    );
    assert.equal(back.length, data.length);
    assert.deepEqual(back, data);
  });
});
