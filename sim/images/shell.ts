/**
 * A small POSIX-ish shell for the commands simulated function containers run
 * (a classic watchdog's `fprocess`). Pure apart from the injected sleep: no
 * real processes, files come from an in-memory map.
 *
 * Supported syntax: words with 'single', "double" (with `$VAR`, `${VAR}`,
 * `$?`, backslash escapes) and unquoted parts, `NAME=value` prefixes, pipelines
 * `a | b` (stages run one after another, each one's stdout feeding the next one's
 * stdin), lists with `;`, `&&` and `||`, leading `!`, and `# comments`. Unquoted
 * expansions are split on blanks. Not supported (a syntax error, exit 2):
 * redirections, subshells, globbing, here-documents, control flow.
 *
 * Commands (GNU coreutils output formats): `cat`, `env`, `printenv`, `echo`,
 * `sha512sum`, `sha384sum`, `sha256sum`, `sha1sum`, `md5sum`, `wc`, `base64`,
 * `true`, `false`, `sleep`, `exit`, `head`, `tr`, `rev`, `ls`, `hostname`,
 * `sh -c`, `export`, `cd`, `:`. Anything else: `sh: NAME: not found`, exit 127.
 * A command may be named by a path in a standard bin directory (`/bin/cat`).
 */
import { createHash } from "node:crypto";
import { concatBytes } from "../../src/bytes.ts";

/** A simulated file system: absolute path -> contents. */
export type Files = ReadonlyMap<string, Uint8Array>;

export interface ShellOptions {
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const utf8 = (s: string) => encoder.encode(s);

/** Where a command writes. */
class Sink {
  readonly chunks: Uint8Array[] = [];
  constructor(private readonly tee?: Uint8Array[]) {}
  write(b: Uint8Array | string) {
    const bytes = typeof b === "string" ? utf8(b) : b;
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.tee?.push(bytes);
  }
  bytes(): Uint8Array {
    return concatBytes(this.chunks);
  }
}

// ---------------------------------------------------------------------------
// Parsing

type Part =
  | { readonly kind: "lit"; readonly text: string }
  | { readonly kind: "var"; readonly name: string; readonly quoted: boolean };
type Word = readonly Part[];
type Op = "|" | "||" | "&&" | ";";
type Token = { readonly word: Word } | { readonly op: Op };

export class ShellSyntaxError extends Error {}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let parts: Part[] | undefined;
  const lit = (text: string) => {
    parts ??= [];
    const last = parts[parts.length - 1];
    if (last?.kind === "lit") parts[parts.length - 1] = { kind: "lit", text: last.text + text };
    else parts.push({ kind: "lit", text });
  };
  const endWord = () => {
    if (parts) tokens.push({ word: parts });
    parts = undefined;
  };
  /** Reads `$...` at src[i] (a `$`), pushes the part, returns the new index. */
  const dollar = (quoted: boolean): void => {
    const next = src[i + 1];
    if (next === "{") {
      const close = src.indexOf("}", i + 2);
      if (close < 0) throw new ShellSyntaxError("bad substitution");
      const name = src.slice(i + 2, close);
      if (!/^([A-Za-z_][A-Za-z0-9_]*|\?|\$|#|[0-9])$/.test(name)) {
        throw new ShellSyntaxError("bad substitution");
      }
      (parts ??= []).push({ kind: "var", name, quoted });
      i = close + 1;
      return;
    }
    if (next === "?" || next === "$" || next === "#" || (next !== undefined && /[0-9]/.test(next))) {
      (parts ??= []).push({ kind: "var", name: next, quoted });
      i += 2;
      return;
    }
    NAME.lastIndex = i + 1;
    const m = NAME.exec(src);
    if (!m) {
      lit("$");
      i++;
      return;
    }
    (parts ??= []).push({ kind: "var", name: m[0], quoted });
    i += 1 + m[0].length;
  };
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\n") {
      endWord();
      if (c === "\n") tokens.push({ op: ";" });
      i++;
    } else if (c === "#" && !parts) {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "|" || c === "&" || c === ";") {
      endWord();
      const two = src.slice(i, i + 2);
      if (two === "||" || two === "&&") {
        tokens.push({ op: two });
        i += 2;
      } else if (c === "&") {
        throw new ShellSyntaxError("background jobs (&) are not supported");
      } else {
        tokens.push({ op: c as Op });
        i++;
      }
    } else if (c === "<" || c === ">" || c === "(" || c === ")" || c === "`") {
      throw new ShellSyntaxError(`unexpected "${c}" (not supported by the simulator)`);
    } else if (c === "'") {
      const close = src.indexOf("'", i + 1);
      if (close < 0) throw new ShellSyntaxError("unterminated quoted string");
      lit(src.slice(i + 1, close));
      i = close + 1;
    } else if (c === '"') {
      parts ??= [];
      i++;
      for (;;) {
        if (i >= src.length) throw new ShellSyntaxError("unterminated quoted string");
        const d = src[i];
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\" && i + 1 < src.length && '$`"\\\n'.includes(src[i + 1])) {
          if (src[i + 1] !== "\n") lit(src[i + 1]);
          i += 2;
        } else if (d === "$") {
          dollar(true);
        } else {
          lit(d);
          i++;
        }
      }
    } else if (c === "\\") {
      if (i + 1 < src.length && src[i + 1] !== "\n") lit(src[i + 1]);
      i += 2;
    } else if (c === "$") {
      dollar(false);
    } else {
      lit(c);
      i++;
    }
  }
  endWord();
  return tokens;
}

