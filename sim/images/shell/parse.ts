/**
 * Parsing the mini shell's command lines. Supported syntax: words with 'single',
 * "double" (with `$VAR`, `${VAR}`, `$?`, backslash escapes) and unquoted parts,
 * `NAME=value` prefixes, pipelines `a | b`, lists with `;`, `&&` and `||`,
 * leading `!`, and `# comments`. Not supported (a syntax error, exit 2):
 * redirections, subshells, globbing, here-documents, control flow.
 */

export type Part =
  | { readonly kind: "lit"; readonly text: string }
  | { readonly kind: "var"; readonly name: string; readonly quoted: boolean };
export type Word = readonly Part[];
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

export interface Pipeline {
  readonly negate: boolean;
  readonly commands: readonly (readonly Word[])[];
}
export interface AndOr {
  readonly first: Pipeline;
  readonly rest: readonly { readonly op: "&&" | "||"; readonly pipeline: Pipeline }[];
}

/** Parses a command line into lists of and/or chains. Throws ShellSyntaxError. */
export function parse(src: string): AndOr[] {
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
