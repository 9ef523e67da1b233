/** Bodies and query strings read the way Go (the Gateway, faas-cli, faas-netes) reads them. */
import assert from "node:assert/strict";
import { apiTest } from "../support/harness.ts";

apiTest(
  "JSON keys match case-insensitively and unknown keys are ignored, as Go clients expect",
  async (h) => {
    const r = await h.call("POST", "/system/functions", {
      Service: "ci",
      Image: "functions/alpine:latest",
      EnvProcess: "cat",
      extra: true,
    });
    assert.equal(r.status, 202);
    assert.equal(JSON.parse((await h.call("GET", "/system/function/ci")).text).envProcess, "cat");
  },
);
