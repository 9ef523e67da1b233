/**
 * faas-deno: an OpenFaaS provider for Kubernetes. Reads configuration, picks the
 * backend (the built-in cluster simulator, or a real API server), and serves the
 * faas-provider HTTP API.
 */
import { shutdownOnSignals } from "./src/lib/shutdown.ts";
import { Effect, Layer, ManagedRuntime } from "effect";
import { ConfigError, type ProviderConfig } from "./src/config/config.ts";
import { helpText } from "./src/config/help.ts";
import { loadConfig } from "./src/config/load.ts";
import { parseArgs } from "./src/config/flags.ts";
import { makeProvider } from "./src/app.ts";
import { type Credentials, readCredentials } from "./src/http/middleware/basicauth.ts";
import { Caches } from "./src/kube/caches.ts";
import { Leadership } from "./src/cluster/leader.ts";
import { providerName, release } from "./src/domain/version.ts";
import type { KubeApi } from "./src/kube/api.ts";
import { HttpTransport, makeConnectionFromConfig } from "./src/kube/http.ts";
import type { ClusterConnection } from "./src/kube/kubeconfig/resolve.ts";
import { Upstream } from "./src/invoke/upstream.ts";
import { ImageCheck } from "./src/provider/imagecheck.ts";

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
  let credentials: Credentials | undefined;
  if (config.basicAuth) {
    try {
      credentials = await readCredentials(config.secretMountPath);
    } catch (e) {
      return fail((e as Error).message, 1);
    }
  }
  if (config.verbose) console.log(JSON.stringify({ ...config }, null, 2));

  let backend: Layer.Layer<KubeApi | Upstream | ImageCheck>;
  let backendText: string;
  if (config.cluster === "kube") {
    let connection: ClusterConnection;
    try {
      connection = await makeConnectionFromConfig(config);
    } catch (e) {
      return fail(`cannot connect to Kubernetes: ${(e as Error).message}`, 1);
    }
    const transport = HttpTransport(connection);
    backend = Layer.mergeAll(
      transport,
      Upstream.http({ maxIdleConnsPerHost: config.maxIdleConnsPerHost }),
      config.imageCheck ? ImageCheck.registry().pipe(Layer.provide(transport)) : ImageCheck.off,
    );
    backendText = `Kubernetes API at ${connection.server} (${connection.source})`;
  } else {
    // Loaded only when selected: the Kubernetes backend never runs the simulator's code.
    const { simBackend } = await import("./sim/layer.ts");
    backend = simBackend(config);
    backendText =
      `built-in cluster simulator (${config.simNodes} nodes of ${config.simNodeCpu} CPU / ${config.simNodeMemory}, seed ${config.simSeed})`;
  }
  // The port bound (with port 0, known once listening): where the other replicas read this one's load.
  let boundPort = config.port;
  const provider = makeProvider(config, { credentials, listenPort: () => boundPort });
  const runtime = ManagedRuntime.make(provider.layer.pipe(Layer.provideMerge(backend)));
  console.log(`${providerName} ${release}: backend: ${backendText}; waiting for the caches to sync ...`);
  await runtime.runPromise(Effect.flatMap(Effect.service(Caches), (c) => c.synced));
  const handler = await runtime.runPromise(provider.handler);
  const leadership = await runtime.runPromise(Effect.service(Leadership));

  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      boundPort = port;
      console.log(`${providerName} ${release}: faas-provider API on http://${hostname}:${port}`);
      console.log(`backend: ${backendText}`);
      console.log(
        `function namespace: ${config.functionNamespace}${
          config.clusterRole
            ? " and those marked openfaas=1 (cluster_role=true)"
            : " only (cluster_role=false)"
        }; basic auth: ${config.basicAuth ? "on" : "off"}; ` +
          `autoscaling: ${config.scaling ? "on" : "off"}; predictive scaling: ${
            config.predictiveScaling ? "on" : "off"
          }`,
      );
      console.log(
        config.leaderElect
          ? `leader election: on, Lease ${config.leaseNamespace}/${config.leaseName} as ${config.identity}; ` +
            `leader: ${leadership.observedHolder() || "none yet"}; scaling runs on the leader only`
          : `leader election: off; ${config.identity} scales on its own`,
      );
    },
  }, handler);

  shutdownOnSignals(async () => {
    await server.shutdown();
    await runtime.dispose();
  });
  await server.finished;
};

if (import.meta.main) await main();
