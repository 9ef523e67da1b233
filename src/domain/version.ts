/** Provider identity reported by /system/info. */
export const providerName = "faas-deno";
export const release = "0.1.0";
/** The commit, when the build sets FAAS_DENO_SHA; otherwise "dev". */
export const sha = (() => {
  try {
    return Deno.env.get("FAAS_DENO_SHA") || "dev";
  } catch {
    return "dev";
  }
})();
