/**
 * Function use cases: list, status, deploy, update, delete and scale, over
 * KubeApi, with reads from the watch-fed Deployment cache and read-after-write
 * for the provider's own writes.
 */
import { Clock, Context, Effect, Layer, Result } from "effect";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { isAlreadyExists, isNotFound, KubeApi, type KubeError } from "../kube/api.ts";
import { resources } from "../kube/resources.ts";
import { conflictRetry, idempotentCreate, idempotentDelete, withApiRetry } from "../kube/retry.ts";
import { ProviderConfig } from "../config/config.ts";
import { Caches } from "../kube/caches.ts";
import { Replicas } from "../kube/replicas.ts";
import { Namespaces } from "./namespaces.ts";
import { kubeErrors, mapKube } from "./kubeerrors.ts";
import {
  applyServiceUpdate,
  applyUpdate,
  isPullSecret,
  type SecretRef,
  serviceFor,
  toFunctionStatus,
  toKubernetes,
} from "./translate.ts";
import {
  AlreadyExists,
  ClusterError,
  InvalidRequest,
  NotFound,
  type ProviderError,
} from "../domain/errors.ts";
import type { FunctionDeployment, FunctionStatus } from "../domain/types.ts";
import { validateFunctionDeployment } from "../domain/function.ts";
import { validateDnsLabel, validateReplicas } from "../domain/validation.ts";
import { readinessOf } from "./health.ts";
import { functionLabel } from "../domain/keys.ts";
import type { Profile } from "../kube/resources.ts";
import { profileAnnotation, profileNames } from "../domain/keys.ts";
import { dockerAuths, ImageCheck } from "./imagecheck.ts";

export interface FunctionsShape {
  list(namespace?: string): Effect.Effect<FunctionStatus[], ProviderError>;
  status(name: string, namespace?: string): Effect.Effect<FunctionStatus, ProviderError>;
  /** `status` without running an Effect (the hot read: a lookup in the caches): the status, or the error. */
  statusNow(name: string, namespace?: string): Result.Result<FunctionStatus, ProviderError>;
  deploy(req: FunctionDeployment): Effect.Effect<void, ProviderError>;
  update(req: FunctionDeployment): Effect.Effect<void, ProviderError>;
  remove(name: string, namespace?: string): Effect.Effect<void, ProviderError>;
  scale(name: string, replicas: number, namespace?: string): Effect.Effect<void, ProviderError>;
}

