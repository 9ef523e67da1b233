/**
 * Exec credential plugins (`client.authentication.k8s.io/v1` and `v1beta1`):
 * the `exec` stanza of a kubeconfig user, and running the plugin for a token or
 * client certificate that is cached until it expires or the server answers 401.
 */
import { encodeBase64Text } from "../../lib/base64.ts";
import { fail, isObj, KubeconfigError, type Obj } from "./document.ts";

const EXEC_API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

interface ExecConfig {
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly installHint?: string;
  readonly provideClusterInfo: boolean;
  readonly interactiveMode?: string;
}

/** Validates a user's `exec` stanza. */
export const parseExecConfig = (raw: unknown, file: string, what: string): ExecConfig => {
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

interface ExecCredential {
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
