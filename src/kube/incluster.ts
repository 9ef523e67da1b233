/**
 * In-cluster configuration: the API server from `KUBERNETES_SERVICE_HOST` /
 * `KUBERNETES_SERVICE_PORT`, the pod's service-account token (re-read at most
 * every minute, or after a 401), `ca.crt` and `namespace`; and the `--master`
 * override applied over any connection.
 */
import { KubeconfigError } from "./kubeconfig/document.ts";
import { type Env, fileProblem, isPem } from "./kubeconfig/files.ts";
import type { ClusterConnection } from "./kubeconfig/resolve.ts";
import { TokenFileSource } from "./kubeconfig/token.ts";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface InClusterOptions {
  /** Environment with `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT` (default: the process environment). */
  readonly env?: Env;
  /** Directory holding `token`, `ca.crt` and `namespace` (default {@link SERVICE_ACCOUNT_DIR}). */
  readonly dir?: string;
  /** Clock for the token refresh (default `Date.now`). */
  readonly now?: () => number;
  /** How often the token is re-read, in ms (default 60 000). */
  readonly tokenRefreshMs?: number;
}

/** `host:port` for a URL, with an IPv6 literal in brackets. */
export const hostPort = (host: string, port: string): string =>
  host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;

const readOptional = async (path: string): Promise<string | undefined> => {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new KubeconfigError({ message: `in-cluster configuration: ${path} ${fileProblem(e)}`, file: path });
  }
};

/** The pod's service-account connection. Rejects with {@link KubeconfigError}. */
export async function loadInCluster(options: InClusterOptions = {}): Promise<ClusterConnection> {
  const env = options.env ?? Deno.env.toObject();
  const dir = (options.dir ?? SERVICE_ACCOUNT_DIR).replace(/\/+$/, "");
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "";
  if (host === "" || port === "") {
    const missing = host === "" ? "KUBERNETES_SERVICE_HOST" : "KUBERNETES_SERVICE_PORT";
    throw new KubeconfigError({
      message:
        `in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, but ${missing} is not set`,
      field: missing,
    });
  }
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
    throw new KubeconfigError({
      message: `in-cluster configuration: KUBERNETES_SERVICE_PORT=${port} is not a port number`,
      field: "KUBERNETES_SERVICE_PORT",
    });
  }
  const tokenPath = `${dir}/token`;
  const token = new TokenFileSource(tokenPath, options.now ?? Date.now, options.tokenRefreshMs ?? 60_000);
  await token.load((why) => {
    throw new KubeconfigError({
      message: `in-cluster configuration: the service-account token ${tokenPath} ${why}`,
      file: tokenPath,
      field: "token",
    });
  });
  const caCert = await readOptional(`${dir}/ca.crt`);
  if (caCert !== undefined && !isPem(caCert)) {
    throw new KubeconfigError({
      message: `in-cluster configuration: ${dir}/ca.crt is not a PEM certificate`,
      file: `${dir}/ca.crt`,
      field: "ca.crt",
    });
  }
  const namespace = (await readOptional(`${dir}/namespace`))?.trim() || undefined;
  return {
    server: `https://${hostPort(host, port)}`,
    caCert,
    insecureSkipTlsVerify: false,
    auth: async () => ({ Authorization: `Bearer ${await token.get()}` }),
    invalidate: () => token.invalidate(),
    namespace,
    source: `in-cluster service account (${dir})`,
  };
}

/**
 * The `--master` override: the same credentials against another server URL. A bare
 * `host[:port]` gets `https://` when the connection has TLS settings, `http://` otherwise.
 */
export function withMaster(conn: ClusterConnection, master: string | undefined): ClusterConnection {
  if (master === undefined || master.trim() === "") return conn;
  const m = master.trim();
  const tls = conn.caCert !== undefined || conn.clientCert !== undefined || conn.insecureSkipTlsVerify ||
    conn.server.startsWith("https:");
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(m) ? m : `${tls ? "https" : "http"}://${m}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new KubeconfigError({
      message: `--master ${JSON.stringify(master)} is not a URL`,
      field: "master",
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KubeconfigError({
      message: `--master ${master} must start with https:// or http://`,
      field: "master",
    });
  }
  return { ...conn, server: withScheme.replace(/\/+$/, ""), source: `${conn.source}, --master ${m}` };
}