interface Pipeline {
  readonly negate: boolean;
  readonly commands: readonly (readonly Word[])[];
}
interface AndOr {
  readonly first: Pipeline;
  readonly rest: readonly { readonly op: "&&" | "||"; readonly pipeline: Pipeline }[];
}

/** Parses a command line into lists of and/or chains. Throws ShellSyntaxError. */
function parse(src: string): AndOr[] {
  const tokens = tokenize(src);
  const lists: AndOr[] = [];
  let i = 0;
  const isOp = (t: Token | undefined, op?: Op): t is { op: Op } =>
    t !== undefined && "op" in t && (op === undefined || t.op === op);
  const isBang = (t: Token | undefined) =>
    t !== undefined && "word" in t && t.word.length === 1 && t.word[0].kind === "lit" &&
    t.word[0].text === "!";
  const pipeline = (): Pipeline => {
    let negate = false;
    if (isBang(tokens[i])) {
      negate = true;
      i++;
    }
    const commands: Word[][] = [];
    for (;;) {
      const words: Word[] = [];
      while (i < tokens.length && !isOp(tokens[i])) words.push((tokens[i++] as { word: Word }).word);
      if (words.length === 0) {
        const t = tokens[i];
        throw new ShellSyntaxError(`syntax error: unexpected ${isOp(t) ? `"${t.op}"` : "end of file"}`);
      }
      commands.push(words);
      if (isOp(tokens[i], "|")) i++;
      else break;
    }
    return { negate, commands };
  };
  while (i < tokens.length) {
    if (isOp(tokens[i], ";")) {
      i++;
      continue;
    }
    const first = pipeline();
    const rest: { op: "&&" | "||"; pipeline: Pipeline }[] = [];
    while (isOp(tokens[i], "&&") || isOp(tokens[i], "||")) {
      const op = (tokens[i++] as { op: "&&" | "||" }).op;
      rest.push({ op, pipeline: pipeline() });
    }
    lists.push({ first, rest });
    if (i < tokens.length && !isOp(tokens[i], ";")) {
      throw new ShellSyntaxError(`syntax error: unexpected "${(tokens[i] as { op: Op }).op}"`);
    }
  }
  return lists;
}

// ---------------------------------------------------------------------------
// Running

interface Io {
  readonly stdin: Uint8Array;
  readonly stdout: Sink;
  readonly stderr: Sink;
  /** Variables visible to the command (exported environment). */
  readonly env: Map<string, string>;
  readonly files: Files;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal: AbortSignal;
  /** For `sh -c`. */
  readonly shell: (src: string, io: Io) => Promise<number>;
}

