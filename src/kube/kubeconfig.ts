/**
 * Kubeconfig loading: finds the file(s) (explicit path, `KUBECONFIG`, or
 * `~/.kube/config`), merges them the way kubectl does, resolves a context and
 * turns it into a {@link ClusterConnection}: the server URL, the TLS material
 * and an `auth()` that yields the request headers (bearer token, token file,
 * basic auth, or an exec credential plugin, refreshed as needed).
 */
import YAML from "yaml";
import { Data } from "effect";
import { decodeBase64Text, encodeBase64Text } from "../base64.ts";

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

/** A kubeconfig (or in-cluster configuration) that cannot be used; the message names the file and field. */
export class KubeconfigError extends Data.TaggedError("KubeconfigError")<{
  readonly message: string;
  readonly file?: string;
  readonly field?: string;
  /** Set when no kubeconfig file was found at all (as opposed to one that is broken). */
  readonly notFound?: boolean;
}> {}

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadKubeconfigOptions {
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

// ---------------------------------------------------------------------------
// Parsed document
// ---------------------------------------------------------------------------

type Obj = Record<string, unknown>;

interface Named {
  readonly name: string;
  readonly value: Obj;
  /** The file that defined it (relative paths in it are already absolute). */
  readonly file: string;
}

/** One or more kubeconfig files, merged. */
export interface KubeconfigDoc {
  readonly files: readonly string[];
  readonly currentContext?: string;
  readonly clusters: readonly Named[];
  readonly users: readonly Named[];
  readonly contexts: readonly Named[];
}

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const fail = (file: string, field: string | undefined, message: string): never => {
  throw new KubeconfigError({ message, file, field });
};

const notFound = (file: string, message: string): never => {
  throw new KubeconfigError({ message, file, notFound: true });
};

export const dirname = (p: string): string => {
  const i = p.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return p.slice(0, i);
};

const isAbsolute = (p: string) => p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p);

/** `p` relative to `dir` unless absolute. */
export const resolvePath = (dir: string, p: string): string =>
  isAbsolute(p) ? p : `${dir === "/" ? "" : dir.replace(/\/+$/, "")}/${p.replace(/^\.\//, "")}`;

const expandHome = (p: string, env: Env): string => {
  const home = env.HOME ?? env.USERPROFILE;
  if (home && (p === "~" || p.startsWith("~/"))) return home + p.slice(1);
  return p;
};

