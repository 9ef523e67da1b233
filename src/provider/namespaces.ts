/**
 * Function namespaces. With `cluster_role=true`: the default one plus those
 * labelled or annotated `openfaas=1`, never kube-system, and the namespace CRUD
 * of /system/namespace. Otherwise (faas-netes' default): only the default
 * namespace; any other is a 400 and the CRUD routes answer 501.
 */
import { Context, Effect, Layer, Result } from "effect";
import type { Namespace } from "kubernetes-types/core/v1.d.ts";
import { KubeApi } from "../kube/api.ts";
import { resources } from "../kube/resources.ts";
import { withApiRetry } from "../kube/retry.ts";
import { ProviderConfig } from "../config/config.ts";
import { Caches } from "../kube/caches.ts";
import { mapKube } from "./kubeerrors.ts";
import {
  InvalidRequest,
  NamespaceForbidden,
  NotFound,
  NotImplemented,
  type ProviderError,
} from "../domain/errors.ts";
import type { FunctionNamespace } from "../domain/types.ts";
import { validateAnnotations, validateDnsLabel, validateLabels } from "../domain/validation.ts";
import { systemNamespaces } from "../domain/keys.ts";

const marked = (v: string | undefined) => v === "1" || v === "true";

const isOpenFaaSNamespace = (ns: Namespace): boolean =>
  marked(ns.metadata?.labels?.openfaas) || marked(ns.metadata?.annotations?.openfaas);

export interface NamespacesShape {
  /** The namespace a request acts on: the given one (validated) or the default. */
  resolve(namespace: string | undefined): Effect.Effect<string, ProviderError>;
  /** `resolve` without running an Effect, for hot read paths: the namespace, or the error. */
  resolveNow(namespace: string | undefined): Result.Result<string, ProviderError>;
  list(): Effect.Effect<string[]>;
  get(name: string): Effect.Effect<FunctionNamespace, ProviderError>;
  create(req: FunctionNamespace): Effect.Effect<void, ProviderError>;
  update(name: string, req: FunctionNamespace): Effect.Effect<void, ProviderError>;
  remove(name: string): Effect.Effect<void, ProviderError>;
}