type Command = (args: string[], io: Io) => Promise<number> | number;

/** Thrown by the `exit` builtin to unwind the current shell. */
class Exit {
  constructor(readonly status: number) {}
}
/** Thrown when the shell is killed. */
class Killed {}

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

const binDirs = ["/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/", "/usr/local/sbin/"];

function resolve(name: string): Command | undefined {
  let base = name;
  if (name.includes("/")) {
    const dir = binDirs.find((d) => name.startsWith(d) && !name.slice(d.length).includes("/"));
    if (!dir) return undefined;
    base = name.slice(dir.length);
  }
  return Object.hasOwn(commands, base) ? commands[base] : undefined;
}

/** Runs a command line. Never throws for command failures; only for bugs. */
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

// ---------------------------------------------------------------------------
// Commands

const isSpace = (b: number) => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** Reads FILE arguments (`-` is stdin) in order; reports missing ones as `prog: FILE: ...`. */
function readInputs(
  prog: string,
  names: readonly string[],
  io: Io,
): { inputs: { name: string; data: Uint8Array | undefined; regular: boolean }[]; failed: boolean } {
  let failed = false;
  const list = names.length ? names : ["-"];
  const inputs = list.map((name) => {
    if (name === "-") return { name, data: io.stdin, regular: false };
    const data = io.files.get(name);
    if (data) return { name, data, regular: true };
    failed = true;
    const isDir = [...io.files.keys()].some((k) => k.startsWith(name.endsWith("/") ? name : `${name}/`));
    io.stderr.write(`${prog}: ${name}: ${isDir ? "Is a directory" : "No such file or directory"}\n`);
    return { name, data: undefined, regular: false };
  });
  return { inputs, failed };
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

const digest =
  (prog: string, algorithm: "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512" | "MD5"): Command =>
  async (args, io) => {
    const names = args.filter((a) => a !== "--");
    const { inputs, failed } = readInputs(prog, names, io);
    for (const { name, data } of inputs) {
      if (!data) continue;
      const sum = algorithm === "MD5"
        ? createHash("md5").update(data).digest("hex")
        : hex(new Uint8Array(await crypto.subtle.digest(algorithm, data as Uint8Array<ArrayBuffer>)));
      io.stdout.write(`${sum}  ${name}\n`);
    }
    return failed ? 1 : 0;
  };

/** Parses `-n N`, `-nN`, `-N` and `-c N` style options; returns [options, operands] or an error. */
function shortOptions(
  prog: string,
  args: readonly string[],
  flags: string,
  withValue: string,
  io: Io,
): { opts: Map<string, string>; operands: string[] } | undefined {
  const opts = new Map<string, string>();
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      operands.push(a);
      continue;
    }
    if (/^-[0-9]+$/.test(a) && withValue.includes("n")) {
      opts.set("n", a.slice(1));
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      if (withValue.includes(f)) {
        const value = j + 1 < a.length ? a.slice(j + 1) : args[++i];
        if (value === undefined) {
          io.stderr.write(`${prog}: option requires an argument -- '${f}'\n`);
          return undefined;
        }
        opts.set(f, value);
        break;
      }
      if (!flags.includes(f)) {
        io.stderr.write(`${prog}: invalid option -- '${f}'\n`);
        return undefined;
      }
      opts.set(f, "");
    }
  }
  return { opts, operands };
}

