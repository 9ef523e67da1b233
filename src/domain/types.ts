/**
 * Wire types of the faas-provider API, as Effect Schemas with the exact JSON
 * spellings. Bodies are decoded as Go's encoding/json decodes them (gojson.ts):
 * unknown keys are ignored, keys match case-insensitively and the last wins.
 */
import { Effect, Schema } from "effect";
import { InvalidRequest } from "./errors.ts";
import { decodeGoStruct, type GoStruct, GoTypeError, JsonObject, parseJson } from "./gojson.ts";
import { MAX_REPLICAS } from "./validation.ts";

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

/** The Go shape of each request type (faas-provider's structs), for Go-style decoding. */
const goString = { kind: "string" } as const;
const goRequired = { kind: "string", zero: true } as const;
const goMap = { kind: "stringMap" } as const;
const goSlice = { kind: "stringSlice" } as const;
const goResources: GoStruct = {
  kind: "struct",
  fields: {
    memory: goString,
    cpu: goString,
    "nvidia.com/gpu": goString,
    "amd.com/gpu": goString,
    "intel.com/gpu": goString,
  },
};

export const goShapes = new Map<Schema.Top, GoStruct>([
  [FunctionDeployment, {
    kind: "struct",
    fields: {
      service: goRequired,
      image: goRequired,
      namespace: goString,
      envProcess: goString,
      envVars: goMap,
      constraints: goSlice,
      secrets: goSlice,
      labels: goMap,
      annotations: goMap,
      limits: goResources,
      requests: goResources,
      readOnlyRootFilesystem: { kind: "bool" },
      registryAuth: goString,
      network: goString,
    },
  }],
  // Go decodes replicas as a uint64; Kubernetes keeps it in an int32.
  [ScaleServiceRequest, {
    kind: "struct",
    fields: { serviceName: goString, replicas: { kind: "uint", max: MAX_REPLICAS }, namespace: goString },
  }],
  [DeleteFunctionRequest, { kind: "struct", fields: { functionName: goRequired, namespace: goString } }],
  [SecretRequest, {
    kind: "struct",
    fields: { name: goRequired, namespace: goString, value: goString, rawValue: goString },
  }],
  [FunctionNamespace, { kind: "struct", fields: { name: goString, labels: goMap, annotations: goMap } }],
]);

/**
 * Decodes a JSON request body into a wire type as Go's encoding/json would fill
 * the faas-provider struct (see gojson.ts: case-insensitive keys, the last one
 * wins, unknown keys ignored), then checks it with the schema. Failures are 400s
 * that name the field.
 */
export const decodeBody = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  text: string,
): Effect.Effect<S["Type"], InvalidRequest> =>
  Effect.gen(function* () {
    const shape = goShapes.get(schema);
    if (shape === undefined) return yield* Effect.die(new Error("decodeBody: no Go shape for this schema"));
    const parsed = yield* Effect.try({
      try: () => parseJson(text),
      catch: (e) =>
        new InvalidRequest({ message: `invalid request body: malformed JSON: ${(e as Error).message}` }),
    });
    if (!(parsed instanceof JsonObject)) {
      return yield* new InvalidRequest({ message: "request body must be a JSON object" });
    }
    const decoded = yield* Effect.try({
      try: () => decodeGoStruct(shape, parsed),
      catch: (e) =>
        new InvalidRequest({
          message: `invalid request body: ${e instanceof GoTypeError ? e.message : String(e)}`,
        }),
    });
    return yield* Schema.decodeUnknownEffect(schema)(decoded).pipe(
      Effect.mapError((e) =>
        new InvalidRequest({ message: `invalid request body: ${describeIssue(e.message)}` })
      ),
    ) as Effect.Effect<S["Type"], InvalidRequest>;
  });

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
