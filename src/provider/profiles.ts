/**
 * OpenFaaS Profiles (CRD `openfaas.com/v1`, kind `Profile`), as faas-netes
 * classic applies them: a function names them in the annotation
 * `com.openfaas.profile` ("a, b"); they are read from `profiles_namespace` and
 * applied in order to the pod spec after it is built, later ones overriding
 * earlier ones:
 *  - `tolerations` are appended (each at most once),
 *  - `runtimeClassName`, `podSecurityContext` and `affinity` replace the pod's.
 * On update, profiles the function no longer names are removed first (their
 * tolerations filtered out, the runtime class and affinity cleared when they are
 * still the profile's, the security-context fields the profile set cleared),
 * then the named ones are applied again.
 */
import type { PodSecurityContext, PodSpec } from "kubernetes-types/core/v1.d.ts";
import type { Profile } from "../kube/resources.ts";

export type { Profile, ProfileSpec } from "../kube/resources.ts";

/** Deep equality of JSON values (key order ignored). */
const same = (a: unknown, b: unknown): boolean => {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
};

/** Applies profiles to a pod spec, in place, in order. */
export const applyProfiles = (pod: PodSpec, profiles: readonly Profile[]): void => {
  for (const { spec } of profiles) {
    if (!spec) continue;
    if (spec.tolerations?.length) {
      const tolerations = [...(pod.tolerations ?? [])];
      for (const t of spec.tolerations) {
        if (!tolerations.some((x) => same(x, t))) tolerations.push(structuredClone(t));
      }
      pod.tolerations = tolerations;
    }
    if (spec.runtimeClassName !== undefined) pod.runtimeClassName = spec.runtimeClassName;
    if (spec.podSecurityContext !== undefined) pod.securityContext = structuredClone(spec.podSecurityContext);
    if (spec.affinity !== undefined) pod.affinity = structuredClone(spec.affinity);
  }
};

/** Undoes what profiles applied to a pod spec, in place, where it is still theirs. */
export const removeProfiles = (pod: PodSpec, profiles: readonly Profile[]): void => {
  for (const { spec } of profiles) {
    if (!spec) continue;
    if (spec.tolerations?.length && pod.tolerations) {
      pod.tolerations = pod.tolerations.filter((t) => !spec.tolerations!.some((x) => same(x, t)));
      if (pod.tolerations.length === 0) delete pod.tolerations;
    }
    if (spec.runtimeClassName !== undefined && pod.runtimeClassName === spec.runtimeClassName) {
      delete pod.runtimeClassName;
    }
    if (spec.affinity !== undefined && same(pod.affinity, spec.affinity)) delete pod.affinity;
    if (spec.podSecurityContext !== undefined && pod.securityContext) {
      const context = { ...pod.securityContext } as Record<string, unknown>;
      for (const key of Object.keys(spec.podSecurityContext)) delete context[key];
      pod.securityContext = context as PodSecurityContext;
    }
  }
};