/** `wc` with GNU coreutils' column widths. */
const wc: Command = (args, io) => {
  const parsed = shortOptions("wc", args, "clmwL", "", io);
  if (!parsed) return 1;
  const { opts, operands } = parsed;
  let [lines, words, chars, bytes, longest] = ["l", "w", "m", "c", "L"].map((f) => opts.has(f));
  if (!lines && !words && !chars && !bytes && !longest) lines = words = bytes = true;
  const { inputs, failed } = readInputs("wc", operands, io);
  const counts = inputs.map(({ data }) => {
    const c = { lines: 0, words: 0, chars: 0, bytes: 0, longest: 0 };
    if (!data) return c;
    c.bytes = data.length;
    let inWord = false;
    let col = 0;
    for (const b of data) {
      if ((b & 0xc0) !== 0x80) c.chars++;
      if (b === 0x0a) {
        c.lines++;
        c.longest = Math.max(c.longest, col);
        col = 0;
      } else if (b === 0x09) col += 8 - (col % 8);
      else if ((b & 0xc0) !== 0x80) col++;
      if (isSpace(b)) inWord = false;
      else if (!inWord) {
        inWord = true;
        c.words++;
      }
    }
    c.longest = Math.max(c.longest, col);
    return c;
  });
  const nCounts = [lines, words, chars, bytes, longest].filter(Boolean).length;
  let width = 1;
  if (!(inputs.length === 1 && nCounts === 1)) {
    let minimum = 1;
    let regularTotal = 0;
    for (const i of inputs) {
      if (!i.data) continue;
      if (!i.regular) minimum = 7;
      else regularTotal += i.data.length;
    }
    width = Math.max(String(regularTotal).length, minimum);
  }
  const row = (c: (typeof counts)[number], name?: string) => {
    const cols: number[] = [];
    if (lines) cols.push(c.lines);
    if (words) cols.push(c.words);
    if (chars) cols.push(c.chars);
    if (bytes) cols.push(c.bytes);
    if (longest) cols.push(c.longest);
    io.stdout.write(cols.map((n) => String(n).padStart(width)).join(" ") + (name ? ` ${name}` : "") + "\n");
  };
  inputs.forEach((input, n) => {
    if (input.data) row(counts[n], operands.length ? input.name : undefined);
  });
  if (inputs.length > 1) {
    const total = counts.reduce((t, c) => ({
      lines: t.lines + c.lines,
      words: t.words + c.words,
      chars: t.chars + c.chars,
      bytes: t.bytes + c.bytes,
      longest: Math.max(t.longest, c.longest),
    }));
    row(total, "total");
  }
  return failed ? 1 : 0;
};

/** Expands a `tr` set: ranges `a-z`, escapes and `[:class:]`. */
function trSet(spec: string): number[] {
  const out: number[] = [];
  const classes: Record<string, (b: number) => boolean> = {
    upper: (b) => b >= 65 && b <= 90,
    lower: (b) => b >= 97 && b <= 122,
    digit: (b) => b >= 48 && b <= 57,
    alpha: (b) => (b >= 65 && b <= 90) || (b >= 97 && b <= 122),
    alnum: (b) => (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122),
    space: isSpace,
    blank: (b) => b === 0x20 || b === 0x09,
    punct: (b) => b > 32 && b < 127 && !/[A-Za-z0-9]/.test(String.fromCharCode(b)),
  };
  const bytes = [...utf8(spec)];
  const esc: Record<string, number> = { n: 10, t: 9, r: 13, "\\": 92, a: 7, b: 8, f: 12, v: 11 };
  const at = (i: number): [number, number] => {
    if (bytes[i] === 92 && i + 1 < bytes.length) {
      const e = esc[String.fromCharCode(bytes[i + 1])];
      return [e ?? bytes[i + 1], 2];
    }
    return [bytes[i], 1];
  };
  for (let i = 0; i < bytes.length;) {
    const cls = /^\[:([a-z]+):\]/.exec(spec.slice(i));
    if (cls && classes[cls[1]]) {
      for (let b = 0; b < 256; b++) if (classes[cls[1]](b)) out.push(b);
      i += cls[0].length;
      continue;
    }
    const [from, n] = at(i);
    if (bytes[i + n] === 45 && i + n + 1 < bytes.length) {
      const [to, m] = at(i + n + 1);
      for (let b = from; b <= to; b++) out.push(b);
      i += n + 1 + m;
    } else {
      out.push(from);
      i += n;
    }
  }
  return out;
}

