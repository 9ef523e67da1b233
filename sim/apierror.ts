/**
 * The simulator's API errors: what the API server answers with a Kubernetes Status (its code, reason
 * and message), thrown by the store, the patch algorithms and the fault injector alike.
 */
import { Data } from "effect";
import { type KindInfo, qualifiedName } from "./kinds.ts";

export class ApiError extends Data.TaggedError("ApiError")<{
  /** The HTTP status, as Kubernetes' Status.code. */
  readonly code: number;
  /** Kubernetes' StatusReason (NotFound, Conflict, Invalid, ...). */
  readonly reason: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
}> {
  static of(code: number, reason: string, message: string, retryAfterSeconds?: number): ApiError {
    return new ApiError({ code, reason, message, retryAfterSeconds });
  }
  toStatus() {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
  }
}

/** 409 Conflict on a stale resourceVersion, in the real API server's words. */
export const conflict = (kind: KindInfo | undefined, name: string, note = ""): ApiError =>
  ApiError.of(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${
      kind ? qualifiedName(kind) : "objects"
    } "${name}": the object has been modified; please apply your changes to the latest version and try again${note}`,
  );
