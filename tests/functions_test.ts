/** Function routes on names no function can have. */
import assert from "node:assert/strict";
import { withProvider } from "./support/harness.ts";

Deno.test("status, scale and delete of an impossible name answer 404 (faas-netes: no such function)", () =>
  withProvider(async (h) => {
    for (
      const [method, path, body] of [
        ["GET", "/system/function/Bad_Name", undefined],
        ["POST", "/system/scale-function/Bad_Name", { serviceName: "Bad_Name", replicas: 1 }],
        ["DELETE", "/system/functions", { functionName: "Bad_Name" }],
      ] as const
    ) {
      const r = await h.call(method, path, body);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.match(r.text, /function Bad_Name not found: name: "Bad_Name"/);
    }
  }));
