/** Label and annotation keys with a meaning to the provider, and the parsing of their values. */

/** Marks a function's Deployment and pods; the selector of its Deployment and Service. */
export const functionLabel = "faas_function";
/** Initial replicas (and the floor scale-from-zero restores). */
const scaleMinLabel = "com.openfaas.scale.min";
/** Profiles to apply: `"a, b"`. */
export const profileAnnotation = "com.openfaas.profile";
/** The pod's service account. */
export const serviceAccountAnnotation = "com.openfaas.serviceaccount";
/** Classic per-function probes: an HTTP path (which implies an HTTP probe) and an initial delay. */
export const probePathAnnotation = "com.openfaas.health.http.path";
export const probeDelayAnnotation = "com.openfaas.health.http.initialDelay";

/** The profile names of a function's annotations, in order, without blanks or repeats. */
export const profileNames = (annotations: Readonly<Record<string, string>> | null | undefined): string[] => {
  const raw = annotations?.[profileAnnotation];
  if (raw === undefined) return [];
  const out: string[] = [];
  for (const part of raw.split(",")) {
    const name = part.trim();
    if (name !== "" && !out.includes(name)) out.push(name);
  }
  return out;
};

/** `com.openfaas.scale.min` as faas-netes reads it (strconv.Atoi, then > 0), else undefined. */
export const scaleMinOf = (
  labels: Readonly<Record<string, string>> | null | undefined,
): number | undefined => {
  const raw = labels?.[scaleMinLabel]?.trim();
  if (raw === undefined || !/^[+-]?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
};

/** Namespaces the provider never serves or touches. */
export const systemNamespaces = new Set(["kube-system", "kube-public", "kube-node-lease"]);
