/**
 * Protobuf request bodies. kubectl's typed clients (`kubectl create
 * secret|configmap|namespace|...`) send `application/vnd.kubernetes.protobuf`
 * bodies and do not fall back to JSON. This decoder reads the `k8s\0` envelope and the fields of the kinds those
 * commands create (from k8s.io/api's generated.proto); responses are always JSON.
 */
import type { KObj } from "../kinds.ts";
import { ApiError } from "../apierror.ts";

type PType =
  | "string"
  | "bytes"
  | "int"
  | "int0"
  | "bool"
  | "quantity"
  | "intorstr"
  | PSchema
  | { readonly repeated: PType }
  | { readonly map: PType };
interface PSchema {
  readonly [field: number]: readonly [string, PType];
}

const rep = (t: PType) => ({ repeated: t });
const map = (t: PType) => ({ map: t });
const objectMeta: PSchema = {
  1: ["name", "string"],
  2: ["generateName", "string"],
  3: ["namespace", "string"],
  11: ["labels", map("string")],
  12: ["annotations", map("string")],
  14: ["finalizers", rep("string")],
};
const policyRule: PSchema = {
  1: ["verbs", rep("string")],
  2: ["apiGroups", rep("string")],
  3: ["resources", rep("string")],
  4: ["resourceNames", rep("string")],
  5: ["nonResourceURLs", rep("string")],
};
const binding: PSchema = {
  1: ["metadata", objectMeta],
  2: [
    "subjects",
    rep({
      1: ["kind", "string"],
      2: ["apiGroup", "string"],
      3: ["name", "string"],
      4: ["namespace", "string"],
    }),
  ],
  3: ["roleRef", { 1: ["apiGroup", "string"], 2: ["kind", "string"], 3: ["name", "string"] }],
};
const container: PSchema = {
  1: ["name", "string"],
  2: ["image", "string"],
  3: ["command", rep("string")],
  4: ["args", rep("string")],
  5: ["workingDir", "string"],
  6: [
    "ports",
    rep({
      1: ["name", "string"],
      2: ["hostPort", "int"],
      3: ["containerPort", "int"],
      4: ["protocol", "string"],
    }),
  ],
  7: ["env", rep({ 1: ["name", "string"], 2: ["value", "string"] })],
  8: ["resources", { 1: ["limits", map("quantity")], 2: ["requests", map("quantity")] }],
  13: ["terminationMessagePath", "string"],
  14: ["imagePullPolicy", "string"],
  20: ["terminationMessagePolicy", "string"],
};
const labelSelector: PSchema = { 1: ["matchLabels", map("string")] };
const podTemplate: PSchema = {
  1: ["metadata", objectMeta],
  2: ["spec", {
    2: ["containers", rep(container)],
    3: ["restartPolicy", "string"],
    7: ["nodeSelector", map("string")],
  }],
};
const protoKinds: Record<string, PSchema> = {
  Secret: {
    1: ["metadata", objectMeta],
    2: ["data", map("bytes")],
    3: ["type", "string"],
    4: ["stringData", map("string")],
    5: ["immutable", "bool"],
  },
  ConfigMap: {
    1: ["metadata", objectMeta],
    2: ["data", map("string")],
    3: ["binaryData", map("bytes")],
    4: ["immutable", "bool"],
  },
  Namespace: { 1: ["metadata", objectMeta], 2: ["spec", { 1: ["finalizers", rep("string")] }] },
  ServiceAccount: {
    1: ["metadata", objectMeta],
    2: ["secrets", rep({ 1: ["kind", "string"], 2: ["namespace", "string"], 3: ["name", "string"] })],
    3: ["imagePullSecrets", rep({ 1: ["name", "string"] })],
    4: ["automountServiceAccountToken", "bool"],
  },
  Role: { 1: ["metadata", objectMeta], 2: ["rules", rep(policyRule)] },
  ClusterRole: { 1: ["metadata", objectMeta], 2: ["rules", rep(policyRule)] },
  RoleBinding: binding,
  ClusterRoleBinding: binding,
  Deployment: {
    1: ["metadata", objectMeta],
    2: ["spec", {
      1: ["replicas", "int0"],
      2: ["selector", labelSelector],
      3: ["template", podTemplate],
      4: ["strategy", { 1: ["type", "string"] }],
      5: ["minReadySeconds", "int"],
      6: ["revisionHistoryLimit", "int0"],
      9: ["progressDeadlineSeconds", "int0"],
    }],
  },
  Service: {
    1: ["metadata", objectMeta],
    2: ["spec", {
      1: [
        "ports",
        rep({
          1: ["name", "string"],
          2: ["protocol", "string"],
          3: ["port", "int"],
          4: ["targetPort", "intorstr"],
          5: ["nodePort", "int"],
        }),
      ],
      2: ["selector", map("string")],
      3: ["clusterIP", "string"],
      4: ["type", "string"],
    }],
  },
};

