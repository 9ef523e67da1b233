/** SimTransport: the KubeApi seam served in process by the simulator's API server. */
import { Effect, Layer, Queue, Stream } from "effect";
import { errorFromStatus, KubeApi, KubeError, type WatchEvent } from "../src/kube/api.ts";
import { SimCluster } from "./cluster.ts";
import { ApiError } from "./apierror.ts";

/** Copies a value as a JSON round trip would, so nothing is shared with the store. */
const wire = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

const toKubeError = (e: unknown): KubeError =>
  e instanceof ApiError
    ? KubeError.status(e.code, e.reason, e.message, e.retryAfterSeconds)
    : KubeError.status(500, "InternalError", String(e));

export const SimTransport: Layer.Layer<KubeApi, never, SimCluster> = Layer.effect(
  KubeApi,
  Effect.gen(function* () {
    const { api } = yield* SimCluster;
    return KubeApi.of({
      request: <T>(req: Parameters<KubeApi["Service"]["request"]>[0]) =>
        Effect.suspend(() => {
          const res = api.handle({ ...req, body: wire(req.body) });
          if (res.status >= 400) {
            const retryAfter = res.headers?.["retry-after"];
            return Effect.fail(
              errorFromStatus(res.status, res.body, retryAfter ? Number(retryAfter) : undefined),
            );
          }
          return Effect.succeed(wire(res.body) as T);
        }),
      watch: <T>(path: string, query: Readonly<Record<string, string | undefined>> = {}) =>
        Stream.callback<
          WatchEvent<T>,
          KubeError
        >(
          (queue) =>
            Effect.acquireRelease(
              Effect.try({
                try: () =>
                  api.watch(path, query, {
                    event: (type, object) => {
                      Queue.offerUnsafe(queue, { type: type as WatchEvent["type"], object: object as T });
                    },
                    close: () => {
                      Queue.endUnsafe(queue);
                    },
                  }),
                catch: toKubeError,
              }),
              (cancel) => Effect.sync(cancel),
            ),
        ),
      lines: (path: string, query: Readonly<Record<string, string | undefined>> = {}) =>
        Stream.callback<string, KubeError>((queue) =>
          Effect.acquireRelease(
            Effect.try({
              try: () =>
                api.readLog(path, query, (line) => {
                  Queue.offerUnsafe(queue, line);
                }, () => {
                  Queue.endUnsafe(queue);
                }),
              catch: toKubeError,
            }),
            (cancel) => Effect.sync(cancel),
          )
        ),
    });
  }),
);
