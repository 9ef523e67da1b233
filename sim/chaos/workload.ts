/**
 * The workload of a chaos run, drawn from its seed: what the Gateway and faas-cli send (deploy, update,
 * delete, scale, secrets, logs, status, lists) and invocations (steady, bursty, and sparse with idle gaps
 * long enough for scale to zero) across a fixed set of function names. Every function runs the classic
 * watchdog with `fprocess=printenv FN`, so an answer names the function that gave it.
 */
import { seededRandom } from "../clock.ts";

export const functionNamespace = "openfaas-fn";
export const functionImage = "functions/alpine:latest";

/** A function's fixed scaling labels and traffic shape. */
export interface FunctionSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** com.openfaas.scale.zero with a zero-duration of `zeroAfterS` seconds. */
  readonly zero: boolean;
  readonly zeroAfterS: number;
  readonly traffic: "steady" | "bursty" | "sparse";
}

export type Op =
  | {
    readonly i: number;
    readonly at: number;
    readonly kind: "deploy" | "update";
    readonly fn: string;
    readonly rev: number;
  }
  | {
    readonly i: number;
    readonly at: number;
    readonly kind: "delete" | "logs" | "status";
    readonly fn: string;
  }
  | {
    readonly i: number;
    readonly at: number;
    readonly kind: "scale";
    readonly fn: string;
    readonly replicas: number;
  }
  | {
    readonly i: number;
    readonly at: number;
    readonly kind: "secret-create" | "secret-update";
    readonly secret: string;
    readonly value: string;
  }
  | { readonly i: number; readonly at: number; readonly kind: "secret-delete"; readonly secret: string }
  | {
    readonly i: number;
    readonly at: number;
    readonly kind: "list" | "secret-list" | "namespaces" | "healthz" | "metrics" | "info";
  };

export interface Invocation {
  readonly at: number;
  readonly fn: string;
}

export interface Workload {
  readonly functions: readonly FunctionSpec[];
  readonly secrets: readonly string[];
  readonly ops: readonly Op[];
  readonly invocations: readonly Invocation[];
}

/** Secret values are recognisable, so a scan of every response, log line and metric finds a leak. */
export const secretMarker = "chaos-secret-";

export interface WorkloadOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly functions: number;
  /** Operations per simulated hour on average (default 120). */
  readonly opsPerHour?: number;
}

