/**
 * `limit` and `continue` on lists, as the API server pages through etcd: items in key order
 * (`namespace/name`, bytewise), a `metadata.continue` token that names the list's resourceVersion
 * and the key to start after (base64url JSON `{"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}`, the
 * real token's layout), and `remainingItemCount` when the list has no selector.
 *
 * Every page of one list shows the cluster as it was at the first page's resourceVersion: the later
 * pages roll back the changes made since then with the store's watch history (an object changed
 * since shows its state at that resourceVersion, one created since is left out, one deleted since
 * is still listed). Once that part of the history is compacted (Store.compact, or the history
 * window has moved on) the token has expired: 410 Expired with the real server's message and a
 * fresh token (resourceVersion -1) that continues from the same key at the current state, as an
 * inconsistent continuation, which is what the API server offers.
 */
import { ApiError } from "./apierror.ts";
import type { KindInfo, KObj } from "./kinds.ts";
import type { Store } from "./store.ts";
import { matches, type Selector } from "../src/domain/selectors.ts";

const tokenVersion = "meta.k8s.io/v1";

/** The API server's message for a continue token whose resourceVersion has been compacted. */
export const inconsistentContinue =
  "The provided continue parameter is too old to display a consistent list " +
  "result. You can start a new list without the continue parameter, or use the continue token in this " +
  "response to retrieve the remainder of the results. Continuing with the provided token results in an " +
  "inconsistent list - objects that were created, modified, or deleted between the time the first chunk " +
  "was returned and now may show up in the list.";

const toBase64Url = (text: string) => {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
};

const fromBase64Url = (text: string): string | undefined => {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
};

export const encodeContinue = (rv: number, start: string): string =>
  toBase64Url(JSON.stringify({ v: tokenVersion, rv, start }));

const invalidToken = (why: string) =>
  ApiError.of(400, "BadRequest", `invalid continue token: continue key is not valid: ${why}`);

/** The resourceVersion and start key of a continue token; 400 when it is not one. */
export const decodeContinue = (token: string): { rv: number; start: string } => {
  const text = fromBase64Url(token);
  if (text === undefined) throw invalidToken("illegal base64 data");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalidToken((e as Error).message);
  }
  const c = parsed as { v?: unknown; rv?: unknown; start?: unknown };
  if (!c || typeof c !== "object" || c.v !== tokenVersion) {
    throw invalidToken(`server does not recognize this encoded version ${JSON.stringify(c?.v ?? "")}`);
  }
  if (typeof c.rv !== "number" || !Number.isSafeInteger(c.rv) || c.rv === 0 || c.rv < -1) {
    throw invalidToken(`incorrect encoded start resourceVersion (version ${tokenVersion})`);
  }
  if (typeof c.start !== "string" || c.start === "") throw invalidToken("encoded start key is empty");
  return { rv: c.rv, start: c.start };
};

/** The number in `?limit=`: 0 (no limit) when absent or not positive; 400 when not an integer. */
export const parseLimit = (text: string | undefined): number => {
  if (text === undefined || text === "") return 0;
  if (!/^-?\d+$/.test(text)) {
    throw ApiError.of(400, "BadRequest", `limit: Invalid value: "${text}": must be an integer`);
  }
  return Math.max(0, Number(text));
};

export interface PageRequest {
  readonly kind: KindInfo;
  readonly namespace?: string;
  /** The label selector (the store's label index finds its objects without a scan of the kind). */
  readonly selector: Selector;
  /** The field selector's test, when there is one. */
  readonly fieldMatch?: (o: KObj) => boolean;
  readonly limit: number;
  readonly continueToken?: string;
}

/** A response the list answers instead of a page (the 410 of an expired token). */
export interface PageError {
  readonly status: number;
  readonly body: unknown;
}

export interface Page {
  readonly items: KObj[];
  readonly resourceVersion: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

/** One page of a list, or the 410 Expired response for a token whose resourceVersion is compacted. */
export const listPage = (store: Store, req: PageRequest): Page | PageError => {
  const { kind, namespace } = req;
  // A key relative to the list's scope, as etcd's keys are relative to the resource's prefix.
  const keyOf = (o: KObj) =>
    kind.namespaced && namespace === undefined
      ? `${o.metadata.namespace}/${o.metadata.name}`
      : o.metadata.name!;
  const token = req.continueToken ? decodeContinue(req.continueToken) : undefined;
  const current = store.resourceVersion;
  let rv = token === undefined || token.rv === -1 ? current : token.rv;
  /** Objects as they were at `rv`, by key, for those changed since (null: did not exist). */
  const rolledBack = new Map<string, KObj | null>();
  if (rv < current) {
    try {
      for (const e of store.eventsSince(rv, { kind, namespace })) {
        const key = keyOf(e.object);
        if (!rolledBack.has(key)) rolledBack.set(key, e.type === "ADDED" ? null : e.old ?? null);
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 410)) throw e;
      const fresh = encodeContinue(-1, token!.start);
      return {
        status: 410,
        body: {
          ...ApiError.of(410, "Expired", inconsistentContinue).toStatus(),
          metadata: { continue: fresh },
        },
      };
    }
  }
  if (token?.rv === -1) rv = current;
  const start = token?.start;
  const { selector, fieldMatch } = req;
  const selected: [string, KObj][] = [];
  // The current objects that match (from the label index), then the past states of those changed since rv.
  for (const o of store.select(kind, namespace, selector, fieldMatch)) {
    const key = keyOf(o);
    if (!rolledBack.has(key) && (start === undefined || key >= start)) selected.push([key, o]);
  }
  for (const [key, o] of rolledBack) {
    if (
      o && (start === undefined || key >= start) && matches(selector, o.metadata.labels) &&
      (!fieldMatch || fieldMatch(o))
    ) selected.push([key, o]);
  }
  selected.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const limit = req.limit > 0 ? req.limit : selected.length;
  const page = selected.slice(0, limit);
  const items = page.map(([, o]) => structuredClone(o));
  if (selected.length <= limit) return { items, resourceVersion: String(rv) };
  return {
    items,
    resourceVersion: String(rv),
    continue: encodeContinue(rv, `${page[page.length - 1][0]}\u0000`),
    // Only an unselective list knows how many remain (the API server's rule).
    ...(selector.length > 0 || fieldMatch ? {} : { remainingItemCount: selected.length - limit }),
  };
};
