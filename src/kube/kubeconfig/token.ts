/** A bearer token kept in a file (a kubeconfig `tokenFile` or a service-account token), re-read as it rotates. */
import { KubeconfigError } from "./document.ts";
import { fileProblem } from "./files.ts";

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
