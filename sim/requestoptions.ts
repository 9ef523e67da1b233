/**
 * The options of write requests, decoded as the API server does: `dryRun` (only `All` exists) on
 * every write, and DeleteOptions from a DELETE's body or, when it has none, its query.
 */
import { ApiError, invalid } from "./apierror.ts";
import { type DeleteOptions, deleteOptionsErrors, type PropagationPolicy } from "./deletion.ts";

type Query = Readonly<Record<string, string | undefined>>;

/** `dryRun` as ValidateDryRun accepts it: absent, or `All` (anything else is 422 on the request's options kind). */
export const dryRunOf = (values: unknown, optionsKind: string): boolean => {
  if (values === undefined || values === null) return false;
  const list = Array.isArray(values) ? values : [values];
  if (list.length === 0) return false;
  if (list.length === 1 && list[0] === "All") return true;
  throw invalid({ kind: optionsKind, group: "meta.k8s.io" }, "", [
    `dryRun: Unsupported value: ${JSON.stringify(list)}: supported values: "All"`,
  ]);
};

const badRequest = (message: string) => ApiError.of(400, "BadRequest", message);

const int64 = (field: string, raw: unknown): number | undefined => {
  if (raw === undefined || raw === null) return undefined;
  const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw badRequest(`${field}: Invalid value: ${JSON.stringify(raw)}: must be an integer`);
  }
  // Negative values mean one second on the delete path (BeforeDelete).
  return n < 0 ? 1 : n;
};

const bool = (field: string, raw: unknown): boolean | undefined => {
  if (raw === undefined || raw === null) return undefined;
  if (raw === true || raw === "true" || raw === "1") return true;
  if (raw === false || raw === "false" || raw === "0") return false;
  throw badRequest(`${field}: Invalid value: ${JSON.stringify(raw)}: must be a boolean`);
};

/**
 * DeleteOptions of a DELETE: from its body when it has one (a DeleteOptions object; the query is then
 * not read), else from the query. `invalid` is the 422 the request gets once the object is found.
 */
export const deleteOptionsOf = (
  query: Query,
  body: unknown,
): { readonly options: DeleteOptions; readonly invalid?: ApiError } => {
  let source: Record<string, unknown>;
  if (body !== undefined && body !== null) {
    if (typeof body !== "object" || Array.isArray(body)) {
      throw badRequest("the request body must be a DeleteOptions object");
    }
    source = body as Record<string, unknown>;
    if (source.kind !== undefined && source.kind !== "DeleteOptions") {
      throw badRequest(
        `decoded object cannot be converted to DeleteOptions: got kind ${String(source.kind)}`,
      );
    }
  } else {
    source = { ...query, dryRun: query.dryRun };
  }
  const pre = source.preconditions;
  if (pre !== undefined && pre !== null && (typeof pre !== "object" || Array.isArray(pre))) {
    throw badRequest("preconditions: must be an object");
  }
  const preconditions = pre as { uid?: unknown; resourceVersion?: unknown } | undefined | null;
  const policy = source.propagationPolicy;
  if (policy !== undefined && policy !== null && typeof policy !== "string") {
    throw badRequest("propagationPolicy: must be a string");
  }
  const options: DeleteOptions = {
    dryRun: dryRunOf(source.dryRun, "DeleteOptions"),
    gracePeriodSeconds: int64("gracePeriodSeconds", source.gracePeriodSeconds),
    orphanDependents: bool("orphanDependents", source.orphanDependents),
    propagationPolicy: (policy ?? undefined) as PropagationPolicy | undefined,
    preconditions: preconditions
      ? {
        uid: typeof preconditions.uid === "string" ? preconditions.uid : undefined,
        resourceVersion: typeof preconditions.resourceVersion === "string"
          ? preconditions.resourceVersion
          : undefined,
      }
      : undefined,
  };
  return { options, invalid: deleteOptionsErrors(options) };
};
