/**
 * A small POSIX-ish shell for the commands simulated function containers run
 * (a classic watchdog's `fprocess`). Pure apart from the injected sleep: no
 * real processes, files come from an in-memory map.
 *
 * Pipeline stages run one after another, each one's stdout feeding the next
 * one's stdin. Unquoted expansions are split on blanks. `exit` and `export` are
 * builtins; anything not in `coreutils.ts` is `sh: NAME: not found`, exit 127.
 */
import { concatBytes } from "../../../src/lib/bytes.ts";
import { type AndOr, parse, type Part, type Pipeline, ShellSyntaxError, type Word } from "./parse.ts";
import { type Files, type Io, Killed, Sink } from "./io.ts";
import { resolve } from "./coreutils.ts";

interface ShellOptions {
  /** Bytes on the first stage's stdin. */
  readonly stdin?: Uint8Array;
  /** The process environment, in order. */
  readonly env?: Readonly<Record<string, string>>;
  readonly files?: Files;
  /** Sleeps for `sleep N`; should resolve early (or never) once `signal` aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborting kills the shell: no further command starts, `run` resolves with status 137. */
  readonly signal?: AbortSignal;
}

export interface ShellResult {
  /** Exit status: 0..255, 137 when killed. */
  readonly status: number;
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  /** stdout and stderr interleaved in write order (Go's `CombinedOutput`). */
  readonly combined: Uint8Array;
}

/** Thrown by the `exit` builtin to unwind the current shell. */
class Exit {
  constructor(readonly status: number) {}
}

class Shell {
  private status = 0;
  constructor(private readonly vars: Map<string, string>) {}

  private expand(word: Word): string[] {
    const fields: string[] = [];
    let current = "";
    let has = false;
    for (const p of word) {
      if (p.kind === "lit") {
        current += p.text;
        has = true;
        continue;
      }
      const value = this.lookup(p.name);
      if (p.quoted) {
        current += value;
        has = true;
        continue;
      }
      const pieces = value.split(/[ \t\n]+/);
      pieces.forEach((piece, n) => {
        if (n > 0) {
          if (has) fields.push(current);
          current = "";
          has = false;
        }
        if (piece !== "") {
          current += piece;
          has = true;
        }
      });
    }
    if (has) fields.push(current);
    return fields;
  }

  private lookup(name: string): string {
    if (name === "?") return String(this.status);
    if (name === "$") return "1";
    if (name === "#") return "0";
    if (name === "0") return "sh";
    if (/^[0-9]$/.test(name)) return "";
    return this.vars.get(name) ?? "";
  }

  async run(src: string, io: Io): Promise<number> {
    let lists: AndOr[];
    try {
      lists = parse(src);
    } catch (e) {
      if (!(e instanceof ShellSyntaxError)) throw e;
      io.stderr.write(`sh: ${e.message}\n`);
      return 2;
    }
    try {
      for (const list of lists) {
        this.status = await this.pipeline(list.first, io);
        for (const { op, pipeline } of list.rest) {
          if ((op === "&&") === (this.status === 0)) this.status = await this.pipeline(pipeline, io);
        }
      }
    } catch (e) {
      if (e instanceof Exit) return e.status;
      throw e;
    }
    return this.status;
  }

  private async pipeline(p: Pipeline, io: Io): Promise<number> {
    let stdin = io.stdin;
    let status = 0;
    for (let n = 0; n < p.commands.length; n++) {
      const last = n === p.commands.length - 1;
      const stdout = last ? io.stdout : new Sink();
      status = await this.simple(p.commands[n], { ...io, stdin, stdout }, p.commands.length > 1);
      stdin = stdout.bytes();
    }
    return p.negate ? (status === 0 ? 1 : 0) : status;
  }

  private async simple(words: readonly Word[], io: Io, inPipeline: boolean): Promise<number> {
    if (io.signal.aborted) throw new Killed();
    const assignments: [string, string][] = [];
    let i = 0;
    for (; i < words.length; i++) {
      const w = words[i];
      const m = w[0]?.kind === "lit" ? /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(w[0].text) : null;
      if (!m) break;
      const rest: Part[] = [{ kind: "lit", text: w[0].kind === "lit" ? w[0].text.slice(m[0].length) : "" }];
      const value = this.expand(
        [...rest, ...w.slice(1)].map((p) => p.kind === "var" ? { ...p, quoted: true } : p),
      )
        .join(" ");
      assignments.push([m[1], value]);
    }
    const argv = words.slice(i).flatMap((w) => this.expand(w));
    if (argv.length === 0) {
      for (const [k, v] of assignments) this.vars.set(k, v);
      return 0;
    }
    const env = new Map(this.vars);
    for (const [k, v] of assignments) {
      env.delete(k);
      env.set(k, v);
    }
    const [name, ...args] = argv;
    // Builtins that affect the shell itself (in a pipeline they run in a subshell).
    if (name === "exit") {
      const status = args.length ? Number.parseInt(args[0], 10) & 255 : this.status;
      if (!inPipeline) throw new Exit(Number.isNaN(status) ? 2 : status);
      return Number.isNaN(status) ? 2 : status;
    }
    if (name === "export") {
      for (const a of args) {
        const eq = a.indexOf("=");
        if (eq > 0) this.vars.set(a.slice(0, eq), a.slice(eq + 1));
      }
      return 0;
    }
    const cmd = resolve(name);
    if (!cmd) {
      io.stderr.write(`sh: ${name}: not found\n`);
      return 127;
    }
    return await cmd(args, { ...io, env });
  }
}

export async function runShell(src: string, options: ShellOptions = {}): Promise<ShellResult> {
  const combined: Uint8Array[] = [];
  const stdout = new Sink(combined);
  const stderr = new Sink(combined);
  const signal = options.signal ?? new AbortController().signal;
  const io: Io = {
    stdin: options.stdin ?? new Uint8Array(),
    stdout,
    stderr,
    env: new Map(Object.entries(options.env ?? {})),
    files: options.files ?? new Map(),
    sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    signal,
    shell: (s, io) => new Shell(new Map(io.env)).run(s, io),
  };
  let status: number;
  try {
    status = await io.shell(src, io);
  } catch (e) {
    if (!(e instanceof Killed)) throw e;
    status = 137;
  }
  if (signal.aborted) status = 137;
  return { status, stdout: stdout.bytes(), stderr: stderr.bytes(), combined: concatBytes(combined) };
}
