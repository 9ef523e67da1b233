/**
 * Query strings as Go's net/url parses them (`r.URL.Query()`, url.ParseQuery),
 * which is what faas-netes and faas-provider read: pairs split on `&`; a pair
 * that contains `;` or a malformed %-escape is dropped; `+` is a space; keys are
 * unescaped too. A repeated parameter keeps every value in order:
 * `url.Values.Get` (faas-netes' handlers) takes the first, faas-provider's log
 * handler takes the last.
 */

export interface GoQuery {
  /** `url.Values.Get`: the first value, or "" when absent. */
  first(key: string): string;
  /** faas-provider logs' `getValue`: the last value, or "" when absent. */
  last(key: string): string;
}

const hex = (c: number) =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** url.QueryUnescape: `%XX` and `+`; undefined for a malformed escape. */
export const queryUnescape = (s: string): string | undefined => {
  if (!s.includes("%") && !s.includes("+")) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hi = hex(s.charCodeAt(i + 1)), lo = hex(s.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      bytes.push(hi * 16 + lo);
      i += 2;
    } else if (c === 0x2b) bytes.push(0x20);
    else if (c < 0x80) bytes.push(c);
    else {
      // Already-decoded text (a URL parser percent-encodes it, but be safe): its UTF-8 bytes.
      const cp = s.codePointAt(i)!;
      for (const b of encoder.encode(String.fromCodePoint(cp))) bytes.push(b);
      if (cp > 0xffff) i++;
    }
  }
  return decoder.decode(new Uint8Array(bytes));
};

/** url.ParseQuery on a raw query string (without the `?`). */
export const parseGoQuery = (raw: string): Map<string, string[]> => {
  const values = new Map<string, string[]>();
  for (const pair of raw.split("&")) {
    if (pair === "" || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = queryUnescape(eq < 0 ? pair : pair.slice(0, eq));
    if (key === undefined) continue;
    const value = queryUnescape(eq < 0 ? "" : pair.slice(eq + 1));
    if (value === undefined) continue;
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return values;
};

/** The raw query of a URL string: after the first `?`, before any `#`. */
const rawQuery = (url: string): string => {
  const q = url.indexOf("?");
  if (q < 0) return "";
  const hash = url.indexOf("#", q);
  return url.slice(q + 1, hash < 0 ? undefined : hash);
};

/** The query of a URL without one. */
const noQuery: GoQuery = { first: () => "", last: () => "" };

export const goQuery = (url: string): GoQuery => {
  if (!url.includes("?")) return noQuery;
  const values = parseGoQuery(rawQuery(url));
  return {
    first: (key) => values.get(key)?.[0] ?? "",
    last: (key) => values.get(key)?.at(-1) ?? "",
  };
};