const tr: Command = (args, io) => {
  const parsed = shortOptions("tr", args, "dsc", "", io);
  if (!parsed) return 1;
  const { opts, operands } = parsed;
  const del = opts.has("d");
  const squeeze = opts.has("s");
  if (operands.length < (del || squeeze ? 1 : 2)) {
    io.stderr.write(`tr: missing operand\n`);
    return 1;
  }
  const set1 = trSet(operands[0]);
  const set2 = operands[1] !== undefined ? trSet(operands[1]) : [];
  const map = new Int16Array(256).fill(-1);
  if (!del && set2.length) {
    set1.forEach((b, n) => map[b] = set2[Math.min(n, set2.length - 1)]);
  }
  const inSet1 = new Set(set1);
  const squeezeSet = new Set(del || !set2.length ? set1 : set2);
  const out: number[] = [];
  for (const b of io.stdin) {
    if (del && inSet1.has(b)) continue;
    const c = map[b] >= 0 ? map[b] : b;
    if (squeeze && out.length && out[out.length - 1] === c && squeezeSet.has(c)) continue;
    out.push(c);
  }
  io.stdout.write(new Uint8Array(out));
  return 0;
};

const head: Command = (args, io) => {
  const parsed = shortOptions("head", args, "qv", "nc", io);
  if (!parsed) return 1;
  const { opts, operands } = parsed;
  const n = Number(opts.get("n") ?? opts.get("c") ?? "10");
  if (!Number.isInteger(n) || n < 0) {
    io.stderr.write(
      `head: invalid number of ${opts.has("c") ? "bytes" : "lines"}: '${opts.get("n") ?? opts.get("c")}'\n`,
    );
    return 1;
  }
  const { inputs, failed } = readInputs("head", operands, io);
  const headers = inputs.length > 1;
  inputs.forEach(({ name, data }, k) => {
    if (!data) return;
    if (headers) io.stdout.write(`${k > 0 ? "\n" : ""}==> ${name === "-" ? "standard input" : name} <==\n`);
    if (opts.has("c")) {
      io.stdout.write(data.subarray(0, n));
      return;
    }
    let end = 0;
    for (let seen = 0; end < data.length && seen < n; end++) if (data[end] === 0x0a) seen++;
    io.stdout.write(data.subarray(0, end));
  });
  return failed ? 1 : 0;
};

