/**
 * Long-running programs for end-to-end tests: the provider (main.ts) and `deno task sim` as child
 * processes, their output collected as it comes, stopped with SIGTERM (killed if they hang).
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

/** `deno run` of main.ts with the permissions of `deno task start`. */
export const mainArgs = [
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-run",
  `${root}main.ts`,
];

/** Where `program` is on PATH, or undefined (when it is not, or --allow-run does not cover it). */
export const programPath = (program: string): string | undefined => {
  try {
    if (Deno.permissions.querySync({ name: "run", command: program }).state !== "granted") return undefined;
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      try {
        if (dir && Deno.statSync(`${dir}/${program}`).isFile) return `${dir}/${program}`;
      } catch { /* not here */ }
    }
  } catch { /* no permission to look */ }
  return undefined;
};

/** A stream's text as it arrives. */
class Output {
  text = "";
  private ended = false;
  private readonly waiters = new Set<() => void>();
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      try {
        for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
          this.text += chunk;
          this.wake();
        }
      } catch { /* the stream broke: its text so far is all there is */ }
      this.ended = true;
      this.wake();
    })();
  }

  private wake() {
    for (const w of [...this.waiters]) w();
  }

  /** The first match of `re` in the output, waiting up to `timeoutMs` (real time) for it. */
  async until(re: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const m = re.exec(this.text);
      if (m) return m;
      const left = deadline - Date.now();
      if (this.ended || left <= 0) {
        throw new Error(`${what}: no ${re} in its output${this.ended ? " (it ended)" : ""}:\n${this.text}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }
}

export interface ChildProcess {
  /** The process id (for reading /proc/<pid>). */
  readonly pid: number;
  readonly stdout: Output;
  readonly stderr: Output;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with its exit status once its output has ended. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Starts `program` with piped output. */
export const spawn = (
  program: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): ChildProcess => {
  const child = new Deno.Command(program, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  let stopping: Promise<Deno.CommandStatus> | undefined;
  return {
    pid: child.pid,
    stdout,
    stderr,
    stop: (graceMs = 10_000) =>
      stopping ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const killer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone meanwhile */ }
        }, graceMs);
        const status = await child.status;
        clearTimeout(killer);
        await Promise.all([stdout.done, stderr.done]);
        return status;
      })(),
  };
};

/** The provider (main.ts) on a free port of 127.0.0.1, against the cluster of `kubeconfig`. */
export const startProviderProcess = async (
  kubeconfig: string,
  env: Record<string, string> = {},
): Promise<ChildProcess & { readonly url: string }> => {
  const child = spawn(Deno.execPath(), [...mainArgs, "--kubeconfig", kubeconfig], {
    env: { port: "0", host: "127.0.0.1", scaling: "false", ...env },
  });
  try {
    const [, url] = await child.stdout.until(
      /faas-provider API on (http:\/\/127\.0\.0\.1:\d+)/,
      60_000,
      "provider",
    );
    return { ...child, url };
  } catch (e) {
    await child.stop();
    throw new Error(`${(e as Error).message}\nstderr:\n${child.stderr.text}`);
  }
};

/** `deno task sim` with `args` (on a free port), once it has written its kubeconfig to `kubeconfig`. */
export const startSimTask = async (
  kubeconfig: string,
  args: string[] = [],
): Promise<ChildProcess & { readonly url: string }> => {
  const child = spawn(
    Deno.execPath(),
    ["task", "sim", "--port", "0", "--write-kubeconfig", kubeconfig, ...args],
    { cwd: root },
  );
  try {
    const [, url] = await child.stdout.until(/Kubernetes API on (http:\/\/127\.0\.0\.1:\d+)/, 60_000, "sim");
    await child.stdout.until(/^kubeconfig: /m, 10_000, "sim");
    return { ...child, url };
  } catch (e) {
    await child.stop();
    throw new Error(`${(e as Error).message}\nstderr:\n${child.stderr.text}`);
  }
};

/** Polls `f` (real time) until it returns a value that is not undefined, or fails after `timeoutMs`. */
export const eventually = async <T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what} did not happen within ${timeoutMs} ms${last ? `: ${last}` : ""}`);
};
