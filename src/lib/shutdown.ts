/** Clean exit on SIGINT and SIGTERM, for the provider and the simulator's API server. */
export const shutdownOnSignals = (close: () => Promise<void>): void => {
  const shutdown = async (signal: string) => {
    console.log(`${signal} received: shutting down`);
    await close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void shutdown("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void shutdown("SIGTERM"));
};
