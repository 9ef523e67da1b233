/**
 * Resolving a kubeconfig context into a {@link ClusterConnection}: the server URL,
 * the TLS material and an `auth()` that yields the request headers (bearer token,
 * token file, basic auth, or an exec credential plugin, refreshed as needed).
 */
import { decodeBase64Text, encodeBase64Text } from "../../lib/base64.ts";
import { fail, isObj, type KubeconfigDoc, type Obj } from "./document.ts";
import { type Env, findKubeconfigFiles, isPem, readKubeconfigs, readText } from "./files.ts";
import { TokenFileSource } from "./token.ts";
import { ExecCredentialSource, parseExecConfig } from "./exec.ts";

/** Everything HttpTransport needs to reach and authenticate to an API server. */
export interface ClusterConnection {
  /** e.g. `https://10.0.0.1:443` or `http://127.0.0.1:8080`, without a trailing slash. */
  readonly server: string;
  /** PEM bundle of extra trusted roots. */
  readonly caCert?: string;
  /** PEM client certificate (mutual TLS). */
  readonly clientCert?: string;
  /** PEM client key (mutual TLS). */
  readonly clientKey?: string;
  readonly insecureSkipTlsVerify: boolean;
  /**
   * Name to verify the server certificate against (and send as SNI) instead of the URL's host.
   * HttpTransport honours it through node:https (`nodefetch.ts`), as Deno's fetch cannot.
   */
  readonly tlsServerName?: string;
  /** Headers to add to every request (Authorization etc.); cached and refreshed as needed. */
  readonly auth: () => Promise<Record<string, string>>;
  /**
   * A client certificate that can change over time (exec plugins that return one);
   * when present it takes precedence over `clientCert`/`clientKey`.
   */
  readonly clientCertificate?: () => Promise<{ readonly cert: string; readonly key: string } | undefined>;
  /** Forgets cached credentials so the next `auth()` re-reads them (called after a 401). */
  readonly invalidate?: () => void;
  /** The context's (or the service account's) namespace. */
  readonly namespace?: string;
  /** Where the connection came from, for log lines, e.g. `kubeconfig /root/.kube/config, context "kind"`. */
  readonly source: string;
}

interface LoadKubeconfigOptions {
  /** An explicit kubeconfig file (`--kubeconfig`); it must exist. */
  readonly path?: string;
  /** A context name instead of `current-context`. */
  readonly context?: string;
  /** Environment for `KUBECONFIG` and `HOME` (default: the process environment). */
  readonly env?: Env;
  /** Clock for exec credential expiry and token file refresh (default `Date.now`). */
  readonly now?: () => number;
  /** How often a `tokenFile` is re-read, in ms (default 60 000). */
  readonly tokenFileRefreshMs?: number;
}

/** Finds, reads, merges and resolves a kubeconfig into a connection. Rejects with {@link KubeconfigError}. */
export async function loadKubeconfig(options: LoadKubeconfigOptions = {}): Promise<ClusterConnection> {
  const env = options.env ?? Deno.env.toObject();
  const files = await findKubeconfigFiles(options.path, env);
  const doc = await readKubeconfigs(files);
  return await resolveConnection(doc, { ...options, env });
}

