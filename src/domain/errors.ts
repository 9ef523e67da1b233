/**
 * The provider's failures, as tagged errors. src/http maps each tag to one
 * status code; nothing else in the provider knows about HTTP.
 */
import { Data } from "effect";

/** Bad input: a field that is missing, malformed or out of range (400). */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{ readonly message: string }> {}

/** A function, secret or namespace that does not exist (404). */
export class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

/** A create of something that already exists, or a write that lost a race (409). */
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{ readonly message: string }> {}

/** A namespace the provider must never touch, like kube-system (401, as faas-netes classic). */
export class NamespaceForbidden
  extends Data.TaggedError("NamespaceForbidden")<{ readonly message: string }> {}

/** The request body is larger than the configured limit (413). */
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{ readonly message: string }> {}

/** The request body did not arrive within read_timeout (408). */
export class RequestTimeout extends Data.TaggedError("RequestTimeout")<{ readonly message: string }> {}

/** A well-formed request the provider cannot process (422), e.g. a bad log query. */
export class Unprocessable extends Data.TaggedError("Unprocessable")<{ readonly message: string }> {}

/** The cluster refused or failed the operation (mapped from the Kubernetes status). */
export class ClusterError extends Data.TaggedError("ClusterError")<{
  readonly status: number;
  readonly message: string;
}> {}

/** A route that exists in the contract but not in this provider (501). */
export class NotImplemented extends Data.TaggedError("NotImplemented")<{ readonly message: string }> {}

export type ProviderError =
  | InvalidRequest
  | NotFound
  | AlreadyExists
  | NamespaceForbidden
  | PayloadTooLarge
  | RequestTimeout
  | Unprocessable
  | ClusterError
  | NotImplemented;
