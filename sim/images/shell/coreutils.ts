/**
 * The mini shell's commands (GNU coreutils output formats): `cat`, `env`,
 * `printenv`, `echo`, `sha512sum`, `sha384sum`, `sha256sum`, `sha1sum`, `md5sum`,
 * `wc`, `base64`, `true`, `false`, `sleep`, `head`, `tr`, `rev`, `ls`,
 * `hostname`, `sh -c`, `cd`, `:`. A command may be named by a path in a standard
 * bin directory (`/bin/cat`).
 */
import { createHash } from "node:crypto";
import { type Command, type Io, Killed } from "./io.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const utf8 = (s: string) => encoder.encode(s);

const binDirs = ["/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/", "/usr/local/sbin/"];

/** The command a name (or a path in a standard bin directory) runs, if the shell has it. */
export function resolve(name: string): Command | undefined {
  let base = name;
  if (name.includes("/")) {
    const dir = binDirs.find((d) => name.startsWith(d) && !name.slice(d.length).includes("/"));
    if (!dir) return undefined;
    base = name.slice(dir.length);
  }
  return Object.hasOwn(commands, base) ? commands[base] : undefined;
}

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