const readVarint = (buf: Uint8Array, pos: number): [number, number] => {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw ApiError.of(400, "BadRequest", "truncated protobuf body");
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
};

/** Fields of one protobuf message: field number to raw values (varints as numbers, bytes as slices). */
const readFields = (buf: Uint8Array): Map<number, (number | Uint8Array)[]> => {
  const fields = new Map<number, (number | Uint8Array)[]>();
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    let value: number | Uint8Array;
    switch (key & 7) {
      case 0:
        [value, pos] = readVarint(buf, pos);
        break;
      case 1:
        value = 0;
        pos += 8;
        break;
      case 2: {
        let len: number;
        [len, pos] = readVarint(buf, pos);
        value = buf.subarray(pos, pos + len);
        pos += len;
        break;
      }
      case 5:
        value = 0;
        pos += 4;
        break;
      default:
        throw ApiError.of(400, "BadRequest", "unsupported protobuf wire type");
    }
    if (!fields.has(field)) fields.set(field, []);
    fields.get(field)!.push(value);
  }
  return fields;
};

const utf8 = new TextDecoder();
const base64 = (b: Uint8Array) => btoa(Array.from(b, (c) => String.fromCharCode(c)).join(""));

const decodeValue = (raw: number | Uint8Array, type: PType): unknown => {
  const bytes = raw instanceof Uint8Array ? raw : new Uint8Array();
  if (typeof type === "string") {
    switch (type) {
      case "string":
        return utf8.decode(bytes);
      case "bytes":
        return base64(bytes);
      case "int":
      case "int0":
        return typeof raw === "number" ? (raw >= 2 ** 63 ? raw - 2 ** 64 : raw) : 0;
      case "bool":
        return raw === 1;
      case "quantity":
        return decodeMessage(bytes, { 1: ["string", "string"] }).string ?? "0";
      case "intorstr": {
        const v = decodeMessage(bytes, {
          1: ["type", "int0"],
          2: ["intVal", "int0"],
          3: ["strVal", "string"],
        });
        return v.type === 1 ? v.strVal : v.intVal ?? 0;
      }
    }
  }
  return decodeMessage(bytes, type as PSchema);
};

/** Decodes a message by schema, dropping empty strings and zero values as Go's JSON `omitempty` would. */
const decodeMessage = (buf: Uint8Array, schema: PSchema): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [field, values] of readFields(buf)) {
    const entry = schema[field];
    if (!entry) continue;
    const [name, type] = entry;
    if (typeof type === "object" && "repeated" in type) {
      out[name] = values.map((v) => decodeValue(v, type.repeated as PType));
    } else if (typeof type === "object" && "map" in type) {
      const m: Record<string, unknown> = {};
      for (const v of values) {
        const kv = decodeMessage(v as Uint8Array, { 1: ["k", "string"], 2: ["v", type.map as PType] });
        m[String(kv.k ?? "")] = kv.v ?? (type.map === "string" ? "" : type.map === "bytes" ? "" : undefined);
      }
      out[name] = m;
    } else {
      const v = decodeValue(values[values.length - 1], type);
      if (v === "" || v === false || (v === 0 && type !== "int0")) continue;
      out[name] = v;
    }
  }
  return out;
};

/** Decodes a `k8s\0`-enveloped protobuf object into its JSON form. */
export const decodeProtobuf = (body: Uint8Array): KObj => {
  if (body.length < 4 || utf8.decode(body.subarray(0, 4)) !== "k8s\0") {
    throw ApiError.of(400, "BadRequest", "protobuf body without the k8s envelope");
  }
  const unknown = decodeMessage(body.subarray(4), {
    1: ["typeMeta", { 1: ["apiVersion", "string"], 2: ["kind", "string"] }],
  });
  const fields = readFields(body.subarray(4));
  const raw = fields.get(2)?.[0];
  const { apiVersion, kind } = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const schema = kind ? protoKinds[kind] : undefined;
  if (!schema || !(raw instanceof Uint8Array)) {
    throw ApiError.of(
      415,
      "UnsupportedMediaType",
      `the simulator decodes protobuf only for ${Object.keys(protoKinds).join(", ")}; send ${
        kind ?? "this object"
      } as application/json`,
    );
  }
  const obj = decodeMessage(raw, schema) as KObj;
  obj.metadata ??= {};
  return { apiVersion, kind, ...obj };
};
