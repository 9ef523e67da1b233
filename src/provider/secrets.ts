/**
 * Secrets API: OpenFaaS secrets are Kubernetes Secrets labelled
 * `app.kubernetes.io/managed-by=openfaas` holding one key named after the
 * secret. Values are write-only: never returned, never logged.
 */
import { Context, Effect, Layer } from "effect";
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import { isNotFound, KubeApi } from "../kube/api.ts";
import { paths } from "../kube/resources.ts";
import { conflictRetry, withApiRetry } from "../kube/retry.ts";
import { Namespaces } from "./namespaces.ts";
import { fromKube, mapKube } from "./kubeerrors.ts";
import { AlreadyExists, InvalidRequest, NotFound, type ProviderError } from "../domain/errors.ts";
import type { SecretRequest } from "../domain/types.ts";
import { validateSecretName } from "../domain/validation.ts";

export const managedByLabel = "app.kubernetes.io/managed-by";
export const managedByValue = "openfaas";

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
  const bytes = new TextEncoder().encode(req.value ?? "");
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
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
      const kube = yield* KubeApi;
      const namespaces = yield* Namespaces;

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
        list: (namespace) =>
          Effect.gen(function* () {
            const ns = yield* namespaces.resolve(namespace);
            const list = yield* mapKube(withApiRetry(kube.request<{ items: Secret[] }>({
              method: "GET",
              path: paths.secrets(ns),
              query: { labelSelector: `${managedByLabel}=${managedByValue}` },
            })));
            return list.items.map((s) => ({ name: s.metadata!.name!, namespace: ns }))
              .sort((a, b) => (a.name < b.name ? -1 : 1));
          }),
        create: (req) =>
          Effect.gen(function* () {
            yield* checkName(req.name);
            const value = yield* data(req);
            const ns = yield* namespaces.resolve(req.namespace);
            yield* kube.request({
              method: "POST",
              path: paths.secrets(ns),
              body: {
                apiVersion: "v1",
                kind: "Secret",
                type: "Opaque",
                metadata: { name: req.name, namespace: ns, labels: { [managedByLabel]: managedByValue } },
                data: { [req.name]: value },
              },
            }).pipe(
              withApiRetry,
              Effect.mapError((e) =>
                e.status === 409
                  ? new AlreadyExists({ message: `secret ${req.name} already exists in namespace ${ns}` })
                  : fromKube(e)
              ),
            );
            yield* Effect.logInfo(`created secret ${req.name} in ${ns}`);
          }),
        update: (req) =>
          Effect.gen(function* () {
            yield* checkName(req.name);
            const value = yield* data(req);
            const ns = yield* namespaces.resolve(req.namespace);
            yield* kube.request<Secret>({ method: "GET", path: paths.secrets(ns, req.name) }).pipe(
              Effect.flatMap((current) =>
                kube.request({
                  method: "PUT",
                  path: paths.secrets(ns, req.name),
                  body: { ...current, data: { [req.name]: value } },
                })
              ),
              Effect.retry(conflictRetry),
              withApiRetry,
              Effect.mapError((e) => (isNotFound(e) ? notFound(req.name, ns) : fromKube(e))),
            );
            yield* Effect.logInfo(`updated secret ${req.name} in ${ns}`);
          }),
        remove: (name, namespace) =>
          Effect.gen(function* () {
            yield* checkName(name);
            const ns = yield* namespaces.resolve(namespace);
            yield* kube.request({ method: "DELETE", path: paths.secrets(ns, name) }).pipe(
              withApiRetry,
              Effect.mapError((e) => (isNotFound(e) ? notFound(name, ns) : fromKube(e))),
            );
            yield* Effect.logInfo(`deleted secret ${name} in ${ns}`);
          }),
      });
    }),
  );
}