export class Namespaces extends Context.Service<Namespaces, NamespacesShape>()("faas/provider/Namespaces") {
  static layer = Layer.effect(
    Namespaces,
    Effect.gen(function* () {
      const config = yield* ProviderConfig;
      const caches = yield* Caches;
      const k8s = resources(yield* KubeApi);
      const defaultNs = config.functionNamespace;

      const nameCheck = (name: string): Result.Result<void, ProviderError> => {
        const m = validateDnsLabel("namespace", name);
        if (m) return Result.fail(new InvalidRequest({ message: m }));
        if (systemNamespaces.has(name)) {
          return Result.fail(
            new NamespaceForbidden({ message: `namespace ${name} is reserved for the system` }),
          );
        }
        return Result.void;
      };
      const checkName = (name: string) => Effect.fromResult(nameCheck(name));

      const resolveNow = (namespace: string | undefined): Result.Result<string, ProviderError> => {
        const ns = namespace === undefined || namespace === "" ? defaultNs : namespace;
        if (ns === defaultNs) return Result.succeed(ns);
        const invalid = nameCheck(ns);
        if (Result.isFailure(invalid)) return Result.fail(invalid.failure);
        if (!config.clusterRole) {
          return Result.fail(
            new InvalidRequest({
              message:
                `namespace must be: ${defaultNs} (set cluster_role=true to manage functions in other namespaces)`,
            }),
          );
        }
        const obj = caches.namespaces.get(undefined, ns);
        if (!obj || !isOpenFaaSNamespace(obj)) {
          return Result.fail(
            new InvalidRequest({
              message:
                `namespace ${ns} is not a function namespace: it must exist and be labelled or annotated openfaas=1`,
            }),
          );
        }
        return Result.succeed(ns);
      };
      const resolve = (namespace: string | undefined) =>
        Effect.suspend(() => Effect.fromResult(resolveNow(namespace)));

      const list = () =>
        Effect.sync(() => {
          if (!config.clusterRole) return [defaultNs];
          // A namespace being deleted (Terminating) is no longer offered.
          const names = caches.namespaces.list().filter((n) =>
            isOpenFaaSNamespace(n) && !systemNamespaces.has(n.metadata?.name ?? "") &&
            !n.metadata?.deletionTimestamp
          ).map((n) => n.metadata!.name!);
          if (!names.includes(defaultNs)) names.push(defaultNs);
          return names.sort();
        });

      const toWire = (n: Namespace): FunctionNamespace => ({
        name: n.metadata?.name,
        ...(n.metadata?.labels ? { labels: n.metadata.labels } : {}),
        ...(n.metadata?.annotations ? { annotations: n.metadata.annotations } : {}),
      });

      const getMarked = (name: string) =>
        Effect.gen(function* () {
          yield* checkName(name);
          const ns = yield* mapKube(
            withApiRetry(k8s.namespaces.get(undefined, name)),
          );
          if (!isOpenFaaSNamespace(ns)) {
            return yield* new NotFound({ message: `namespace ${name} is not an OpenFaaS namespace` });
          }
          if (ns.metadata?.deletionTimestamp) {
            return yield* new NotFound({ message: `namespace ${name} is being deleted` });
          }
          return ns;
        });

      const checkBody = (req: FunctionNamespace) => {
        const m = validateLabels("labels", req.labels ?? {}) ??
          validateAnnotations("annotations", req.annotations ?? {});
        return m ? Effect.fail(new InvalidRequest({ message: m })) : Effect.void;
      };

      const singleNamespace = new NotImplemented({
        message: "namespace management needs cluster_role=true (and a ClusterRole for namespaces)",
      });
      if (!config.clusterRole) {
        return Namespaces.of({
          resolve,
          resolveNow,
          list,
          get: () => Effect.fail(singleNamespace),
          create: () => Effect.fail(singleNamespace),
          update: () => Effect.fail(singleNamespace),
          remove: () => Effect.fail(singleNamespace),
        });
      }

      return Namespaces.of({
        resolve,
        resolveNow,
        list,
        get: Effect.fn("Namespaces.get")(function* (name: string) {
          return toWire(yield* getMarked(name));
        }),
        create: Effect.fn("Namespaces.create")(function* (req: FunctionNamespace) {
          const name = req.name ?? "";
          if (name === "") return yield* new InvalidRequest({ message: "name: is required" });
          yield* checkName(name);
          yield* checkBody(req);
          if (!marked(req.labels?.openfaas) && !marked(req.annotations?.openfaas)) {
            return yield* new InvalidRequest({
              message: `namespace ${name} must carry the label openfaas=1`,
            });
          }
          const created = yield* mapKube(withApiRetry(k8s.namespaces.create(undefined, {
            metadata: {
              name,
              labels: { ...req.labels, openfaas: "1" },
              annotations: { ...req.annotations, openfaas: "1" },
            },
          })));
          caches.namespaces.upsert(created);
        }),
        update: Effect.fn("Namespaces.update")(function* (name: string, req: FunctionNamespace) {
          if (req.name && req.name !== name) {
            return yield* new InvalidRequest({
              message: `name: "${req.name}" does not match the path "${name}"`,
            });
          }
          yield* checkBody(req);
          const current = yield* getMarked(name);
          // An unconditional replace (no resourceVersion): the request sets the whole label and annotation
          // sets, so a concurrent change must not turn it into a 409.
          const updated = yield* mapKube(withApiRetry(k8s.namespaces.replace(undefined, name, {
            ...current,
            metadata: {
              ...current.metadata,
              resourceVersion: undefined,
              labels: { ...req.labels, "kubernetes.io/metadata.name": name, openfaas: "1" },
              annotations: { ...req.annotations, openfaas: "1" },
            },
          })));
          caches.namespaces.upsert(updated);
        }),
        remove: Effect.fn("Namespaces.remove")(function* (name: string) {
          if (name === defaultNs) {
            return yield* new InvalidRequest({
              message: `namespace ${name} is the default function namespace`,
            });
          }
          yield* getMarked(name);
          const gone = yield* mapKube(
            withApiRetry(k8s.namespaces.remove(undefined, name)),
          );
          caches.namespaces.remove(undefined, name, gone.metadata?.resourceVersion);
        }),
      });
    }),
  );
}
