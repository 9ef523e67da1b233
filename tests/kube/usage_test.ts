/** Usage from the metrics API: sums per function, and what happens when the API is missing. */
import assert from "node:assert/strict";
import { Effect, Layer, Logger, Stream } from "effect";
import { KubeApi, type KubeApiShape, KubeError, type KubeRequest } from "../../src/kube/api.ts";
import type { PodMetrics } from "../../src/kube/resources.ts";
import { sumByFunction, Usage } from "../../src/kube/usage.ts";

const podMetrics = (name: string, fn: string | undefined, cpu: string, memory: string): PodMetrics => ({
  metadata: { name, namespace: "openfaas-fn", labels: fn === undefined ? {} : { faas_function: fn } },
  timestamp: "2026-01-01T00:00:00Z",
  window: "30s",
  containers: [{ name: fn ?? name, usage: { cpu, memory } }],
});

Deno.test("sumByFunction: millicores and bytes summed per faas_function, other pods ignored", () => {
  const sums = sumByFunction([
    podMetrics("env-1", "env", "250000000n", "2048Ki"),
    podMetrics("env-2", "env", "5m", "1Mi"),
    podMetrics("cat-1", "cat", "1", "1000"),
    podMetrics("other", undefined, "7", "1Gi"),
  ]);
  assert.deepEqual([...sums.keys()].sort(), ["cat", "env"]);
  assert.deepEqual(sums.get("env"), { cpu: 255, totalMemoryBytes: 2048 * 1024 + 1024 * 1024, pods: 2 });
  assert.deepEqual(sums.get("cat"), { cpu: 1000, totalMemoryBytes: 1000, pods: 1 });
});

/** A KubeApi that answers PodMetrics lists from a script and records the requests. */
const scriptedApi = (answer: (req: KubeRequest) => Effect.Effect<unknown, KubeError>) => {
  const requests: KubeRequest[] = [];
  const api: KubeApiShape = {
    request: <T>(req: KubeRequest) => {
      requests.push(req);
      return answer(req) as Effect.Effect<T, KubeError>;
    },
    watch: () => Stream.empty,
    lines: () => Stream.empty,
  };
  return { api, requests };
};

const withUsage = async <A>(
  api: KubeApiShape,
  f: (u: typeof Usage.Service) => Effect.Effect<A>,
): Promise<{ result: A; warnings: string[] }> => {
  const warnings: string[] = [];
  const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
    if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message.join(" ") : message));
  });
  const layer = Usage.layer.pipe(Layer.provide(Layer.succeed(KubeApi, api)));
  const result = await Effect.runPromise(
    Effect.flatMap(Effect.service(Usage), f).pipe(
      Effect.provide(Layer.merge(layer, Logger.layer([logger]))),
    ),
  );
  return { result, warnings };
};

Deno.test("Usage.ofFunction lists the function's PodMetrics by label and sums them", async () => {
  const { api, requests } = scriptedApi(() =>
    Effect.succeed({ metadata: {}, items: [podMetrics("env-1", "env", "120m", "4Mi")] })
  );
  const { result } = await withUsage(api, (u) => u.ofFunction("env", "openfaas-fn"));
  assert.deepEqual(result, { cpu: 120, totalMemoryBytes: 4 * 1024 * 1024, pods: 1 });
  assert.equal(requests[0].method, "GET");
  assert.equal(requests[0].path, "/apis/metrics.k8s.io/v1beta1/namespaces/openfaas-fn/pods");
  assert.equal(requests[0].query?.labelSelector, "faas_function=env");
});

Deno.test("Usage: without the metrics API the answer is undefined, with one warning per outage", async () => {
  let available = false;
  const { api } = scriptedApi(() =>
    available
      ? Effect.succeed({ metadata: {}, items: [podMetrics("env-1", "env", "1m", "1Mi")] })
      : Effect.fail(
        KubeError.status(404, "NotFound", "the server could not find the requested resource"),
      )
  );
  const { result, warnings } = await withUsage(api, (u) =>
    Effect.gen(function* () {
      const out: unknown[] = [];
      out.push(yield* u.ofFunction("env", "openfaas-fn"));
      out.push(yield* u.ofNamespace("openfaas-fn"));
      available = true;
      out.push((yield* u.ofNamespace("openfaas-fn"))?.get("env")?.pods);
      available = false;
      out.push(yield* u.ofFunction("env", "openfaas-fn"));
      return out;
    }));
  assert.deepEqual(result, [undefined, undefined, 1, undefined]);
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0], /metrics\.k8s\.io.*404/);
});
