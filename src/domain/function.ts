/** Checks a FunctionDeployment before anything touches the cluster. */
import type { FunctionDeployment } from "./types.ts";
import {
  fieldKey,
  validateAnnotations,
  validateConstraint,
  validateDnsLabel,
  validateDnsSubdomain,
  validateEnvVarName,
  validateEnvVarValue,
  validateLabels,
} from "./validation.ts";
import { validateImageRef } from "./imageref.ts";
import { validateResourceQuantity, validateResources } from "./quantity.ts";
import { validateScalingLabels } from "./scaling.ts";
import { parseGoDurationNs } from "./envvalues.ts";
import {
  functionLabel,
  probeDelayAnnotation as probeDelay,
  probePathAnnotation as probePath,
  profileAnnotation,
  profileNames,
  serviceAccountAnnotation,
} from "./keys.ts";

const validateNamespaceName = (field: string, ns: string): string | undefined =>
  ns === "" ? undefined : validateDnsLabel(field, ns);

/** The first problem with a deployment request, or undefined. */
export const validateFunctionDeployment = (req: FunctionDeployment): string | undefined => {
  if (req.service === "") return "service: is required";
  const checks: (() => string | undefined)[] = [
    () => validateDnsLabel("service", req.service),
    () => (req.image === "" ? "image: is required" : validateImageRef("image", req.image)),
    () => validateNamespaceName("namespace", req.namespace ?? ""),
    () => req.envProcess ? validateEnvVarValue("envProcess", "fprocess", req.envProcess) : undefined,
    () => {
      for (const [name, value] of Object.entries(req.envVars ?? {})) {
        const field = `envVars.${fieldKey(name)}`;
        const m = validateEnvVarName(field, name) ?? validateEnvVarValue(field, name, value);
        if (m) return m;
      }
    },
    () => {
      for (const [i, c] of (req.constraints ?? []).entries()) {
        const m = validateConstraint(`constraints[${i}]`, c);
        if (m) return m;
      }
    },
    () => {
      for (const [i, s] of (req.secrets ?? []).entries()) {
        const m = validateDnsLabel(`secrets[${i}]`, s);
        if (m) return m;
      }
      const seen = new Set<string>();
      for (const s of req.secrets ?? []) {
        if (seen.has(s)) return `secrets: "${s}" is listed twice`;
        seen.add(s);
      }
    },
    () => validateLabels("labels", req.labels ?? {}),
    () => validateScalingLabels(req.labels),
    () => {
      if (req.labels && "pod-template-hash" in req.labels) {
        return `labels: "pod-template-hash" is reserved for the provider`;
      }
      const own = req.labels?.[functionLabel];
      if (own !== undefined && own !== req.service) {
        return `labels: "${functionLabel}" is set by the provider and must equal the service name "${req.service}"`;
      }
    },
    () => validateAnnotations("annotations", req.annotations ?? {}),
    () => {
      const path = req.annotations?.[probePath];
      if (path && !/^\/[\x21-\x7e]*$/.test(path)) {
        return `annotations.${probePath}: "${path}" must be an absolute URL path without spaces, e.g. /healthz`;
      }
      const delay = req.annotations?.[probeDelay];
      if (delay && parseGoDurationNs(delay.trim()) === undefined) {
        return `annotations.${probeDelay}: "${delay}" is not a duration: use Go syntax, e.g. 30s or 1m30s`;
      }
    },
    () => {
      const account = req.annotations?.[serviceAccountAnnotation];
      if (account) return validateDnsSubdomain(`annotations.${serviceAccountAnnotation}`, account);
    },
    () => {
      for (const name of profileNames(req.annotations)) {
        const m = validateDnsSubdomain(`annotations.${profileAnnotation}`, name);
        if (m) return m;
      }
    },
    () => validateResources(req.requests ?? undefined, req.limits ?? undefined),
    () => {
      for (const [kind, r] of [["limits", req.limits], ["requests", req.requests]] as const) {
        for (const gpu of ["nvidia.com/gpu", "amd.com/gpu", "intel.com/gpu"] as const) {
          const v = r?.[gpu];
          if (v) {
            const m = validateResourceQuantity(`${kind}.${gpu}`, v);
            if (m) return m;
          }
        }
      }
    },
  ];
  for (const check of checks) {
    const m = check();
    if (m) return m;
  }
  return undefined;
};
