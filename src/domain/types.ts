/**
 * Wire types of the faas-provider API, as Effect Schemas with the exact JSON
 * spellings. Decoding follows Go's encoding/json where clients rely on it:
 * unknown keys are ignored and keys match case-insensitively.
 */
import { Effect, Schema } from "effect";
import { InvalidRequest } from "./errors.ts";

const StringMap = Schema.Record(Schema.String, Schema.String);
const Opt = <S extends Schema.Top>(s: S) => Schema.optional(Schema.NullOr(s));

export const FunctionResources = Schema.Struct({
  memory: Schema.optional(Schema.String),
  cpu: Schema.optional(Schema.String),
  "nvidia.com/gpu": Schema.optional(Schema.String),
  "amd.com/gpu": Schema.optional(Schema.String),
  "intel.com/gpu": Schema.optional(Schema.String),
});
export type FunctionResources = typeof FunctionResources.Type;

export const FunctionDeployment = Schema.Struct({
  service: Schema.String,
  image: Schema.String,
  namespace: Schema.optional(Schema.String),
  envProcess: Schema.optional(Schema.String),
  envVars: Opt(StringMap),
  constraints: Opt(Schema.Array(Schema.String)),
  secrets: Opt(Schema.Array(Schema.String)),
  labels: Opt(StringMap),
  annotations: Opt(StringMap),
  limits: Opt(FunctionResources),
  requests: Opt(FunctionResources),
  readOnlyRootFilesystem: Schema.optional(Schema.Boolean),
  registryAuth: Schema.optional(Schema.String),
  network: Schema.optional(Schema.String),
});
export type FunctionDeployment = typeof FunctionDeployment.Type;

export interface FunctionStatus {
  name: string;
  image: string;
  namespace: string;
  envProcess?: string;
  envVars?: Record<string, string>;
  constraints?: string[];
  secrets?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  limits?: FunctionResources;
  requests?: FunctionResources;
  readOnlyRootFilesystem?: boolean;
  invocationCount: number;
  replicas: number;
  availableReplicas: number;
  createdAt: string;
  usage?: { cpu?: number; totalMemoryBytes?: number };
  /**
   * Extension: why not every replica is available (pod-level reason and
   * message), present only then. Existing clients ignore unknown fields.
   */
  readiness?: { reason: string; message: string; pod: string };
}

export const ScaleServiceRequest = Schema.Struct({
  serviceName: Schema.optional(Schema.String),
  replicas: Schema.Number,
  namespace: Schema.optional(Schema.String),
});
export type ScaleServiceRequest = typeof ScaleServiceRequest.Type;

export const DeleteFunctionRequest = Schema.Struct({
  functionName: Schema.String,
  namespace: Schema.optional(Schema.String),
});
export type DeleteFunctionRequest = typeof DeleteFunctionRequest.Type;

export const SecretRequest = Schema.Struct({
  name: Schema.String,
  namespace: Schema.optional(Schema.String),
  value: Schema.optional(Schema.String),
  rawValue: Schema.optional(Schema.String),
});
export type SecretRequest = typeof SecretRequest.Type;

export const FunctionNamespace = Schema.Struct({
  name: Schema.optional(Schema.String),
  labels: Opt(StringMap),
  annotations: Opt(StringMap),
});
export type FunctionNamespace = typeof FunctionNamespace.Type;

export interface ProviderInfo {
  provider: string;
  version: { sha: string; release: string; commit_message?: string };
  orchestration: string;
}

export interface LogMessage {
  name: string;
  namespace: string;
  instance: string;
  timestamp: string;
  text: string;
}

/** The keys each decoded struct knows, for Go-style case-insensitive matching. */
const canonicalKeys = (schema: Schema.Top): readonly string[] => {
  const fields = (schema as unknown as { fields?: Record<string, unknown> }).fields;
  return fields ? Object.keys(fields) : [];
};

/** Renames keys that match a known key case-insensitively (an exact match wins). */
const normaliseKeys = (value: unknown, keys: readonly string[]): unknown => {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  const byLower = new Map(keys.map((k) => [k.toLowerCase(), k]));
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) if (keys.includes(k)) out[k] = v;
  for (const [k, v] of entries) {
    const canonical = byLower.get(k.toLowerCase());
    if (canonical && !(canonical in out)) out[canonical] = v;
  }
  return out;
};

const resourceKeys = canonicalKeys(FunctionResources);

/** Decodes a JSON body into a wire type; failures name the field. */
export const decodeBody = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  body: unknown,
): Effect.Effect<S["Type"], InvalidRequest> => {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    return Effect.fail(new InvalidRequest({ message: "request body must be a JSON object" }));
  }
  const normalised = normaliseKeys(body, canonicalKeys(schema)) as Record<string, unknown>;
  for (const k of ["limits", "requests"]) {
    if (normalised[k]) normalised[k] = normaliseKeys(normalised[k], resourceKeys);
  }
  return Schema.decodeUnknownEffect(schema)(normalised).pipe(
    Effect.mapError((e) =>
      new InvalidRequest({ message: `invalid request body: ${describeIssue(e.message)}` })
    ),
  ) as Effect.Effect<S["Type"], InvalidRequest>;
};

/** Turns `Expected string\n  at ["service"]` into `service: expected string`. */
const describeIssue = (message: string): string => {
  const lines = message.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const at = lines.find((l) => l.startsWith("at "));
  const what = lines.filter((l) => !l.startsWith("at ")).join("; ");
  if (!at) return what;
  const path = [...at.matchAll(/\["([^"]*)"\]|\[(\d+)\]/g)].map((m) => m[1] ?? `[${m[2]}]`).join(".")
    .replaceAll(".[", "[");
  return `${path}: ${what.charAt(0).toLowerCase()}${what.slice(1)}`;
};
