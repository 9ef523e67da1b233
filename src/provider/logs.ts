/**
 * Function logs: every pod of the function (or one `instance`) read as
 * `pods/{name}/log` through KubeApi, merged into one stream of log messages.
 * With `follow`, pods that start later are picked up; the stream ends at the
 * write timeout or when the client goes away. Without `tail` or `since`, only
 * the last 5 minutes are read, as faas-netes does.
 */
import { Context, Effect, Layer, Stream } from "effect";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { KubeApi } from "../kube/api.ts";
import { resources } from "../kube/resources.ts";
import { withApiRetry } from "../kube/retry.ts";
import { ProviderConfig } from "../config/config.ts";
import { Caches } from "../kube/caches.ts";
import { Namespaces } from "./namespaces.ts";
import { mapKube } from "./kubeerrors.ts";
import { functionLabel } from "../domain/keys.ts";
import { InvalidRequest, type ProviderError } from "../domain/errors.ts";
import type { LogMessage } from "../domain/types.ts";
import { validateDnsLabel } from "../domain/validation.ts";

/** The window read when a request gives neither `tail` nor `since` (as faas-netes). */
const defaultSinceSeconds = "300";

export interface LogRequest {
  readonly name: string;
  readonly namespace?: string;
  readonly instance?: string;
  /** Lines per pod; undefined or <= 0 = all. */
  readonly tail?: number;
  readonly since?: Date;
  readonly follow: boolean;
}

/** Splits a kubelet line `<RFC3339Nano> <text>`; NUL bytes are dropped. */
const parseLogLine = (line: string): { timestamp: string; text: string } => {
  const clean = line.replaceAll("\u0000", "");
  const space = clean.indexOf(" ");
  if (space < 0) return { timestamp: clean, text: "" };
  return { timestamp: clean.slice(0, space), text: clean.slice(space + 1).replace(/\r?\n$/, "") };
};

export interface LogsShape {
  stream(req: LogRequest): Effect.Effect<Stream.Stream<LogMessage>, ProviderError>;
}

export class Logs extends Context.Service<Logs, LogsShape>()("faas/provider/Logs") {
  static layer = Layer.effect(
    Logs,
    Effect.gen(function* () {
      const k8s = resources(yield* KubeApi);
      const config = yield* ProviderConfig;
      const caches = yield* Caches;
      const namespaces = yield* Namespaces;

      const podLines = (ns: string, req: LogRequest, pod: string): Stream.Stream<LogMessage> =>
        k8s.podLog(ns, pod, {
          container: req.name,
          timestamps: "true",
          follow: req.follow ? "true" : undefined,
          tailLines: req.tail && req.tail > 0 ? String(req.tail) : undefined,
          sinceTime: req.since?.toISOString(),
          // faas-netes' classic default: without `tail` or `since`, the last 5 minutes.
          sinceSeconds: req.since === undefined && !(req.tail && req.tail > 0)
            ? defaultSinceSeconds
            : undefined,
        }).pipe(
          Stream.map((line) => ({ name: req.name, namespace: ns, instance: pod, ...parseLogLine(line) })),
          // A pod that went away mid-stream just ends its part.
          Stream.catch(() => Stream.empty),
        );

      return Logs.of({
        stream: Effect.fn("Logs.stream")(function* (req: LogRequest) {
          const m = req.name === "" ? "name: is required" : validateDnsLabel("name", req.name);
          if (m) return yield* new InvalidRequest({ message: m });
          const ns = yield* namespaces.resolve(req.namespace);
          const d = caches.deployments.get(ns, req.name);
          if (!d || d.metadata?.labels?.[functionLabel] === undefined) {
            // Not a 404: the Gateway turns a provider 404 on logs into 501 "not implemented".
            return yield* new InvalidRequest({
              message: `function ${req.name} not found in namespace ${ns}: no logs to read`,
            });
          }
          const selector = `${functionLabel}=${req.name}`;
          const list = yield* mapKube(
            withApiRetry(k8s.pods.list(ns, { labelSelector: selector })),
          );
          const wanted = (p: Pod) => !req.instance || p.metadata?.name === req.instance;
          // A container that has not started has no log yet (a real API server answers 400):
          // when following, such pods are attached once they run.
          const started = (p: Pod) => {
            const state = p.status?.containerStatuses?.[0]?.state;
            return state?.running !== undefined || state?.terminated !== undefined ||
              p.status?.containerStatuses?.[0]?.lastState?.terminated !== undefined;
          };
          const initial = list.items.filter((p) => wanted(p) && (!req.follow || started(p))).map((p) =>
            p.metadata!.name!
          );
          const seen = new Set(initial);
          const later = req.follow
            ? k8s.pods.watch(ns, {
              labelSelector: selector,
              resourceVersion: list.metadata.resourceVersion,
            })
              .pipe(
                Stream.filter((e) =>
                  (e.type === "ADDED" || e.type === "MODIFIED") && wanted(e.object) && started(e.object) &&
                  !seen.has(e.object.metadata!.name!)
                ),
                Stream.map((e) => {
                  seen.add(e.object.metadata!.name!);
                  return e.object.metadata!.name!;
                }),
                Stream.catch(() => Stream.empty),
              )
            : Stream.empty;
          return Stream.concat(Stream.fromIterable(initial), later).pipe(
            Stream.flatMap((pod) => podLines(ns, req, pod), { concurrency: "unbounded" }),
            Stream.interruptWhen(Effect.sleep(config.writeTimeoutMs)),
          );
        }),
      });
    }),
  );
}
