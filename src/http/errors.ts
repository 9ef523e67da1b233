/** The one mapping of provider errors to HTTP status codes, and Go-style error bodies. */
import type { ProviderError } from "../domain/errors.ts";

export const statusOf = (e: ProviderError): number => {
  switch (e._tag) {
    case "InvalidRequest":
      return 400;
    case "NamespaceForbidden":
      return 401;
    case "NotFound":
      return 404;
    case "AlreadyExists":
      return 409;
    case "PayloadTooLarge":
      return 413;
    case "RequestTimeout":
      return 408;
    case "Unprocessable":
      return 422;
    case "NotImplemented":
      return 501;
    case "ClusterError":
      return e.status;
  }
};

/** Like Go's http.Error: text/plain, nosniff, message plus newline. */
export const textError = (status: number, message: string, extra: Record<string, string> = {}): Response =>
  new Response(message === "" ? null : `${message}\n`, {
    status,
    headers: {
      ...(message === "" ? {} : { "Content-Type": "text/plain; charset=utf-8" }),
      "X-Content-Type-Options": "nosniff",
      ...extra,
    },
  });