const str = (o: Obj, key: string, file: string, what: string): string | undefined => {
  const v = o[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") fail(file, key, `kubeconfig ${file}: field ${key} of ${what} must be a string`);
  return v as string;
};

const base64Field = (data: string, file: string, field: string, what: string): string => {
  try {
    return decodeBase64Text(data);
  } catch {
    return fail(file, field, `kubeconfig ${file}: field ${field} of ${what} is not valid base64`);
  }
};

const checkPem = (pem: string, file: string, field: string, what: string): string => {
  if (!isPem(pem)) {
    fail(file, field, `kubeconfig ${file}: ${field} of ${what} is not PEM data (no -----BEGIN line)`);
  }
  return pem;
};

/** A PEM value from `<key>-data` (base64) or `<key>` (a file path, already absolute). */
const pemField = async (o: Obj, key: string, file: string, what: string): Promise<string | undefined> => {
  const data = str(o, `${key}-data`, file, what);
  if (data !== undefined) {
    return checkPem(base64Field(data, file, `${key}-data`, what), file, `${key}-data`, what);
  }
  const path = str(o, key, file, what);
  if (path !== undefined) return checkPem(await readText(path, file, key, what), file, key, what);
  return undefined;
};

interface ResolveOptions {
  readonly context?: string;
  readonly env?: Env;
  readonly now?: () => number;
  readonly tokenFileRefreshMs?: number;
}

/** Resolves a context of a parsed kubeconfig into a connection. Rejects with {@link KubeconfigError}. */
async function resolveConnection(
  doc: KubeconfigDoc,
  options: ResolveOptions = {},
): Promise<ClusterConnection> {
  const now = options.now ?? Date.now;
  const where = doc.files.join(":");
  const contextName = options.context ?? doc.currentContext;
  if (contextName === undefined) {
    return fail(
      where,
      "current-context",
      `kubeconfig ${where} has no current-context; set one (kubectl config use-context) or name a context`,
    );
  }
  const ctx = doc.contexts.find((c) => c.name === contextName);
  if (ctx === undefined) {
    return fail(where, "contexts", `kubeconfig ${where} has no context named "${contextName}"`);
  }
  const ctxWhat = `context "${ctx.name}"`;
  const clusterName = str(ctx.value, "cluster", ctx.file, ctxWhat);
  if (clusterName === undefined) {
    return fail(ctx.file, "cluster", `kubeconfig ${ctx.file}: ${ctxWhat} has no cluster field`);
  }
  const cluster = doc.clusters.find((c) => c.name === clusterName);
  if (cluster === undefined) {
    return fail(
      ctx.file,
      "cluster",
      `kubeconfig ${ctx.file}: ${ctxWhat} refers to cluster "${clusterName}", which is not defined`,
    );
  }
  const userName = str(ctx.value, "user", ctx.file, ctxWhat);
  const user = userName === undefined ? undefined : doc.users.find((u) => u.name === userName);
  if (userName !== undefined && user === undefined) {
    return fail(
      ctx.file,
      "user",
      `kubeconfig ${ctx.file}: ${ctxWhat} refers to user "${userName}", which is not defined`,
    );
  }

  const c = cluster.value;
  const cWhat = `cluster "${cluster.name}"`;
  const server = str(c, "server", cluster.file, cWhat);
  if (server === undefined) {
    return fail(cluster.file, "server", `kubeconfig ${cluster.file}: ${cWhat} has no server field`);
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail(
      cluster.file,
      "server",
      `kubeconfig ${cluster.file}: server ${JSON.stringify(server)} of ${cWhat} is not a URL`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return fail(
      cluster.file,
      "server",
      `kubeconfig ${cluster.file}: server ${server} of ${cWhat} must start with https:// or http://`,
    );
  }
  const caCert = await pemField(c, "certificate-authority", cluster.file, cWhat);
  const insecure = c["insecure-skip-tls-verify"] === true || c["insecure-skip-tls-verify"] === "true";
  const tlsServerName = str(c, "tls-server-name", cluster.file, cWhat);

  const headers: Record<string, string> = {};
  let clientCert: string | undefined;
  let clientKey: string | undefined;
  let dynamicAuth: (() => Promise<Record<string, string>>) | undefined;
  let clientCertificate: ClusterConnection["clientCertificate"];
  let invalidate: (() => void) | undefined;

  if (user !== undefined) {
    const u = user.value;
    const uWhat = `user "${user.name}"`;
    clientCert = await pemField(u, "client-certificate", user.file, uWhat);
    clientKey = await pemField(u, "client-key", user.file, uWhat);
    if ((clientCert === undefined) !== (clientKey === undefined)) {
      const missing = clientCert === undefined ? "client-certificate" : "client-key";
      return fail(
        user.file,
        missing,
        `kubeconfig ${user.file}: ${uWhat} has a client ${
          clientCert === undefined ? "key" : "certificate"
        } but no ${missing} or ${missing}-data`,
      );
    }
    const as = str(u, "as", user.file, uWhat);
    if (as !== undefined) headers["Impersonate-User"] = as;

    const token = str(u, "token", user.file, uWhat);
    const tokenFile = str(u, "tokenFile", user.file, uWhat);
    const username = str(u, "username", user.file, uWhat);
    const password = str(u, "password", user.file, uWhat);
    if (tokenFile !== undefined) {
      const source = new TokenFileSource(tokenFile, now, options.tokenFileRefreshMs ?? 60_000, token);
      await source.load((e) =>
        fail(user.file, "tokenFile", `kubeconfig ${user.file}: tokenFile ${tokenFile} of ${uWhat} ${e}`)
      );
      dynamicAuth = async () => ({ Authorization: `Bearer ${await source.get()}` });
      invalidate = () => source.invalidate();
    } else if (token !== undefined) {
      headers.Authorization = `Bearer ${token}`;
    } else if (u.exec !== undefined && u.exec !== null) {
      const plugin = new ExecCredentialSource(
        parseExecConfig(u.exec, user.file, uWhat),
        {
          file: user.file,
          what: uWhat,
          now,
          cluster: { server, tlsServerName, insecure, caCert, extensions: c },
        },
      );
      dynamicAuth = async (): Promise<Record<string, string>> => {
        const cred = await plugin.get();
        return cred.token !== undefined ? { Authorization: `Bearer ${cred.token}` } : {};
      };
      clientCertificate = async () => {
        const cred = await plugin.get();
        return cred.cert !== undefined && cred.key !== undefined
          ? { cert: cred.cert, key: cred.key }
          : undefined;
      };
      invalidate = () => plugin.invalidate();
    } else if (isObj(u["auth-provider"])) {
      const ap = u["auth-provider"];
      const cfg = isObj(ap.config) ? ap.config : {};
      const bearer = typeof cfg["id-token"] === "string" && cfg["id-token"] !== ""
        ? cfg["id-token"]
        : typeof cfg["access-token"] === "string" && cfg["access-token"] !== ""
        ? cfg["access-token"]
        : undefined;
      if (bearer === undefined) {
        return fail(
          user.file,
          "auth-provider",
          `kubeconfig ${user.file}: auth-provider ${
            JSON.stringify(ap.name ?? "")
          } of ${uWhat} has no id-token or access-token; use an exec credential plugin instead`,
        );
      }
      headers.Authorization = `Bearer ${bearer}`;
    } else if (username !== undefined || password !== undefined) {
      if (username === undefined || password === undefined) {
        const missing = username === undefined ? "username" : "password";
        return fail(
          user.file,
          missing,
          `kubeconfig ${user.file}: ${uWhat} has basic auth without a ${missing}`,
        );
      }
      headers.Authorization = `Basic ${encodeBase64Text(`${username}:${password}`)}`;
    }
  }

  const fixed = { ...headers };
  const auth = dynamicAuth === undefined
    ? () => Promise.resolve({ ...fixed })
    : async () => ({ ...fixed, ...(await dynamicAuth!()) });
  const ns = str(ctx.value, "namespace", ctx.file, ctxWhat);
  return {
    server: server.replace(/\/+$/, ""),
    caCert,
    clientCert,
    clientKey,
    insecureSkipTlsVerify: insecure,
    tlsServerName,
    auth,
    clientCertificate,
    invalidate,
    namespace: ns,
    source: `kubeconfig ${where}, context "${ctx.name}"`,
  };
}
