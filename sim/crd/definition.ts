/**
 * A CustomResourceDefinition object (apiextensions.k8s.io/v1) on its own: the defaults and the
 * validation the API server applies to it, and the OpenFaaS Profile CRD the simulated cluster
 * installs by default. No KindInfo here: sim/kinds.ts calls these for the CRD kind.
 */

// deno-lint-ignore no-explicit-any
type Json = any;

/** What the API server sets on a CRD it stores: names, conversion, stored versions. */
export const defaultCrd = (crd: Json, creating: boolean): void => {
  const spec = (crd.spec ??= {});
  const names = (spec.names ??= {});
  if (typeof names.kind === "string" && names.kind !== "") {
    names.singular ??= names.kind.toLowerCase();
    names.listKind ??= `${names.kind}List`;
  }
  spec.conversion ??= { strategy: "None" };
  for (const v of Array.isArray(spec.versions) ? spec.versions : []) {
    if (v && typeof v === "object" && Array.isArray(v.additionalPrinterColumns)) {
      for (const c of v.additionalPrinterColumns) if (c && typeof c === "object") c.priority ??= 0;
    }
  }
  if (creating) {
    const storage = (Array.isArray(spec.versions) ? spec.versions : []).find((v: Json) =>
      v?.storage === true
    );
    crd.status = {
      acceptedNames: { plural: "", kind: "" },
      conditions: [],
      storedVersions: storage ? [storage.name] : [],
    };
  }
};

const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const kindName = /^[A-Za-z][A-Za-z0-9]*$/;

/** Field errors of a CRD, in the API server's `path: message` style (a subset of its checks). */
export const validateCrd = (crd: Json): string[] => {
  const errors: string[] = [];
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  const group = spec.group;
  if (typeof group !== "string" || group === "") errors.push("spec.group: Required value");
  else if (!dns1123Subdomain.test(group) || !group.includes(".")) {
    errors.push(`spec.group: Invalid value: "${group}": should be a domain with at least one dot`);
  }
  const plural = names.plural;
  if (typeof plural !== "string" || plural === "") errors.push("spec.names.plural: Required value");
  else if (!dns1035Label.test(plural)) {
    errors.push(
      `spec.names.plural: Invalid value: "${plural}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`,
    );
  }
  if (typeof names.singular === "string" && !dns1035Label.test(names.singular)) {
    errors.push(
      `spec.names.singular: Invalid value: "${names.singular}": a DNS-1035 label must consist of lower case alphanumeric characters or '-'`,
    );
  }
  if (typeof names.kind !== "string" || names.kind === "") errors.push("spec.names.kind: Required value");
  else if (!kindName.test(names.kind)) {
    errors.push(
      `spec.names.kind: Invalid value: "${names.kind}": may have mixed case, but should otherwise match: ^[A-Za-z][A-Za-z0-9]*$`,
    );
  }
  for (const [i, s] of ((names.shortNames ?? []) as unknown[]).entries()) {
    if (typeof s !== "string" || !dns1035Label.test(s)) {
      errors.push(
        `spec.names.shortNames[${i}]: Invalid value: "${
          String(s)
        }": a DNS-1035 label must consist of lower case alphanumeric characters or '-'`,
      );
    }
  }
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
    errors.push(
      spec.scope === undefined || spec.scope === ""
        ? "spec.scope: Required value"
        : `spec.scope: Unsupported value: "${String(spec.scope)}": supported values: "Cluster", "Namespaced"`,
    );
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) {
    errors.push(
      "spec.versions: Invalid value: null: must have exactly one version marked as storage version",
    );
  } else {
    const storage = versions.filter((v: Json) => v?.storage === true).length;
    if (storage !== 1) {
      errors.push(
        `spec.versions: Invalid value: ${storage}: must have exactly one version marked as storage version`,
      );
    }
    if (!versions.some((v: Json) => v?.served === true)) {
      errors.push("spec.versions: Invalid value: must have at least one version marked as served");
    }
    const seen = new Set<string>();
    versions.forEach((v: Json, i: number) => {
      const name = v?.name;
      if (typeof name !== "string" || !dns1035Label.test(name)) {
        errors.push(
          `spec.versions[${i}].name: Invalid value: "${
            String(name)
          }": a DNS-1035 label must consist of lower case alphanumeric characters or '-'`,
        );
      } else if (seen.has(name)) {
        errors.push(`spec.versions[${i}].name: Invalid value: "${name}": must be unique`);
      } else seen.add(name);
      if (!v?.schema?.openAPIV3Schema) {
        errors.push(`spec.versions[${i}].schema.openAPIV3Schema: Required value: schemas are required`);
      }
      for (const [j, c] of ((v?.additionalPrinterColumns ?? []) as Json[]).entries()) {
        const at = `spec.versions[${i}].additionalPrinterColumns[${j}]`;
        if (typeof c?.name !== "string" || c.name === "") errors.push(`${at}.name: Required value`);
        if (!["integer", "number", "string", "boolean", "date"].includes(c?.type)) {
          errors.push(
            `${at}.type: Unsupported value: "${
              String(c?.type)
            }": supported values: "boolean", "date", "integer", "number", "string"`,
          );
        }
        if (typeof c?.jsonPath !== "string" || !c.jsonPath.startsWith(".")) {
          errors.push(
            `${at}.jsonPath: Invalid value: "${
              String(c?.jsonPath)
            }": must be a simple json path starting with .`,
          );
        }
      }
    });
  }
  const name = crd.metadata?.name;
  if (typeof plural === "string" && typeof group === "string" && name !== `${plural}.${group}`) {
    errors.push(`metadata.name: Invalid value: "${String(name)}": must be spec.names.plural+"."+spec.group`);
  }
  return errors;
};

/**
 * OpenFaaS's Profile CRD (openfaas.com/v1), as k8s/03-profile-crd.yaml and the OpenFaaS chart
 * install it; a test keeps the two the same.
 */
export const profileCrd = () => {
  const open = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "profiles.openfaas.com" },
    spec: {
      group: "openfaas.com",
      scope: "Namespaced",
      names: { kind: "Profile", listKind: "ProfileList", plural: "profiles", singular: "profile" },
      versions: [{
        name: "v1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                properties: {
                  tolerations: { type: "array", items: open },
                  runtimeClassName: { type: "string" },
                  podSecurityContext: open,
                  affinity: open,
                },
                "x-kubernetes-preserve-unknown-fields": true,
              },
            },
          },
        },
      }],
    },
  };
};
