/**
 * KubeApi with every call counted and timed in /metrics. The transport does not hand back the status
 * of a success, so successes are counted as `code="2xx"`; failures carry their status, or the kind of failure when there was no answer (`Timeout`, `Connection`, `Tls`, `Credentials`, `Decode`).
 */
import { Effect, Stream } from "effect";
import type { KubeApiShape, KubeError } from "./api.ts";
import { metrics } from "../metrics/registry.ts";

/** The `code` label of a failure: its status, or what kind of failure it was when there was no answer. */
const codeOf = (e: KubeError) => e.status === undefined ? e.statusReason : String(e.status);

const failed = (verb: string, e: KubeError) => {
  metrics.kubeRequests.inc({ verb, code: codeOf(e) });
  metrics.kubeErrors.inc({ verb, code: codeOf(e) });
};

/** A stream counted once: as a success at its first element or clean end, or as a failure with its status. */
const meteredStream = <A>(
  verb: string,
  open: () => Stream.Stream<A, KubeError>,
): Stream.Stream<A, KubeError> =>
  Stream.suspend(() => {
    let counted = false;
    const ok = () => {
      if (counted) return;
      counted = true;
      metrics.kubeRequests.inc({ verb, code: "2xx" });
    };
    return open().pipe(
      Stream.tap(() => Effect.sync(ok)),
      Stream.tapError((e) =>
        Effect.sync(() => {
          if (!counted) {
            counted = true;
            failed(verb, e);
          } else metrics.kubeErrors.inc({ verb, code: codeOf(e) });
        })
      ),
      Stream.onEnd(Effect.sync(ok)),
    );
  });

export const meter = (kube: KubeApiShape): KubeApiShape => ({
  request: <T>(req: Parameters<KubeApiShape["request"]>[0]) => {
    const verb = req.method;
    return Effect.suspend(() => {
      const started = performance.now();
      const timed = () => metrics.kubeDuration.observe({ verb }, (performance.now() - started) / 1000);
      return kube.request<T>(req).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            metrics.kubeRequests.inc({ verb, code: "2xx" });
            timed();
          })
        ),
        Effect.tapError((e) =>
          Effect.sync(() => {
            failed(verb, e);
            timed();
          })
        ),
      );
    });
  },
  watch: <T>(path: string, query?: Readonly<Record<string, string | undefined>>) =>
    meteredStream("WATCH", () => kube.watch<T>(path, query)),
  lines: (path, query) => meteredStream("GET", () => kube.lines(path, query)),
});
