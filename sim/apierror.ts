/**
 * The simulator's API errors: what the API server answers with a Kubernetes Status (its code, reason,
 * message and details), thrown by the store, the patch algorithms and the fault injector alike.
 */
import { Data } from "effect";
import { type KindInfo, qualifiedName } from "./kinds.ts";

/** One field error of a 422 Invalid, as metav1.StatusCause. */
export interface StatusCause {
  /** FieldValueInvalid, FieldValueRequired, FieldValueForbidden, ... */
  readonly reason: string;
  readonly message: string;
  readonly field: string;
}

/** metav1.StatusDetails: which object the Status is about (`kind` is the resource for most errors). */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
}

export class ApiError extends Data.TaggedError("ApiError")<{
  /** The HTTP status, as Kubernetes' Status.code. */
  readonly code: number;
  /** Kubernetes' StatusReason (NotFound, Conflict, Invalid, ...). */
  readonly reason: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  readonly details?: StatusDetails;
}> {
  static of(code: number, reason: string, message: string, retryAfterSeconds?: number): ApiError {
    return new ApiError({ code, reason, message, retryAfterSeconds });
  }
  /** This error with Status.details (empty fields are left out, as Go's omitempty does). */
  withDetails(details: StatusDetails): ApiError {
    const clean = Object.fromEntries(
      Object.entries(details).filter(([, v]) => v !== undefined && v !== ""),
    ) as StatusDetails;
    const { code, reason, message, retryAfterSeconds } = this;
    return new ApiError({ code, reason, message, retryAfterSeconds, details: clean });
  }
  toStatus() {
    const details = this.details;
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(details ? { details } : {}),
      code: this.code,
    };
  }
}

/** The details Kubernetes gives errors about a resource (NewNotFound, NewConflict, NewAlreadyExists). */
export const resourceDetails = (kind: KindInfo | undefined, name: string): StatusDetails => ({
  name,
  group: kind?.group || undefined,
  kind: kind?.plural,
});

/** 404 NotFound for an object, in the real API server's words and details. */
export const notFound = (kind: KindInfo, name: string): ApiError =>
  ApiError.of(404, "NotFound", `${qualifiedName(kind)} "${name}" not found`).withDetails(
    resourceDetails(kind, name),
  );

/** 409 Conflict on a stale resourceVersion, in the real API server's words. */
export const conflict = (kind: KindInfo | undefined, name: string, note = ""): ApiError =>
  ApiError.of(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${
      kind ? qualifiedName(kind) : "objects"
    } "${name}": the object has been modified; please apply your changes to the latest version and try again${note}`,
  ).withDetails(resourceDetails(kind, name));

/** The cause types of field.ErrorType, by the words their messages start with. */
const causeTypes: [string, string][] = [
  ["Invalid value", "FieldValueInvalid"],
  ["Required value", "FieldValueRequired"],
  ["Forbidden", "FieldValueForbidden"],
  ["Unsupported value", "FieldValueNotSupported"],
  ["Duplicate value", "FieldValueDuplicate"],
  ["Too long", "FieldValueTooLong"],
  ["Too many", "FieldValueTooMany"],
  ["Not found", "FieldValueNotFound"],
  ["Internal error", "InternalError"],
];

/** A field error in `path: Type: detail` form as a StatusCause (message: what follows the path). */
export const causeOf = (error: string): StatusCause => {
  const at = error.indexOf(": ");
  const field = at >= 0 ? error.slice(0, at) : "";
  const message = at >= 0 ? error.slice(at + 2) : error;
  const type = causeTypes.find(([words]) => message.startsWith(words))?.[1] ?? "FieldValueInvalid";
  return { reason: type, message, field };
};

/**
 * 422 Invalid, as NewInvalid: the details name the kind (not the resource) and list one cause per
 * field error. `group` defaults to the kind's.
 */
export const invalid = (
  kind: { readonly kind: string; readonly group: string },
  name: string,
  errors: readonly string[],
): ApiError =>
  ApiError.of(422, "Invalid", `${kind.kind} "${name}" is invalid: ${errors.join(", ")}`).withDetails({
    name,
    group: kind.group || undefined,
    kind: kind.kind,
    causes: errors.map(causeOf),
  });
