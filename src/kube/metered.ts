/** KubeApi with every call counted and timed in /metrics. */
import { Effect, Stream } from "effect";
import type { KubeApiShape } from "./api.ts";
import { metrics } from "../metrics/registry.ts";

export const meter = (kube: KubeApiShape): KubeApiShape => ({
  request: <T>(req: Parameters<KubeApiShape["request"]>[0]) => {
    const verb = req.method;
    return Effect.suspend(() => {
      const started = performance.now();
      const done = (code: number) => {
        metrics.kubeRequests.inc({ verb, code: String(code) });
        metrics.kubeDuration.observe({ verb }, (performance.now() - started) / 1000);
      };
      return kube.request<T>(req).pipe(
        Effect.tap(() => Effect.sync(() => done(req.method === "POST" ? 201 : 200))),
        Effect.tapError((e) =>
          Effect.sync(() => {
            done(e.status);
            metrics.kubeErrors.inc({ verb, code: String(e.status) });
          })
        ),
      );
    });
  },
  watch: <T>(path: string, query?: Readonly<Record<string, string | undefined>>) =>
    Stream.suspend(() => {
      metrics.kubeRequests.inc({ verb: "WATCH", code: "200" });
      return kube.watch<T>(path, query);
    }),
  lines: (path, query) =>
    Stream.suspend(() => {
      metrics.kubeRequests.inc({ verb: "GET", code: "200" });
      return kube.lines(path, query);
    }),
});
