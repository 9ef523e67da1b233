/** Byte helpers shared by the HTTP layer and the simulated images. */

/** The chunks joined into one array. */
export const concatBytes = (chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> => {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};
