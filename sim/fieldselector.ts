/** Field selectors (`?fieldSelector=`) on lists and watches: the fields the API server knows, = == !=. */
import { ApiError } from "./apierror.ts";
import type { KObj } from "./kinds.ts";

export const fieldFilter = (
  fieldSelector: string | undefined,
): { match?: (o: KObj) => boolean } | ApiError => {
  if (!fieldSelector) return {};
  const checks: ((o: KObj) => boolean)[] = [];
  for (const part of fieldSelector.split(",")) {
    const m = /^([a-zA-Z.]+)(==|=|!=)(.*)$/.exec(part.trim());
    if (!m) return ApiError.of(400, "BadRequest", `invalid field selector: ${part}`);
    const [, field, op, value] = m;
    const get = (o: KObj): unknown =>
      field.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], o);
    if (
      ![
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "status.phase",
        "involvedObject.name",
        // kubectl describe asks for an object's events with these.
        "involvedObject.namespace",
        "involvedObject.kind",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "type",
      ].includes(field)
    ) {
      return ApiError.of(
        400,
        "BadRequest",
        `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    }
    checks.push(op === "!=" ? (o) => String(get(o) ?? "") !== value : (o) => String(get(o) ?? "") === value);
  }
  return { match: (o) => checks.every((c) => c(o)) };
};
