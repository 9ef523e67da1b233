/** Quantities as plain numbers (cores, bytes) for scheduling arithmetic. */
import { parseQuantity, quantityToNumber } from "../../src/domain/quantity.ts";

const cache = new Map<string, number>();

/** The value of a quantity string in base units; absent or invalid counts as 0. */
export const quantityValue = (q: unknown): number => {
  if (q === undefined || q === null) return 0;
  const text = String(q);
  let v = cache.get(text);
  if (v === undefined) {
    const parsed = parseQuantity(text);
    v = parsed ? quantityToNumber(parsed) : 0;
    if (cache.size < 10_000) cache.set(text, v);
  }
  return v;
};
