/**
 * The fault schedule of a chaos run: windows of faults, each of a kind with an `apply` and a `revert`,
 * drawn from the run's seed and written in a compact text form that a replay takes back (`--schedule`).
 * Kinds are a table: adding one is adding an entry.
 */
import { seededRandom } from "../clock.ts";
import type { FaultStatus } from "../faults.ts";
import type { World } from "./world.ts";
import type { FaultKind, FaultWindow } from "./fault.ts";
import { clusterFaultKinds } from "./clusterfaults.ts";

export type { FaultKind, FaultWindow } from "./fault.ts";

/** The API server's injected faults follow the windows open now (several may overlap). */
const recomputeApiFaults = (world: World, active: readonly FaultWindow[]) => {
  const max = (kind: string) =>
    Math.max(0, ...active.filter((w) => w.kind === kind).map((w) => w.level ?? 0));
  const errors = max("api-errors"), conflicts = max("conflicts");
  const c = world.faultConfig;
  c.rate = errors;
  c.verbRates = conflicts > 0
    ? { update: Math.max(errors, conflicts), patch: Math.max(errors, conflicts) }
    : {};
  const statuses: FaultStatus[] = [];
  if (errors > 0) statuses.push(500, 503, 429);
  if (conflicts > 0) statuses.push(409);
  c.statuses = statuses;
  c.watchDropRate = max("watch-drops");
  c.compactRate = max("compaction");
};

const apiFault = (name: string, level: (random: () => number) => number): FaultKind => ({
  name,
  level,
  apply: (world, _w, active) => recomputeApiFaults(world, active),
  revert: (world, _w, active) => recomputeApiFaults(world, active),
});

/** Replica link faults: the last window still open on a replica decides its link. */
const linkState = (world: World, target: number, active: readonly FaultWindow[]) => {
  const mine = active.filter((w) => w.target === target);
  const link = world.replicas[target].link;
  link.set(
    mine.some((w) => w.kind === "partition")
      ? "partitioned"
      : mine.some((w) => w.kind === "pause")
      ? "paused"
      : "up",
  );
  link.latencyMs = Math.max(0, ...mine.filter((w) => w.kind === "api-latency").map((w) => w.level ?? 0));
};

const linkFault = (name: string, level?: (random: () => number) => number): FaultKind => ({
  name,
  targets: "replica",
  level,
  apply: (world, w, active) => linkState(world, w.target ?? 0, active),
  revert: (world, w, active) => linkState(world, w.target ?? 0, active),
});

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Every kind the runner knows, by name. */
export const faultKinds: ReadonlyMap<string, FaultKind> = new Map(
  ([
    apiFault("api-errors", (r) => round2(0.05 + r() * 0.25)),
    apiFault("conflicts", (r) => round2(0.1 + r() * 0.4)),
    apiFault("watch-drops", (r) => round2(0.2 + r() * 0.6)),
    apiFault("compaction", (r) => round2(0.01 + r() * 0.04)),
    linkFault("api-latency", (r) => Math.round(100 + r() * 2_000)),
    linkFault("partition"),
    linkFault("pause"),
    {
      name: "crash",
      targets: "replica",
      level: undefined,
      apply: (world, w) => world.crash(w.target ?? 0),
      revert: (world, w) => void world.restart(w.target ?? 0),
    },
  ] satisfies FaultKind[]).concat(clusterFaultKinds).map((k) => [k.name, k]),
);

/** How many of each target there are. */
export interface Targets {
  readonly replicas: number;
  /** Default 3, the runner's simulated nodes. */
  readonly nodes?: number;
  /** Default 6. */
  readonly functions?: number;
}

const countOf = (kind: FaultKind, t: Targets) =>
  kind.targets === "replica"
    ? t.replicas
    : kind.targets === "node"
    ? t.nodes ?? 3
    : kind.targets === "function"
    ? t.functions ?? 6
    : 0;

export interface GenerateOptions extends Targets {
  readonly seed: number;
  readonly durationMs: number;
  /** Windows per simulated hour on average (default 6). */
  readonly perHour?: number;
  /** Kinds to draw from (default all). */
  readonly kinds?: readonly string[];
}

