/**
 * Secrets API: OpenFaaS secrets are Kubernetes Secrets labelled
 * `app.kubernetes.io/managed-by=openfaas` holding one key named after the
 * secret. Values are write-only: never returned, never logged.
 */
import { Context, Effect, Layer } from "effect";
import { KubeApi } from "../kube/api.ts";
import { resources } from "../kube/resources.ts";
import { conflictRetry, idempotentCreate, idempotentDelete, withApiRetry } from "../kube/retry.ts";
import { Namespaces } from "./namespaces.ts";
import { Caches, managedByLabel, managedByValue } from "../kube/caches.ts";
import { kubeErrors } from "./kubeerrors.ts";
import { AlreadyExists, InvalidRequest, NotFound, type ProviderError } from "../domain/errors.ts";
import type { SecretRequest } from "../domain/types.ts";
import { validateSecretName } from "../domain/validation.ts";
import { encodeBase64Text } from "../lib/base64.ts";

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The base64 `data` value of a request: `rawValue` (base64) when given, else `value` as UTF-8. */
export const secretData = (req: SecretRequest): string | InvalidRequest => {
  if (req.rawValue) {
    const raw = req.rawValue.replace(/\s+/g, "");
    if (!base64.test(raw) || raw.length % 4 !== 0) {
      return new InvalidRequest({ message: "rawValue: must be standard base64" });
    }
    return raw;
  }
  return encodeBase64Text(req.value ?? "");
};

export interface SecretsShape {
  list(namespace?: string): Effect.Effect<{ name: string; namespace: string }[], ProviderError>;
  create(req: SecretRequest): Effect.Effect<void, ProviderError>;
  update(req: SecretRequest): Effect.Effect<void, ProviderError>;
  remove(name: string, namespace?: string): Effect.Effect<void, ProviderError>;
}

export class Secrets extends Context.Service<Secrets, SecretsShape>()("faas/provider/Secrets") {
  static layer = Layer.effect(
    Secrets,
    Effect.gen(function* () {
      const k8s = resources(yield* KubeApi);
      const namespaces = yield* Namespaces;
      const cache = (yield* Caches).secrets;

      const checkName = (name: string) => {
        const m = name === "" ? "name: is required" : validateSecretName("name", name);
        return m ? Effect.fail(new InvalidRequest({ message: m })) : Effect.void;
      };
      const data = (req: SecretRequest) => {
        const d = secretData(req);
        return d instanceof InvalidRequest ? Effect.fail(d) : Effect.succeed(d);
      };
      const notFound = (name: string, ns: string) =>
        new NotFound({ message: `secret ${name} not found in namespace ${ns}` });

      return Secrets.of({
        list: Effect.fn("Secrets.list")(function* (namespace?: string) {
          const ns = yield* namespaces.resolve(namespace);
          return cache.list(ns).map((s) => ({ name: s.metadata!.name!, namespace: ns }))
            .sort((a, b) => (a.name < b.name ? -1 : 1));
        }),
        create: Effect.fn("Secrets.create")(function* (req: SecretRequest) {
          yield* checkName(req.name);
          const value = yield* data(req);
          const ns = yield* namespaces.resolve(req.namespace);
          const created = yield* idempotentCreate(
            k8s.secrets.create(ns, {
              apiVersion: "v1",
              kind: "Secret",
              type: "Opaque",
              metadata: { name: req.name, namespace: ns, labels: { [managedByLabel]: managedByValue } },
              data: { [req.name]: value },
            }),
            // A retried create that had in fact succeeded: the stored secret is ours if it holds our value.
            k8s.secrets.get(ns, req.name).pipe(
              Effect.map((s) =>
                s.metadata?.labels?.[managedByLabel] === managedByValue && s.data?.[req.name] === value
                  ? s
                  : undefined
              ),
            ),
          ).pipe(
            kubeErrors({
              alreadyExists: () =>
                new AlreadyExists({ message: `secret ${req.name} already exists in namespace ${ns}` }),
            }),
          );
          cache.upsert(created);
          yield* Effect.logInfo(`created secret ${req.name} in ${ns}`);
        }),
        update: Effect.fn("Secrets.update")(function* (req: SecretRequest) {
          yield* checkName(req.name);
          const value = yield* data(req);
          const ns = yield* namespaces.resolve(req.namespace);
          const updated = yield* k8s.secrets.get(ns, req.name)
            .pipe(
              Effect.flatMap((current) =>
                k8s.secrets.replace(ns, req.name, { ...current, data: { [req.name]: value } })
              ),
              Effect.retry(conflictRetry),
              withApiRetry,
              kubeErrors({ notFound: () => notFound(req.name, ns) }),
            );
          if (updated.metadata?.labels?.[managedByLabel] === managedByValue) cache.upsert(updated);
          yield* Effect.logInfo(`updated secret ${req.name} in ${ns}`);
        }),
        remove: Effect.fn("Secrets.remove")(function* (name: string, namespace?: string) {
          yield* checkName(name);
          const ns = yield* namespaces.resolve(namespace);
          const gone = yield* idempotentDelete(
            k8s.secrets.remove(ns, name),
          )
            .pipe(kubeErrors({ notFound: () => notFound(name, ns) }));
          cache.remove(ns, name, gone?.metadata?.resourceVersion);
          yield* Effect.logInfo(`deleted secret ${name} in ${ns}`);
        }),
      });
    }),
  );
}
