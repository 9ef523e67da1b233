/**
 * faas-deno: an OpenFaaS provider for Kubernetes. Reads configuration, picks the
 * backend (the built-in cluster simulator, or a real API server), and serves the
 * faas-provider HTTP API.
 */
import { Effect, Layer, ManagedRuntime } from "effect";
import { ConfigError, helpText, loadConfig, parseArgs, type ProviderConfig } from "./src/config.ts";
import { providerLayer } from "./src/provider/layer.ts";
import { makeApp } from "./src/http/app.ts";
import { type Credentials, readCredentials } from "./src/http/auth.ts";
import { simBackend } from "./sim/layer.ts";
import { Caches } from "./src/provider/caches.ts";
import { providerName, release } from "./src/version.ts";

const fail = (message: string, code = 2): never => {
  console.error(`${providerName}: ${message}`);
  Deno.exit(code);
};

const main = async () => {
  let config: ProviderConfig;
  try {
    if (parseArgs(Deno.args).help) {
      console.log(helpText());
      return;
    }
    config = loadConfig(Deno.env.toObject(), Deno.args);
  } catch (e) {
    if (e instanceof ConfigError) {
      return fail(`${e.message}\nRun with --help for the list of flags and variables.`);
    }
    throw e;
  }
  if (config.cluster === "kube") {
    return fail(
      "the real-cluster backend (--cluster=kube, --kubeconfig, in-cluster) is not built into this version yet; " +
        "start without those flags to use the built-in simulator",
      1,
    );
  }
  let credentials: Credentials | undefined;
  if (config.basicAuth) {
    try {
      credentials = await readCredentials(config.secretMountPath);
    } catch (e) {
      return fail((e as Error).message, 1);
    }
  }
  if (config.verbose) console.log(JSON.stringify({ ...config }, null, 2));

  const backend = simBackend(config);
  const runtime = ManagedRuntime.make(providerLayer(config).pipe(Layer.provideMerge(backend)));
  await runtime.runPromise(Effect.flatMap(Effect.service(Caches), (c) => c.synced));
  const app = await runtime.runPromise(makeApp(credentials));

  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      console.log(`${providerName} ${release}: faas-provider API on http://${hostname}:${port}`);
      console.log(
        `backend: built-in cluster simulator (${config.simNodes} nodes of ${config.simNodeCpu} CPU / ${config.simNodeMemory}, seed ${config.simSeed})`,
      );
      console.log(
        `function namespace: ${config.functionNamespace}; basic auth: ${config.basicAuth ? "on" : "off"}`,
      );
    },
  }, app.fetch);

  const shutdown = async (signal: string) => {
    console.log(`${signal} received: shutting down`);
    await server.shutdown();
    await runtime.dispose();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void shutdown("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void shutdown("SIGTERM"));
  await server.finished;
};

if (import.meta.main) await main();