export const generateWorkload = (options: WorkloadOptions): Workload => {
  // Independent streams (the functions, the operations, each function's traffic), so that a shorter run
  // draws a prefix of a longer one's workload: the shrinker can end a run sooner and keep the rest.
  const stream = (k: number) => seededRandom(options.seed * 40503 + 7 + k * 1_000_003);
  let random = stream(0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const hex = () => Math.floor(random() * 0xffffffff).toString(16).padStart(8, "0");
  const functions: FunctionSpec[] = Array.from({ length: options.functions }, (_, k) => {
    const traffic = (["steady", "bursty", "sparse"] as const)[k % 3];
    const min = 1;
    return {
      name: `fn${k}`,
      min,
      max: min + 1 + Math.floor(random() * 4),
      zero: traffic !== "steady" || random() < 0.3,
      zeroAfterS: 120 + Math.floor(random() * 4) * 60,
      traffic,
    };
  });
  const secrets = ["api-key", "db-password", "token"];
  random = stream(1);
  const ops: Op[] = [];
  let i = 0;
  // Every function is deployed at the start, one second apart.
  functions.forEach((f, k) => ops.push({ i: i++, at: 1_000 * (k + 1), kind: "deploy", fn: f.name, rev: i }));
  const perHour = options.opsPerHour ?? 120;
  const meanGap = 3_600_000 / perHour;
  for (let at = functions.length * 1_000 + 30_000;;) {
    at += Math.round(-Math.log(1 - random()) * meanGap);
    if (at >= options.durationMs) break;
    const roll = random();
    const fn = pick(functions).name;
    const secret = pick(secrets);
    const n = i++;
    if (roll < 0.2) ops.push({ i: n, at, kind: "update", fn, rev: n });
    else if (roll < 0.28) ops.push({ i: n, at, kind: "delete", fn });
    else if (roll < 0.38) ops.push({ i: n, at, kind: "deploy", fn, rev: n });
    else if (roll < 0.46) ops.push({ i: n, at, kind: "scale", fn, replicas: Math.floor(random() * 4) });
    else if (roll < 0.54) {
      ops.push({ i: n, at, kind: "secret-create", secret, value: `${secretMarker}${n}-${hex()}` });
    } else if (roll < 0.62) {
      ops.push({ i: n, at, kind: "secret-update", secret, value: `${secretMarker}${n}-${hex()}` });
    } else if (roll < 0.66) ops.push({ i: n, at, kind: "secret-delete", secret });
    else if (roll < 0.74) ops.push({ i: n, at, kind: "logs", fn });
    else if (roll < 0.84) ops.push({ i: n, at, kind: "status", fn });
    else {ops.push({
        i: n,
        at,
        kind: pick(["list", "secret-list", "namespaces", "healthz", "metrics", "info"] as const),
      });}
  }

  const invocations: Invocation[] = [];
  const start = functions.length * 1_000 + 60_000;
  for (const [k, f] of functions.entries()) {
    random = stream(2 + k);
    if (f.traffic === "steady") {
      // Poisson, 1 to 4 a minute.
      const gap = 60_000 / (1 + random() * 3);
      for (let t = start + random() * gap; t < options.durationMs; t += -Math.log(1 - random()) * gap) {
        invocations.push({ at: Math.round(t), fn: f.name });
      }
    } else if (f.traffic === "bursty") {
      // A burst of 5 to 30 requests within 20 s every 5 to 20 minutes.
      for (let t = start + random() * 300_000; t < options.durationMs; t += 300_000 + random() * 900_000) {
        const n = 5 + Math.floor(random() * 26);
        for (let k = 0; k < n; k++) {
          const at = Math.round(t + random() * 20_000);
          if (at < options.durationMs) invocations.push({ at, fn: f.name });
        }
      }
    } else {
      // One request after an idle gap of 3 to 30 minutes (long enough, often, for scale to zero).
      for (let t = start + random() * 600_000; t < options.durationMs; t += 180_000 + random() * 1_620_000) {
        invocations.push({ at: Math.round(t), fn: f.name });
      }
    }
  }
  invocations.sort((a, b) => a.at - b.at || (a.fn < b.fn ? -1 : a.fn > b.fn ? 1 : 0));
  return { functions, secrets, ops, invocations };
};

const json = (method: string, path: string, body: unknown) =>
  new Request(`http://provider${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });

/** The request the Gateway or faas-cli sends for `op`. */
export const requestFor = (op: Op, functions: readonly FunctionSpec[]): Request => {
  const ns = functionNamespace;
  switch (op.kind) {
    case "deploy":
    case "update": {
      const f = functions.find((f) => f.name === op.fn)!;
      const labels: Record<string, string> = {
        "com.openfaas.scale.min": String(f.min),
        "com.openfaas.scale.max": String(f.max),
      };
      if (f.zero) {
        labels["com.openfaas.scale.zero"] = "true";
        labels["com.openfaas.scale.zero-duration"] = `${f.zeroAfterS}s`;
      }
      return json(op.kind === "deploy" ? "POST" : "PUT", "/system/functions", {
        service: op.fn,
        image: functionImage,
        namespace: ns,
        envProcess: "printenv FN",
        envVars: { FN: op.fn, REV: String(op.rev) },
        labels,
      });
    }
    case "delete":
      return json("DELETE", "/system/functions", { functionName: op.fn, namespace: ns });
    case "scale":
      return json("POST", `/system/scale-function/${op.fn}?namespace=${ns}`, {
        serviceName: op.fn,
        namespace: ns,
        replicas: op.replicas,
      });
    case "secret-create":
    case "secret-update":
      return json(op.kind === "secret-create" ? "POST" : "PUT", "/system/secrets", {
        name: op.secret,
        namespace: ns,
        value: op.value,
      });
    case "secret-delete":
      return json("DELETE", "/system/secrets", { name: op.secret, namespace: ns });
    case "logs":
      return new Request(`http://provider/system/logs?name=${op.fn}&namespace=${ns}&tail=5&follow=false`);
    case "status":
      return new Request(`http://provider/system/function/${op.fn}?namespace=${ns}`);
    case "list":
      return new Request(`http://provider/system/functions?namespace=${ns}`);
    case "secret-list":
      return new Request(`http://provider/system/secrets?namespace=${ns}`);
    case "namespaces":
      return new Request("http://provider/system/namespaces");
    case "healthz":
      return new Request("http://provider/healthz");
    case "metrics":
      return new Request("http://provider/metrics");
    case "info":
      return new Request("http://provider/system/info");
  }
};

/** The function or secret an operation writes, for one-write-at-a-time per object; undefined for reads. */
export const writeKey = (op: Op): string | undefined => {
  switch (op.kind) {
    case "deploy":
    case "update":
    case "delete":
    case "scale":
      return `fn/${op.fn}`;
    case "secret-create":
    case "secret-update":
    case "secret-delete":
      return `secret/${op.secret}`;
    default:
      return undefined;
  }
};