const str = (o: Obj, key: string, file: string, what: string): string | undefined => {
  const v = o[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") fail(file, key, `kubeconfig ${file}: field ${key} of ${what} must be a string`);
  return v as string;
};

/** The named list `key` (clusters/users/contexts) with each entry's body (`cluster`/`user`/`context`). */
const namedList = (doc: Obj, key: string, body: string, file: string): Named[] => {
  const list = doc[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) fail(file, key, `kubeconfig ${file}: field ${key} must be a list`);
  return (list as unknown[]).map((item, i) => {
    if (!isObj(item) || typeof item.name !== "string" || item.name === "") {
      return fail(file, `${key}[${i}].name`, `kubeconfig ${file}: entry ${i} of ${key} has no name`);
    }
    const value = item[body] ?? {};
    if (!isObj(value)) {
      return fail(
        file,
        `${key}[${i}].${body}`,
        `kubeconfig ${file}: ${body} "${item.name}" must be a mapping`,
      );
    }
    return { name: item.name, value, file };
  });
};

/** Makes the file references of a cluster or user entry absolute, relative to the kubeconfig's directory. */
const absolutize = (entry: Named, keys: readonly string[]): Named => {
  const dir = dirname(entry.file);
  const value: Obj = { ...entry.value };
  for (const k of keys) {
    if (typeof value[k] === "string" && value[k] !== "") value[k] = resolvePath(dir, value[k] as string);
  }
  // client-go resolves an exec command only when it is a path, not a name looked up in PATH.
  if (isObj(value.exec) && typeof value.exec.command === "string" && value.exec.command.includes("/")) {
    value.exec = { ...value.exec, command: resolvePath(dir, value.exec.command) };
  }
  return { ...entry, value };
};

/** Parses one kubeconfig file's text; relative file references become absolute against its directory. */
export function parseKubeconfig(text: string, file: string): KubeconfigDoc {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    const first = String((e as Error).message ?? e).split("\n")[0];
    return fail(file, undefined, `kubeconfig ${file} is not valid YAML: ${first}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) return fail(file, undefined, `kubeconfig ${file} must be a YAML mapping`);
  const cc = doc["current-context"];
  return {
    files: [file],
    currentContext: typeof cc === "string" && cc !== "" ? cc : undefined,
    clusters: namedList(doc, "clusters", "cluster", file).map((c) =>
      absolutize(c, ["certificate-authority"])
    ),
    users: namedList(doc, "users", "user", file).map((u) =>
      absolutize(u, ["client-certificate", "client-key", "tokenFile"])
    ),
    contexts: namedList(doc, "contexts", "context", file),
  };
}

/** Merges kubeconfigs with kubectl's rules: the first file to define a name (or current-context) wins. */
export function mergeKubeconfigs(docs: readonly KubeconfigDoc[]): KubeconfigDoc {
  const firstByName = (lists: (readonly Named[])[]) => {
    const seen = new Map<string, Named>();
    for (const list of lists) for (const n of list) if (!seen.has(n.name)) seen.set(n.name, n);
    return [...seen.values()];
  };
  return {
    files: docs.flatMap((d) => d.files),
    currentContext: docs.find((d) => d.currentContext !== undefined)?.currentContext,
    clusters: firstByName(docs.map((d) => d.clusters)),
    users: firstByName(docs.map((d) => d.users)),
    contexts: firstByName(docs.map((d) => d.contexts)),
  };
}

// ---------------------------------------------------------------------------
// Finding and reading files
// ---------------------------------------------------------------------------

const exists = async (p: string): Promise<boolean> => {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
};

/** Why a file could not be read, as the end of a sentence: "does not exist", "cannot be read (...)". */
export const fileProblem = (e: unknown): string =>
  e instanceof Deno.errors.NotFound ? "does not exist" : `cannot be read (${(e as Error).message})`;

/** PEM data has at least one `-----BEGIN` line. */
export const isPem = (text: string): boolean => text.includes("-----BEGIN");

const readText = async (p: string, file: string, field: string, what: string): Promise<string> => {
  try {
    return await Deno.readTextFile(p);
  } catch (e) {
    return fail(file, field, `kubeconfig ${file}: ${what} ${field} file ${p} ${fileProblem(e)}`);
  }
};

/**
 * The kubeconfig file(s) to load: the explicit path (which must exist), else the existing
 * files of `KUBECONFIG` (a `:`-separated list), else `~/.kube/config`.
 */
export async function findKubeconfigFiles(path: string | undefined, env: Env): Promise<string[]> {
  if (path !== undefined && path !== "") {
    const p = expandHome(path, env);
    if (!(await exists(p))) {
      notFound(p, `kubeconfig file ${p} (from --kubeconfig) does not exist or is not a file`);
    }
    return [p];
  }
  const list = env.KUBECONFIG;
  if (list !== undefined && list !== "") {
    const candidates = [...new Set(list.split(":").filter((p) => p !== "").map((p) => expandHome(p, env)))];
    const found: string[] = [];
    for (const p of candidates) if (await exists(p)) found.push(p);
    if (found.length === 0) {
      notFound(list, `none of the kubeconfig files in KUBECONFIG=${list} exists`);
    }
    return found;
  }
  const home = env.HOME ?? env.USERPROFILE;
  if (!home) {
    return notFound(
      "~/.kube/config",
      "no kubeconfig found: --kubeconfig is not given, KUBECONFIG is unset and HOME is unset",
    );
  }
  const p = `${home.replace(/\/+$/, "")}/.kube/config`;
  if (!(await exists(p))) {
    notFound(
      p,
      `no kubeconfig found: --kubeconfig is not given, KUBECONFIG is unset and ${p} does not exist`,
    );
  }
  return [p];
}

/** Reads and merges kubeconfig files. */
export async function readKubeconfigs(files: readonly string[]): Promise<KubeconfigDoc> {
  const docs: KubeconfigDoc[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(f);
    } catch (e) {
      return fail(f, undefined, `kubeconfig ${f} cannot be read: ${(e as Error).message}`);
    }
    docs.push(parseKubeconfig(text, f));
  }
  return mergeKubeconfigs(docs);
}

/** Finds, reads, merges and resolves a kubeconfig into a connection. Rejects with {@link KubeconfigError}. */
export async function loadKubeconfig(options: LoadKubeconfigOptions = {}): Promise<ClusterConnection> {
  const env = options.env ?? Deno.env.toObject();
  const files = await findKubeconfigFiles(options.path, env);
  const doc = await readKubeconfigs(files);
  return await resolveConnection(doc, { ...options, env });
}

// ---------------------------------------------------------------------------
// Resolving a context
// ---------------------------------------------------------------------------

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

export interface ResolveOptions {
  readonly context?: string;
  readonly env?: Env;
  readonly now?: () => number;
  readonly tokenFileRefreshMs?: number;
}

/** Resolves a context of a parsed kubeconfig into a connection. Rejects with {@link KubeconfigError}. */
export async function resolveConnection(
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

// ---------------------------------------------------------------------------
// Token files
// ---------------------------------------------------------------------------

/** A bearer token read from a file, re-read at most every `refreshMs` or after `invalidate()`. */
export class TokenFileSource {
  #token: string | undefined;
  #readAt = -Infinity;

  constructor(
    readonly path: string,
    private readonly now: () => number,
    private readonly refreshMs: number,
    /** Used when the file cannot be read after start-up and nothing was read before. */
    private readonly fallback?: string,
  ) {}

  /** First read; `onError` describes the failure (e.g. "does not exist") and throws. */
  async load(onError: (why: string) => never): Promise<void> {
    try {
      await this.#read();
    } catch (e) {
      if (this.fallback !== undefined) return;
      onError(e instanceof EmptyToken ? "is empty" : fileProblem(e));
    }
  }

  async #read(): Promise<string> {
    const t = (await Deno.readTextFile(this.path)).trim();
    if (t === "") throw new EmptyToken();
    this.#token = t;
    this.#readAt = this.now();
    return t;
  }

  /** The current token: cached, re-read when older than `refreshMs`; the last good value on a read failure. */
  async get(): Promise<string> {
    if (this.#token !== undefined && this.now() - this.#readAt < this.refreshMs) return this.#token;
    try {
      return await this.#read();
    } catch (e) {
      const last = this.#token ?? this.fallback;
      if (last !== undefined) return last;
      throw new KubeconfigError({
        message: `token file ${this.path} cannot be read: ${(e as Error).message}`,
        file: this.path,
      });
    }
  }

  invalidate(): void {
    this.#readAt = -Infinity;
  }
}

class EmptyToken extends Error {}

// ---------------------------------------------------------------------------
// Exec credential plugins
// ---------------------------------------------------------------------------

const EXEC_API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

export interface ExecConfig {
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly installHint?: string;
  readonly provideClusterInfo: boolean;
  readonly interactiveMode?: string;
}

const parseExecConfig = (raw: unknown, file: string, what: string): ExecConfig => {
  if (!isObj(raw)) return fail(file, "exec", `kubeconfig ${file}: exec of ${what} must be a mapping`);
  const apiVersion = raw.apiVersion;
  if (typeof apiVersion !== "string" || !EXEC_API_VERSIONS.includes(apiVersion)) {
    return fail(
      file,
      "exec.apiVersion",
      `kubeconfig ${file}: exec.apiVersion of ${what} is ${JSON.stringify(apiVersion ?? null)}; expected ${
        EXEC_API_VERSIONS.join(" or ")
      }`,
    );
  }
  const command = raw.command;
  if (typeof command !== "string" || command === "") {
    return fail(file, "exec.command", `kubeconfig ${file}: exec of ${what} has no command`);
  }
  const args = raw.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) {
    return fail(file, "exec.args", `kubeconfig ${file}: exec.args of ${what} must be a list of strings`);
  }
  const env: Record<string, string> = {};
  const rawEnv = raw.env ?? [];
  if (!Array.isArray(rawEnv)) {
    return fail(
      file,
      "exec.env",
      `kubeconfig ${file}: exec.env of ${what} must be a list of name/value pairs`,
    );
  }
  for (const e of rawEnv) {
    if (!isObj(e) || typeof e.name !== "string" || e.name === "") {
      return fail(file, "exec.env", `kubeconfig ${file}: exec.env of ${what} has an entry without a name`);
    }
    env[e.name] = e.value === undefined || e.value === null ? "" : String(e.value);
  }
  return {
    apiVersion,
    command,
    args: args as string[],
    env,
    installHint: typeof raw.installHint === "string" ? raw.installHint : undefined,
    provideClusterInfo: raw.provideClusterInfo === true,
    interactiveMode: typeof raw.interactiveMode === "string" ? raw.interactiveMode : undefined,
  };
};

export interface ExecCredential {
  readonly token?: string;
  readonly cert?: string;
  readonly key?: string;
  /** Epoch ms; undefined: valid until a 401. */
  readonly expiresAt?: number;
}

interface ExecContext {
  readonly file: string;
  readonly what: string;
  readonly now: () => number;
  readonly cluster: {
    readonly server: string;
    readonly tlsServerName?: string;
    readonly insecure: boolean;
    readonly caCert?: string;
    readonly extensions: Obj;
  };
}

/** Runs an exec credential plugin and caches its credential until `expirationTimestamp` (or a 401). */
export class ExecCredentialSource {
  #cached: ExecCredential | undefined;
  #inflight: Promise<ExecCredential> | undefined;
  /** How many times the plugin ran (for tests and logs). */

  constructor(readonly config: ExecConfig, private readonly ctx: ExecContext) {}

  get(): Promise<ExecCredential> {
    const c = this.#cached;
    if (c !== undefined && (c.expiresAt === undefined || this.ctx.now() < c.expiresAt)) {
      return Promise.resolve(c);
    }
    this.#inflight ??= this.#run().then(
      (cred) => {
        this.#cached = cred;
        this.#inflight = undefined;
        return cred;
      },
      (e) => {
        this.#inflight = undefined;
        throw e;
      },
    );
    return this.#inflight;
  }

  invalidate(): void {
    this.#cached = undefined;
  }

  #error(message: string, field = "exec"): never {
    throw new KubeconfigError({
      message:
        `kubeconfig ${this.ctx.file}: exec plugin ${this.config.command} of ${this.ctx.what} ${message}`,
      file: this.ctx.file,
      field,
    });
  }

  #execInfo(): string {
    const spec: Obj = { interactive: false };
    if (this.config.provideClusterInfo) {
      const cl = this.ctx.cluster;
      const cluster: Obj = { server: cl.server, "insecure-skip-tls-verify": cl.insecure };
      if (cl.tlsServerName !== undefined) cluster["tls-server-name"] = cl.tlsServerName;
      if (cl.caCert !== undefined) cluster["certificate-authority-data"] = encodeBase64Text(cl.caCert);
      const ext = cl.extensions.extensions;
      if (Array.isArray(ext)) {
        const mine = ext.find((e) => isObj(e) && e.name === "client.authentication.k8s.io/exec");
        if (isObj(mine) && mine.extension !== undefined) cluster.config = mine.extension;
      }
      spec.cluster = cluster;
    }
    return JSON.stringify({ apiVersion: this.config.apiVersion, kind: "ExecCredential", spec });
  }

  async #run(): Promise<ExecCredential> {
    if (this.config.interactiveMode === "Always") {
      this.#error("requires an interactive terminal (interactiveMode: Always), which a server does not have");
    }
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(this.config.command, {
        args: [...this.config.args],
        env: { ...this.config.env, KUBERNETES_EXEC_INFO: this.#execInfo() },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        this.#error(`was not found${this.config.installHint ? `: ${this.config.installHint.trim()}` : ""}`);
      }
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        this.#error(`cannot be run: ${(e as Error).message} (run with --allow-run)`);
      }
      this.#error(`cannot be run: ${(e as Error).message}`);
    }
    const stdout = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      const stderr = new TextDecoder().decode(out.stderr).trim().slice(0, 500);
      this.#error(`exited with code ${out.code}${stderr ? `: ${stderr}` : ""}`);
    }
    let cred: unknown;
    try {
      cred = JSON.parse(stdout);
    } catch {
      this.#error("did not print an ExecCredential JSON object");
    }
    if (!isObj(cred) || cred.kind !== "ExecCredential") {
      this.#error("printed JSON that is not an ExecCredential (kind must be ExecCredential)");
    }
    const c = cred as Obj;
    if (c.apiVersion !== this.config.apiVersion) {
      this.#error(
        `printed apiVersion ${
          JSON.stringify(c.apiVersion ?? null)
        }, but the kubeconfig asks for ${this.config.apiVersion}`,
        "exec.apiVersion",
      );
    }
    const status = isObj(c.status) ? c.status : this.#error("printed an ExecCredential without a status");
    const token = typeof status.token === "string" && status.token !== "" ? status.token : undefined;
    const cert = typeof status.clientCertificateData === "string" && status.clientCertificateData !== ""
      ? status.clientCertificateData
      : undefined;
    const key = typeof status.clientKeyData === "string" && status.clientKeyData !== ""
      ? status.clientKeyData
      : undefined;
    if ((cert === undefined) !== (key === undefined)) {
      this.#error("printed only one of clientCertificateData and clientKeyData");
    }
    if (token === undefined && cert === undefined) {
      this.#error("printed an ExecCredential with neither status.token nor status.clientCertificateData");
    }
    let expiresAt: number | undefined;
    if (status.expirationTimestamp !== undefined && status.expirationTimestamp !== null) {
      expiresAt = typeof status.expirationTimestamp === "string"
        ? Date.parse(status.expirationTimestamp)
        : Number.NaN;
      if (Number.isNaN(expiresAt)) {
        this.#error(
          `printed an invalid status.expirationTimestamp ${JSON.stringify(status.expirationTimestamp)}`,
        );
      }
    }
    return { token, cert, key, expiresAt };
  }
}
