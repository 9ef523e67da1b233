/** Command-line flags in Go `flag` syntax, as the settings table declares them. */
import { configError } from "./config.ts";
import { type Flags, type FlagSpec, settings } from "./settings.ts";

export const program = "faas-deno";

const flagSpecs: readonly FlagSpec[] = Object.values(settings).flatMap((s) =>
  "flag" in s && s.flag ? [s.flag] : []
);

const flagByName: ReadonlyMap<string, FlagSpec> = new Map([
  ...flagSpecs.map((f) => [f.name, f] as const),
  ["h", flagSpecs.find((f) => f.name === "help")!] as const,
]);

/** Go's strconv.ParseBool vocabulary, used for `--bool=value`. */
const parseFlagBool = (raw: string, value: string): boolean => {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw configError(`invalid value ${JSON.stringify(value)} for flag ${raw}: expected true or false`);
};

/**
 * Parses command-line arguments in Go `flag` style: `--k=v`, `--k v`, `-k v`, `-k=v`. A boolean flag given
 * bare is true and never consumes the next argument; a value flag given bare (at the end, or followed by
 * another flag) is recorded as `true`, which `loadConfig` rejects. `--help`, `-help` and `-h` set `help`.
 * `--` ends the flags. Unknown flags, malformed flags and positional arguments throw a ConfigError.
 */
export function parseArgs(args: string[]): { flags: Flags; help: boolean } {
  const flags: Flags = {};
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (i + 1 < args.length) {
        throw configError(
          `unexpected argument ${JSON.stringify(args[i + 1])}: ${program} takes no arguments`,
        );
      }
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      const hint = i > 0 && flagByName.get(args[i - 1].replace(/^--?/, ""))?.kind === "bool"
        ? ` (boolean flags take their value as ${args[i - 1]}=${arg})`
        : "";
      throw configError(
        `unexpected argument ${JSON.stringify(arg)}: ${program} takes no positional arguments${hint}`,
      );
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const raw = arg.slice(0, arg.length - body.length) + name;
    if (name === "" || name.startsWith("-")) throw configError(`bad flag syntax: ${arg}`);
    const spec = flagByName.get(name);
    if (spec === undefined) {
      throw configError(`unknown flag ${raw} (run ${program} --help for the list of flags)`);
    }
    let value: string | boolean;
    if (eq !== -1) {
      const text = body.slice(eq + 1);
      value = spec.kind === "bool" ? parseFlagBool(raw, text) : text;
    } else if (spec.kind === "value" && i + 1 < args.length && !args[i + 1].startsWith("-")) {
      value = args[++i];
    } else {
      value = true;
    }
    if (spec.name === "help") help = value === true;
    else flags[spec.name] = value;
  }
  return { flags, help };
}
