/**
 * `metadata.generation` on update, by each kind's rule (KindInfo.generation), as the registry
 * strategies of Kubernetes 1.33 keep it.
 */
import type { KindInfo, KObj } from "./kinds.ts";

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const withoutMetadata = ({ metadata: _metadata, ...rest }: KObj) => rest;

/**
 * `metadata.generation` after an update of `current` to `next` (whose status the store has already
 * reset where a status subresource keeps it): bumped by the kind's rule, else unchanged. A kind
 * without generation keeps whatever it has.
 */
export const nextGeneration = (kind: KindInfo, current: KObj, next: KObj): number | undefined => {
  const generation = current.metadata.generation;
  const changed = ((): boolean => {
    switch (kind.generation) {
      case "spec":
        return !sameJson(next.spec, current.spec);
      case "specOrAnnotations":
        return !sameJson(next.spec, current.spec) ||
          !sameJson(next.metadata.annotations ?? {}, current.metadata.annotations ?? {});
      case "content":
        return !sameJson(withoutMetadata(next), withoutMetadata(current));
      case "contentOrLabels":
        return !sameJson(withoutMetadata(next), withoutMetadata(current)) ||
          !sameJson(next.metadata.labels ?? {}, current.metadata.labels ?? {});
      default:
        return false;
    }
  })();
  return changed ? (generation ?? 0) + 1 : generation;
};
