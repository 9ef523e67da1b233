/**
 * Kubernetes failures as provider errors, by faas-netes' ProcessErrorReasons table (its secrets handler):
 * NotFound/Gone 404, AlreadyExists/Conflict 409, Invalid 422, BadRequest 400, Forbidden 403, Timeout 408,
 * anything else 500. Every route uses it; the function and namespace routes validate their input first,
 * so a 400 or 422 from the cluster is rare there.
 */
import { Effect } from "effect";
import type { KubeError } from "../kube/api.ts";
import {
  AlreadyExists,
  ClusterError,
  InvalidRequest,
  NotFound,
  type ProviderError,
  Unprocessable,
} from "../domain/errors.ts";

/** What a use case says instead of the generic mapping, e.g. "function x not found in namespace y". */
export interface KubeOverrides {
  /** 404 (NotFound) and 410 (Gone); given the failure, to tell a missing object from a missing API. */
  readonly notFound?: (e: KubeError) => ProviderError;
  /** 409 AlreadyExists and Conflict. */
  readonly alreadyExists?: () => ProviderError;
}

export const fromKube = (e: KubeError, overrides: KubeOverrides = {}): ProviderError => {
  if ((e.status === 404 || e.status === 410) && overrides.notFound) return overrides.notFound(e);
  if (e.status === 409 && overrides.alreadyExists) return overrides.alreadyExists();
  switch (e.status) {
    case 404:
    case 410:
      return new NotFound({ message: e.message });
    case 409:
      return new AlreadyExists({ message: e.message });
    case 400:
      return new InvalidRequest({ message: e.message });
    case 422:
      return new Unprocessable({ message: e.message });
    case 403:
      return new ClusterError({ status: 403, message: e.message });
    case 408:
      return new ClusterError({ status: 408, message: e.message });
    default:
      return new ClusterError({ status: 500, message: `kubernetes API: ${e.message}` });
  }
};

export const mapKube = <A, R>(
  effect: Effect.Effect<A, KubeError, R>,
  overrides?: KubeOverrides,
): Effect.Effect<A, ProviderError, R> => Effect.mapError(effect, (e) => fromKube(e, overrides));

/** `mapKube` with overrides, for a pipe. */
export const kubeErrors = (overrides: KubeOverrides) => <A, R>(effect: Effect.Effect<A, KubeError, R>) =>
  mapKube(effect, overrides);
