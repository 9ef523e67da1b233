/** The `--help` text, printed from the settings table that loadConfig reads. */
import { program } from "./flags.ts";
import { settings } from "./settings.ts";

/** Greedy word wrap of `text` to `width` columns, each line prefixed by `indent`. */
function wrap(text: string, indent: string, width = 79): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(indent + line);
  return lines.join("\n");
}

/** Go `flag`-style entries: the name on one line, the wrapped description below it. */
function entries(rows: readonly (readonly [string, string])[]): string {
  return rows.map(([left, right]) => `  ${left}\n${wrap(right, "        ")}`).join("\n");
}

export function helpText(): string {
  const all = Object.values(settings);
  const flagRows = all.flatMap((s) => {
    if (!s.flag) return [];
    const left = s.flag.kind === "value" ? `--${s.flag.name} ${s.flag.arg}` : `--${s.flag.name}`;
    const def = s.def !== "" ? ` Default: ${s.def}.` : "";
    const env = s.env !== undefined ? ` Environment: ${s.env}.` : "";
    return [[left, s.help + def + env] as const];
  });
  const envRows = all.flatMap((s) =>
    s.env === undefined
      ? []
      : [[s.env, `${s.help}${s.flag ? ` Same as --${s.flag.name}.` : ""} Default: ${s.def}.`] as const]
  );

  return `${program} - the OpenFaaS provider for Kubernetes, a drop-in replacement
for faas-netes. It serves the faas-provider HTTP API to the OpenFaaS Gateway.

Usage:
  ${program} [flags]

Backends:
  sim   The built-in cluster simulator. This is the default when running
        off-cluster: no Kubernetes is needed; the simulator is shaped by
        --sim-nodes, --sim-node-cpu, --sim-node-memory and --seed.
  kube  A real Kubernetes cluster. Selected automatically when running
        in-cluster (KUBERNETES_SERVICE_HOST is set; the pod's service account
        is used) or when --kubeconfig is given; force it with --cluster=kube.
        The KUBECONFIG environment variable alone does not select it.

Flags (also accepted with a single dash, and as --flag=value or --flag value;
flags override the matching environment variable):
${entries(flagRows)}

Environment variables:
${entries(envRows)}

Durations are a bare number of seconds or a Go duration (500ms, 65s, 1m5s,
1h2m3.5s); invalid durations and integers fall back to the default, except
where noted. Booleans are true only for the exact value "true".

Examples:
  # Run against the simulator with 5 nodes and a fixed seed
  ${program} --sim-nodes 5 --seed 42

  # Run against a real cluster from your workstation
  ${program} --kubeconfig ~/.kube/config --port 8081

  # Inside a pod (in-cluster), with custom timeouts and namespace
  read_timeout=65s write_timeout=65s function_namespace=openfaas-fn ${program}
`;
}