export class Functions extends Context.Service<Functions, FunctionsShape>()("faas/provider/Functions") {
  static layer = Layer.effect(
    Functions,
    Effect.gen(function* () {
      const config = yield* ProviderConfig;
      const caches = yield* Caches;
      const namespaces = yield* Namespaces;
      const k8s = resources(yield* KubeApi);
      const imageCheck = yield* ImageCheck;
      const replicaWriter = yield* Replicas;
      const deployments = caches.deployments;

      /** Statuses per Deployment object: the cache replaces an object whenever it changes. */
      const statuses = new WeakMap<Deployment, FunctionStatus>();
      const baseStatus = (d: Deployment) => {
        let s = statuses.get(d);
        if (!s) statuses.set(d, s = toFunctionStatus(d));
        return s;
      };

      const lists = new Map<string, { version: string; items: FunctionStatus[] }>();

      /** Function pods of a namespace grouped by function, for readiness reasons. */
      const podsByFunction = (ns: string) => {
        const groups = new Map<string, Pod[]>();
        for (const p of caches.pods.list(ns)) {
          const fn = p.metadata?.labels?.[functionLabel];
          if (fn === undefined) continue;
          let g = groups.get(fn);
          if (!g) groups.set(fn, g = []);
          g.push(p);
        }
        return groups;
      };

      /** Status plus, when not every replica is available, the reason from the pods. */
      const statusOf = (d: Deployment, pods: () => Map<string, Pod[]>): FunctionStatus => {
        const s = baseStatus(d);
        if (s.availableReplicas >= s.replicas) return s;
        const readiness = readinessOf(pods().get(d.metadata!.name!) ?? []);
        return readiness ? { ...s, readiness } : s;
      };

      const isFunction = (d: Deployment | undefined): d is Deployment =>
        d !== undefined && d.metadata?.labels?.[functionLabel] !== undefined;

      const notFound = (name: string, ns: string) =>
        new NotFound({ message: `function ${name} not found in namespace ${ns}` });

      /** The function's namespace (resolved) and its Deployment from the cache, or NotFound. */
      const lookup = (name: string, namespace: string | undefined) =>
        Result.flatMap(namespaces.resolveNow(namespace), (ns) => {
          const d = deployments.get(ns, name);
          return isFunction(d) ? Result.succeed({ ns, d }) : Result.fail(notFound(name, ns));
        });
      const existing = (name: string, namespace: string | undefined) =>
        Effect.suspend(() => Effect.fromResult(lookup(name, namespace)));

      /** A name no function can have is simply not found (404, as faas-netes answers; faas-cli says "no such function"). */
      const nameCheck = (name: string): Result.Result<void, ProviderError> => {
        const m = validateDnsLabel("name", name);
        return m ? Result.fail(new NotFound({ message: `function ${name} not found: ${m}` })) : Result.void;
      };
      const checkName = (name: string) => Effect.fromResult(nameCheck(name));

      /** The checks of checkName and existing, then the status; plain code, no Effect (bench:check). */
      const statusNow = (name: string, namespace?: string): Result.Result<FunctionStatus, ProviderError> =>
        Result.flatMap(
          nameCheck(name),
          () => Result.map(lookup(name, namespace), ({ ns, d }) => statusOf(d, () => podsByFunction(ns))),
        );

      /** Looks up the named secrets in the function's namespace; any missing one is a 400. */
      const resolveSecrets = (names: readonly string[], ns: string) =>
        Effect.forEach(names, (name) =>
          k8s.secrets.get(ns, name).pipe(
            withApiRetry,
            Effect.map((s): SecretRef => {
              const ref = { name, type: s.type, keys: Object.keys(s.data ?? {}) };
              return isPullSecret(ref) ? { ...ref, auths: dockerAuths(s) } : ref;
            }),
            kubeErrors({
              notFound: () =>
                new InvalidRequest({ message: `secrets: secret "${name}" not found in namespace ${ns}` }),
            }),
          ));

      /** The credentials of the function's pull secrets, for the image check. */
      const pullAuths = (secrets: readonly SecretRef[]) =>
        Object.assign({}, ...secrets.map((s) => s.auths ?? {}));

      /**
       * The named Profiles from `profiles_namespace`, in order. A missing one fails the request (400)
       * when `required`; otherwise (profiles to remove on update) it is skipped.
       */
      const profilesNotServed =
        " (the cluster does not serve openfaas.com/v1 profiles: is OpenFaaS's Profile CRD installed?)";
      const loadProfiles = (names: readonly string[], required: boolean) =>
        Effect.forEach(names, (name) =>
          k8s.profiles.get(config.profilesNamespace, name).pipe(
            withApiRetry,
            Effect.map((p): Profile | undefined => p),
            Effect.catchIf((e: KubeError) => !required && isNotFound(e), () => Effect.succeed(undefined)),
            kubeErrors({
              notFound: (e) =>
                new InvalidRequest({
                  message:
                    `annotations: ${profileAnnotation}: profile "${name}" not found in namespace ${config.profilesNamespace}${
                      // A 404 that names no object: the cluster does not serve openfaas.com/v1 profiles at all.
                      e.message.includes(`"${name}"`) ? "" : profilesNotServed}`,
                }),
            }),
          )).pipe(Effect.map((ps) => ps.filter((p): p is Profile => p !== undefined)));

      const validated = (req: FunctionDeployment) => {
        const m = validateFunctionDeployment(req);
        return m ? Effect.fail(new InvalidRequest({ message: m })) : Effect.succeed(req);
      };

      const deploy = Effect.fn("Functions.deploy")(function* (input: FunctionDeployment) {
        const req = yield* validated(input);
        const ns = yield* namespaces.resolve(req.namespace);
        if (isFunction(deployments.get(ns, req.service))) {
          return yield* new AlreadyExists({
            message: `function ${req.service} already exists in namespace ${ns}`,
          });
        }
        const secrets = yield* resolveSecrets(req.secrets ?? [], ns);
        yield* imageCheck.check(req.image, pullAuths(secrets));
        const profiles = yield* loadProfiles(profileNames(req.annotations), true);
        const { deployment, service } = toKubernetes(req, ns, secrets, config, profiles);
        const created = yield* idempotentCreate(
          k8s.deployments.create(ns, deployment),
          // A retried create that had in fact succeeded: the stored Deployment is ours if it matches.
          k8s.deployments.get(ns, req.service).pipe(
            Effect.map((d) =>
              isFunction(d) && d.spec?.template.spec?.containers[0]?.image === req.image &&
                JSON.stringify(d.spec?.template.metadata?.labels) ===
                  JSON.stringify(deployment.spec?.template.metadata?.labels)
                ? d
                : undefined
            ),
          ),
        ).pipe(
          kubeErrors({
            alreadyExists: () =>
              new AlreadyExists({ message: `function ${req.service} already exists in namespace ${ns}` }),
          }),
        );
        deployments.upsert(created);
        yield* k8s.services.create(ns, service).pipe(
          withApiRetry,
          Effect.catchIf(isAlreadyExists, () => upsertService(ns, req)),
          Effect.tapError(() =>
            // Never leave half a function behind.
            k8s.deployments.remove(ns, req.service).pipe(
              withApiRetry,
              Effect.tap(() => Effect.sync(() => deployments.remove(ns, req.service))),
              Effect.ignore,
            )
          ),
          kubeErrors({
            alreadyExists: () => stillConflicting(`deploy function ${req.service}`, "its Service"),
          }),
        );
        yield* Effect.logInfo(`deployed function ${req.service} in ${ns} (image ${req.image})`);
      });

      /**
       * A read-modify-write still conflicting after conflictRetry's tries: a 500, as faas-netes answers a
       * failed update, not a 409 that clients read as "already exists" or "nothing changed".
       */
      const stillConflicting = (what: string, object: string) =>
        new ClusterError({
          status: 500,
          message: `unable to ${what}: ${object} kept changing under the update (409 Conflict after retries)`,
        });

      const upsertService = (ns: string, req: FunctionDeployment) =>
        k8s.services.get(ns, req.service).pipe(
          Effect.flatMap((svc) => k8s.services.replace(ns, req.service, applyServiceUpdate(svc, req))),
          Effect.retry(conflictRetry),
          withApiRetry,
        );

      const update = Effect.fn("Functions.update")(function* (input: FunctionDeployment) {
        const req = yield* validated(input);
        const { ns, d } = yield* existing(req.service, req.namespace);
        const secrets = yield* resolveSecrets(req.secrets ?? [], ns);
        yield* imageCheck.check(req.image, pullAuths(secrets));
        const rolloutId = String(yield* Clock.currentTimeNanos);
        const wanted = profileNames(req.annotations);
        const apply = yield* loadProfiles(wanted, true);
        // Profiles the function named before but not now are taken off first.
        const before = profileNames(d.spec?.template.metadata?.annotations);
        const remove = yield* loadProfiles(before.filter((n) => !wanted.includes(n)), false);
        const updated = yield* k8s.deployments.get(ns, req.service).pipe(
          Effect.flatMap((current) =>
            k8s.deployments.replace(
              ns,
              req.service,
              applyUpdate(current, req, secrets, config, rolloutId, { remove, apply }),
            )
          ),
          Effect.retry(conflictRetry),
          withApiRetry,
          kubeErrors({
            notFound: () => notFound(req.service, ns),
            alreadyExists: () => stillConflicting(`update function ${req.service}`, "its Deployment"),
          }),
        );
        deployments.upsert(updated);
        // The Deployment is updated: a failure from here is the server's (5xx), never "nothing happened" (4xx).
        yield* upsertService(ns, req).pipe(
          Effect.catchIf(isNotFound, () => k8s.services.create(ns, serviceFor(req, ns))),
          kubeErrors({
            alreadyExists: () =>
              stillConflicting(`update function ${req.service}`, "its Service (its Deployment was updated)"),
          }),
        );
        yield* Effect.logInfo(`updated function ${req.service} in ${ns} (image ${req.image})`);
      });

      const remove = Effect.fn("Functions.remove")(function* (name: string, namespace?: string) {
        yield* checkName(name);
        const { ns } = yield* existing(name, namespace);
        const gone = yield* idempotentDelete(
          k8s.deployments.remove(ns, name, { propagationPolicy: "Foreground" }),
        ).pipe(kubeErrors({ notFound: () => notFound(name, ns) }));
        deployments.remove(ns, name, gone?.metadata?.resourceVersion);
        yield* k8s.services.remove(ns, name).pipe(
          withApiRetry,
          Effect.catchIf(isNotFound, () => Effect.void),
          mapKube,
        );
        yield* Effect.logInfo(`deleted function ${name} in ${ns}`);
      });

      const scale = Effect.fn("Functions.scale")(
        function* (name: string, replicas: number, namespace?: string) {
          yield* checkName(name);
          const invalid = validateReplicas("replicas", replicas);
          if (invalid) return yield* new InvalidRequest({ message: invalid });
          const { ns } = yield* existing(name, namespace);
          yield* replicaWriter.scale(ns, name, replicas).pipe(
            kubeErrors({ notFound: () => notFound(name, ns) }),
          );
        },
      );

      return Functions.of({
        list: Effect.fn("Functions.list")(function* (namespace?: string) {
          const ns = yield* namespaces.resolve(namespace);
          // The same list (same objects) while neither cache changed: callers may reuse its encoding.
          const version = `${deployments.version()}/${caches.pods.version()}`;
          const cached = lists.get(ns);
          if (cached?.version === version) return cached.items;
          let grouped: Map<string, Pod[]> | undefined;
          const pods = () => (grouped ??= podsByFunction(ns));
          const items = deployments.list(ns).filter(isFunction).map((d) => statusOf(d, pods)).sort((a, b) =>
            a.name < b.name ? -1 : a.name > b.name ? 1 : 0
          );
          lists.set(ns, { version, items });
          return items;
        }),
        status: (name, namespace) => Effect.suspend(() => Effect.fromResult(statusNow(name, namespace))),
        statusNow,
        deploy,
        update,
        remove,
        scale,
      });
    }),
  );
}
