/** Invocations in /metrics: counted per function and status, timed, and the replicas of each function. */
import assert from "node:assert/strict";
import { routeTo, withUpstream } from "../support/upstream.ts";

Deno.test("proxy: invocations are counted in /metrics", async () => {
  await withUpstream(() => new Response("ok"), async (h, up) => {
    await routeTo(h, "counted", up.port);
    const before = await h.call("GET", "/metrics");
    const count = (text: string) =>
      Number(
        /gateway_function_invocation_total\{function_name="counted.openfaas-fn",code="200"\} (\d+)/.exec(
          text,
        )?.[1] ?? 0,
      );
    for (let i = 0; i < 3; i++) await (await h.request("GET", "/function/counted")).text();
    const after = await h.call("GET", "/metrics");
    assert.equal(count(after.text) - count(before.text), 3);
    assert.match(
      after.text,
      /gateway_functions_seconds_count\{function_name="counted.openfaas-fn",code="200"\} \d+/,
    );
    assert.match(
      after.text,
      /provider_http_requests_total\{code="202",method="POST",path="\/system\/functions"\} \d+/,
    );
    assert.match(after.text, /provider_kube_requests_total\{verb="POST",code="2xx"\} \d+/);
    assert.match(after.text, /gateway_service_count\{function_name="counted.openfaas-fn"\} 0/);
    // A function with replicas reports them.
    const two = await h.call("POST", "/system/functions", {
      service: "two",
      image: "functions/alpine:latest",
      labels: { "com.openfaas.scale.min": "2" },
    });
    assert.equal(two.status, 202, two.text);
    const withTwo = await h.call("GET", "/metrics");
    assert.match(withTwo.text, /^gateway_service_count\{function_name="two.openfaas-fn"\} 2$/m);
    assert.match(withTwo.text, /^gateway_service_count\{function_name="counted.openfaas-fn"\} 0$/m);
  });
});
