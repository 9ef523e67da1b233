/**
 * Preloaded by bench:memory into the providers it measures (`--preload`, with `--v8-flags=--expose-gc`):
 * on SIGUSR2 a full garbage collection, then the line `bench:memory gc N` (N counts them) on stdout, so
 * the bench reads what the process keeps, without the garbage a later collection would free and without
 * an inspector (which adds tens of MiB of its own).
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  let collections = 0;
  Deno.addSignalListener("SIGUSR2", () => {
    gc();
    console.log(`bench:memory gc ${++collections}`);
  });
}