/** A seeded schedule: windows start uniformly in the run, last 20 s to 10 min, and end before it does. */
export const generateFaults = (options: GenerateOptions): FaultWindow[] => {
  const random = seededRandom(options.seed * 2654435761 + 17);
  const kinds = (options.kinds ?? [...faultKinds.keys()]).map((k) => faultKinds.get(k)!);
  const count = Math.round((options.durationMs / 3_600_000) * (options.perHour ?? 6) * (0.5 + random()));
  const windows: FaultWindow[] = [];
  for (let i = 0; i < count; i++) {
    const kind = kinds[Math.floor(random() * kinds.length)];
    const ms = Math.round(20 + random() * random() * 580) * 1000;
    const at = Math.round(random() * Math.max(0, options.durationMs - ms) / 1000) * 1000;
    const target = kind.targets ? Math.floor(random() * countOf(kind, options)) : undefined;
    const level = kind.level?.(random);
    windows.push({
      kind: kind.name,
      at,
      ms,
      ...(target !== undefined ? { target } : {}),
      ...(level !== undefined ? { level } : {}),
    });
  }
  return windows.sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind));
};

/** `kind@AT+MS[:replica][=level]`, times in seconds, comma separated. */
export const encodeFaults = (windows: readonly FaultWindow[]): string =>
  windows.map((w) =>
    `${w.kind}@${w.at / 1000}+${w.ms / 1000}${w.target !== undefined ? `:${w.target}` : ""}${
      w.level !== undefined ? `=${w.level}` : ""
    }`
  ).join(",");

export const decodeFaults = (text: string, targets: Targets): FaultWindow[] => {
  if (text.trim() === "" || text.trim() === "none") return [];
  return text.split(",").map((part) => {
    const m = /^([a-z-]+)@(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)(?::(\d+))?(?:=(\d+(?:\.\d+)?))?$/.exec(
      part.trim(),
    );
    if (!m) throw new Error(`fault "${part}": expected kind@AT+SECONDS[:replica][=level]`);
    const kind = faultKinds.get(m[1]);
    if (!kind) {
      throw new Error(`fault "${part}": unknown kind ${m[1]} (one of ${[...faultKinds.keys()].join(", ")})`);
    }
    const target = m[4] !== undefined ? Number(m[4]) : kind.targets ? 0 : undefined;
    if (target !== undefined && target >= countOf(kind, targets)) {
      throw new Error(
        `fault "${part}": ${kind.targets ?? "target"} ${target} does not exist (${
          countOf(kind, targets)
        } of them)`,
      );
    }
    return {
      kind: kind.name,
      at: Math.round(Number(m[2]) * 1000),
      ms: Math.round(Number(m[3]) * 1000),
      ...(target !== undefined ? { target } : {}),
      ...(m[5] !== undefined ? { level: Number(m[5]) } : {}),
    };
  });
};

/** Indices as ranges: `0-4,7,9-12`. */
export const encodeIndices = (kept: readonly number[]): string => {
  const out: string[] = [];
  for (let i = 0; i < kept.length;) {
    let j = i;
    while (j + 1 < kept.length && kept[j + 1] === kept[j] + 1) j++;
    out.push(j === i ? `${kept[i]}` : `${kept[i]}-${kept[j]}`);
    i = j + 1;
  }
  return out.join(",") || "none";
};

export const decodeIndices = (text: string): number[] => {
  if (text.trim() === "none") return [];
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`ops "${part}": expected N or A-B`);
    const a = Number(m[1]), b = m[2] !== undefined ? Number(m[2]) : a;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
};

/** What a run executes beyond its seed: the fault windows, and which workload operations are kept. */
export interface Schedule {
  readonly faults: readonly FaultWindow[];
  /** Indices of the workload's operations to run (undefined: all). */
  readonly ops?: readonly number[];
}

/** `faults=<windows>;ops=<ranges>`, the form `--schedule` takes. */
export const encodeSchedule = (s: Schedule): string =>
  `faults=${encodeFaults(s.faults) || "none"}${s.ops ? `;ops=${encodeIndices(s.ops)}` : ""}`;

export const decodeSchedule = (text: string, targets: Targets): Schedule => {
  let faults: FaultWindow[] = [];
  let ops: number[] | undefined;
  for (const part of text.split(";")) {
    const [key, value = ""] = part.split("=", 2).length === 2
      ? [part.slice(0, part.indexOf("=")), part.slice(part.indexOf("=") + 1)]
      : [part, ""];
    if (key === "faults") faults = decodeFaults(value, targets);
    else if (key === "ops") ops = decodeIndices(value);
    else throw new Error(`--schedule: unknown part "${key}" (faults=..., ops=...)`);
  }
  return { faults, ops };
};
