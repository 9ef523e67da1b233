/**
 * What the API server's decoder refuses before defaulting and validation: numbers that do not fit the
 * Go field they decode into.
 */
import { ApiError } from "./apierror.ts";
import { type KindInfo, Kinds, type KObj } from "./kinds.ts";

/** The largest `spec.replicas` a Deployment (an int32 field) can hold. */
const maxInt32 = 2_147_483_647;

/**
 * A Deployment's replicas is an int32: a larger number does not decode, and the API server answers
 * 400 before anything else, in Go's words.
 */
export const checkInt32 = (kind: KindInfo, obj: KObj) => {
  const replicas = obj?.spec?.replicas;
  if (kind !== Kinds.Deployment || typeof replicas !== "number" || Math.abs(replicas) <= maxInt32) return;
  throw ApiError.of(
    400,
    "BadRequest",
    `Deployment in version "${kind.version}" cannot be handled as a Deployment: json: cannot unmarshal number ${replicas} into Go struct field DeploymentSpec.spec.replicas of type int32`,
  );
};
