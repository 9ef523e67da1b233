/**
 * The one seam between the provider and a Kubernetes API server: request/response
 * and watch over Kubernetes REST paths. Backends: SimTransport (in process) and
 * HttpTransport (a real API server).
 */
import { Context, Data, type Effect, type Stream } from "effect";

export type Verb = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface KubeRequest {
  readonly method: Verb;
  /** e.g. `/apis/apps/v1/namespaces/openfaas-fn/deployments/env` */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  /** For PATCH: `application/merge-patch+json` (default) or `application/strategic-merge-patch+json`. */
  readonly contentType?: string;
}

/** A Kubernetes `Status` failure (or a transport failure, status 0). */
/** Why a Kubernetes call failed. */
export type KubeFailure =
  /** The API server answered with an error status; `statusReason` is Kubernetes' (NotFound, Conflict, ...). */
  | { readonly _tag: "Status"; readonly status: number; readonly statusReason: string }
  /** No answer: the connection, TLS, credentials, or a deadline. */
  | { readonly _tag: "Transport"; readonly cause: "Connection" | "Tls" | "Credentials" | "Timeout" }
  /** An answer that is not what the API promises: invalid JSON, a watch event without a type. */
  | { readonly _tag: "Decode" };

export class KubeError extends Data.TaggedError("KubeError")<{
  readonly reason: KubeFailure;
  readonly message: string;
  readonly retryAfterSeconds?: number;
}> {
  /** An error status from the API server. */
  static status(
    status: number,
    statusReason: string,
    message: string,
    retryAfterSeconds?: number,
  ): KubeError {
    return new KubeError({ reason: { _tag: "Status", status, statusReason }, message, retryAfterSeconds });
  }
  static transport(cause: "Connection" | "Tls" | "Credentials" | "Timeout", message: string): KubeError {
    return new KubeError({ reason: { _tag: "Transport", cause }, message });
  }
  static decode(message: string): KubeError {
    return new KubeError({ reason: { _tag: "Decode" }, message });
  }
  /** The HTTP status the API server answered with; undefined when there was no (usable) answer. */
  get status(): number | undefined {
    return this.reason._tag === "Status" ? this.reason.status : undefined;
  }
  /** Kubernetes' StatusReason for a status, else the kind of failure ("Timeout", "Connection", "Decode"). */
  get statusReason(): string {
    const r = this.reason;
    return r._tag === "Status" ? r.statusReason : r._tag === "Transport" ? r.cause : r._tag;
  }
}

export const isNotFound = (e: KubeError) => e.status === 404;
export const isConflict = (e: KubeError) => e.status === 409 && e.statusReason === "Conflict";
export const isAlreadyExists = (e: KubeError) => e.status === 409 && e.statusReason === "AlreadyExists";
export const isGone = (e: KubeError) => e.status === 410;

/** `ERROR` events never reach callers: transports turn them into a failed stream (KubeError). */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchEvent<T = unknown> {
  readonly type: WatchEventType;
  readonly object: T;
}

export interface KubeApiShape {
  /** A JSON request; resolves to the decoded response body. */
  readonly request: <T = unknown>(req: KubeRequest) => Effect.Effect<T, KubeError>;
  /** A watch (`?watch=1`): events until the server closes the stream. */
  readonly watch: <T = unknown>(
    path: string,
    query?: Readonly<Record<string, string | undefined>>,
  ) => Stream.Stream<WatchEvent<T>, KubeError>;
  /** A plain-text stream, e.g. `pods/{name}/log?follow=true`, split into lines. */
  readonly lines: (
    path: string,
    query?: Readonly<Record<string, string | undefined>>,
  ) => Stream.Stream<string, KubeError>;
}

export class KubeApi extends Context.Service<KubeApi, KubeApiShape>()("faas/kube/KubeApi") {}

export interface StatusBody {
  readonly kind?: string;
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** Builds a KubeError from an HTTP status and a (possibly absent) Status body. */
export const errorFromStatus = (status: number, body: unknown, retryAfterSeconds?: number): KubeError => {
  const s = (body && typeof body === "object" ? body : {}) as StatusBody;
  return KubeError.status(
    status,
    s.reason ?? reasonForCode(status),
    s.message ?? `the server responded with status ${status}`,
    retryAfterSeconds,
  );
};

export const reasonForCode = (code: number): string => {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
};
