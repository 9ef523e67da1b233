/**
 * Kubernetes label selectors: the string form used in `?labelSelector=` and the
 * structured `matchLabels` / `matchExpressions` form used in specs.
 */

export type Requirement =
  | { readonly key: string; readonly op: "=" | "!="; readonly value: string }
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "exists" | "!exists" };

export type Selector = readonly Requirement[];

export type Labels = Readonly<Record<string, string>> | undefined;

// Kubernetes' qualified name and label value patterns, written so that no two quantifiers can match the
// same text (linear time on any input), with its length limits: prefix 253, name and value 63.
const keyPattern = /^(?:[a-zA-Z0-9]+(?:[-.]+[a-zA-Z0-9]+)*\/)?[a-zA-Z0-9]+(?:[-_.]+[a-zA-Z0-9]+)*$/;
const valuePattern = /^(?:[A-Za-z0-9]+(?:[-_.]+[A-Za-z0-9]+)*)?$/;
const isKey = (key: string) => {
  const slash = key.indexOf("/");
  return key.length - slash - 1 <= 63 && slash <= 253 && keyPattern.test(key);
};
const isValue = (value: string) => value.length <= 63 && valuePattern.test(value);

/** Splits on commas that are not inside a parenthesised value set. */
const splitTopLevel = (text: string): string[] => {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
};

/** Parses a label selector string; returns an error message for a malformed one. */
export const parseSelector = (text: string | undefined): Selector | string => {
  if (!text || text.trim() === "") return [];
  const requirements: Requirement[] = [];
  for (const part of splitTopLevel(text)) {
    const setMatch = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    let req: Requirement;
    if (setMatch) {
      const values = setMatch[3].split(",").map((v) => v.trim()).filter((v) => v !== "");
      req = { key: setMatch[1], op: setMatch[2] as "in" | "notin", values };
      if (values.some((v) => !isValue(v))) return `invalid label value in selector: ${part}`;
    } else if (part.startsWith("!")) {
      req = { key: part.slice(1).trim(), op: "!exists" };
    } else {
      const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
      if (eq) {
        req = { key: eq[1], op: eq[2] === "!=" ? "!=" : "=", value: eq[3] };
        if (!isValue(eq[3])) return `invalid label value in selector: ${part}`;
      } else if (/^\S+$/.test(part)) {
        req = { key: part, op: "exists" };
      } else {
        return `unable to parse requirement: ${part}`;
      }
    }
    if (!isKey(req.key)) return `invalid label key in selector: ${req.key}`;
    requirements.push(req);
  }
  return requirements;
};

export const matches = (selector: Selector, labels: Labels): boolean => {
  const l = labels ?? {};
  for (const req of selector) {
    const has = Object.hasOwn(l, req.key);
    const value = l[req.key];
    switch (req.op) {
      case "=":
        if (!has || value !== req.value) return false;
        break;
      case "!=":
        if (has && value === req.value) return false;
        break;
      case "in":
        if (!has || !req.values.includes(value)) return false;
        break;
      case "notin":
        if (has && req.values.includes(value)) return false;
        break;
      case "exists":
        if (!has) return false;
        break;
      case "!exists":
        if (has) return false;
        break;
    }
  }
  return true;
};

export interface LabelSelectorSpec {
  readonly matchLabels?: Record<string, string>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: string;
    readonly values?: readonly string[];
  }[];
}

/** Converts a structured selector (Deployment `spec.selector`) to requirements. */
export const fromSpec = (spec: LabelSelectorSpec | undefined): Selector => {
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(spec?.matchLabels ?? {})) reqs.push({ key, op: "=", value });
  for (const e of spec?.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === "in" || op === "notin") reqs.push({ key: e.key, op, values: e.values ?? [] });
    else if (op === "exists") reqs.push({ key: e.key, op: "exists" });
    else if (op === "doesnotexist") reqs.push({ key: e.key, op: "!exists" });
  }
  return reqs;
};

/** Renders `{a: "1", b: "2"}` as `a=1,b=2`. */
export const formatSelector = (labels: Record<string, string>): string =>
  Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