const base64: Command = (args, io) => {
  const parsed = shortOptions("base64", args.map((a) => a === "--decode" ? "-d" : a), "di", "w", io);
  if (!parsed) return 1;
  const { opts, operands } = parsed;
  const { inputs, failed } = readInputs("base64", operands.slice(0, 1), io);
  const data = inputs[0].data;
  if (!data) return 1;
  if (opts.has("d")) {
    const text = decoder.decode(data).replace(/[\r\n]/g, "");
    const clean = opts.has("i") ? text.replace(/[^A-Za-z0-9+/=]/g, "") : text;
    try {
      const bin = atob(clean);
      io.stdout.write(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    } catch {
      io.stderr.write("base64: invalid input\n");
      return 1;
    }
    return failed ? 1 : 0;
  }
  const wrap = Number(opts.get("w") ?? "76");
  let s = "";
  for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
  const encoded = btoa(s);
  if (wrap > 0) {
    const lines: string[] = [];
    for (let i = 0; i < encoded.length; i += wrap) lines.push(encoded.slice(i, i + wrap));
    io.stdout.write(lines.map((l) => l + "\n").join(""));
  } else io.stdout.write(encoded + (encoded ? "\n" : ""));
  return 0;
};

const rev: Command = (args, io) => {
  const { inputs, failed } = readInputs("rev", args, io);
  for (const { data } of inputs) {
    if (!data) continue;
    const text = decoder.decode(data);
    const lines = text.split("\n");
    io.stdout.write(lines.map((l) => [...l].reverse().join("")).join("\n"));
  }
  return failed ? 1 : 0;
};

const printEnv = (io: Io) => {
  for (const [k, v] of io.env) io.stdout.write(`${k}=${v}\n`);
};

/** GNU sleep: NUMBER[smhd]..., summed. */
const sleep: Command = async (args, io) => {
  if (!args.length) {
    io.stderr.write("sleep: missing operand\n");
    return 1;
  }
  let ms = 0;
  for (const a of args) {
    const m = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(a);
    if (!m) {
      io.stderr.write(`sleep: invalid time interval '${a}'\n`);
      return 1;
    }
    ms += Number(m[1]) * 1000 * ({ "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]] ?? 1);
  }
  await io.sleep(ms, io.signal);
  if (io.signal.aborted) throw new Killed();
  return 0;
};

const commands: Record<string, Command> = {
  ":": () => 0,
  true: () => 0,
  false: () => 1,
  cd: () => 0,
  cat: (args, io) => {
    const { inputs, failed } = readInputs("cat", args, io);
    for (const { data } of inputs) if (data) io.stdout.write(data);
    return failed ? 1 : 0;
  },
  echo: (args, io) => {
    let newline = true;
    let i = 0;
    while (args[i] === "-n") {
      newline = false;
      i++;
    }
    io.stdout.write(args.slice(i).join(" ") + (newline ? "\n" : ""));
    return 0;
  },
  env: async (args, io) => {
    const env = new Map(io.env);
    let i = 0;
    if (args[0] === "-i") {
      env.clear();
      i++;
    }
    for (; i < args.length && /^[^=]+=/.test(args[i]); i++) {
      const eq = args[i].indexOf("=");
      env.delete(args[i].slice(0, eq));
      env.set(args[i].slice(0, eq), args[i].slice(eq + 1));
    }
    if (i >= args.length) {
      printEnv({ ...io, env });
      return 0;
    }
    const cmd = resolve(args[i]);
    if (!cmd) {
      io.stderr.write(`env: '${args[i]}': No such file or directory\n`);
      return 127;
    }
    return await cmd(args.slice(i + 1), { ...io, env });
  },
  printenv: (args, io) => {
    if (!args.length) {
      printEnv(io);
      return 0;
    }
    let status = 0;
    for (const name of args) {
      const v = io.env.get(name);
      if (v === undefined) status = 1;
      else io.stdout.write(`${v}\n`);
    }
    return status;
  },
  hostname: (_args, io) => {
    io.stdout.write(`${io.env.get("HOSTNAME") ?? "localhost"}\n`);
    return 0;
  },
  ls: (args, io) => {
    const dirs = args.filter((a) => !a.startsWith("-"));
    let status = 0;
    for (const dir of dirs.length ? dirs : ["/home/app"]) {
      if (io.files.has(dir)) {
        io.stdout.write(`${dir}\n`);
        continue;
      }
      const prefix = dir.endsWith("/") ? dir : `${dir}/`;
      const names = new Set<string>();
      for (const k of io.files.keys()) {
        if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split("/")[0]);
      }
      if (!names.size && dir !== "/home/app") {
        io.stderr.write(`ls: ${dir}: No such file or directory\n`);
        status = 1;
        continue;
      }
      if (dirs.length > 1) io.stdout.write(`${dir}:\n`);
      for (const n of [...names].sort()) io.stdout.write(`${n}\n`);
    }
    return status;
  },
  sh: async (args, io) => {
    if (args[0] === "-c" && args.length > 1) return await io.shell(args[1], io);
    if (!args.length) return await io.shell(decoder.decode(io.stdin), { ...io, stdin: new Uint8Array() });
    io.stderr.write(`sh: can't open '${args[0]}': No such file or directory\n`);
    return 2;
  },
  sleep,
  wc,
  tr,
  head,
  base64,
  rev,
  sha1sum: digest("sha1sum", "SHA-1"),
  sha256sum: digest("sha256sum", "SHA-256"),
  sha384sum: digest("sha384sum", "SHA-384"),
  sha512sum: digest("sha512sum", "SHA-512"),
  md5sum: digest("md5sum", "MD5"),
};

/** Names of the commands the shell knows (besides `exit` and `export`). */
export const shellCommands: readonly string[] = [...Object.keys(commands), "exit", "export"].sort();
