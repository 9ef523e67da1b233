/** Kubernetes failures as provider errors (faas-netes' ProcessErrorReasons mapping). */
import { Effect } from "effect";
import type { KubeError } from "../kube/api.ts";
import {
  AlreadyExists,
  ClusterError,
  InvalidRequest,
  NotFound,
  type ProviderError,
} from "../domain/errors.ts";

export const fromKube = (e: KubeError): ProviderError => {
  switch (e.status) {
    case 404:
    case 410:
      return new NotFound({ message: e.message });
    case 409:
      return new AlreadyExists({ message: e.message });
    case 400:
    case 422:
      return new InvalidRequest({ message: e.message });
    case 403:
      return new ClusterError({ status: 403, message: e.message });
    case 408:
      return new ClusterError({ status: 408, message: e.message });
    default:
      return new ClusterError({ status: 500, message: `kubernetes API: ${e.message}` });
  }
};

export const mapKube = <A, R>(effect: Effect.Effect<A, KubeError, R>): Effect.Effect<A, ProviderError, R> =>
  Effect.mapError(effect, fromKube);
