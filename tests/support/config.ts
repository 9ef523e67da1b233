/** Assertions on the provider's configuration errors. */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/config.ts";

/** Asserts that `fn` throws a ConfigError whose message contains every fragment. */
export function assertConfigError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    for (const fragment of fragments) {
      assert.ok(err.message.includes(fragment), `message ${JSON.stringify(err.message)} lacks ${fragment}`);
    }
    return true;
  });
}
