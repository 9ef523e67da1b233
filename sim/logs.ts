/** Container logs kept by the simulated kubelet, served as `pods/{name}/log`. */
import type { LogReadOptions, LogSource } from "./apiserver.ts";

interface LogLine {
  readonly time: number;
  readonly text: string;
}

interface ContainerLog {
  readonly lines: LogLine[];
  readonly followers: Set<(l: LogLine) => void>;
  ended: boolean;
  readonly enders: Set<() => void>;
}

/** Kubelet-style RFC3339 timestamp with nanoseconds. */
const rfc3339Nano = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");

/** How many lines a container's log keeps (like log rotation). */
const maxLines = 10_000;

export class LogStore implements LogSource {
  /** By pod (`namespace/name`), then container. */
  private readonly logs = new Map<string, Map<string, ContainerLog>>();

  private log(ns: string, pod: string, container: string): ContainerLog {
    let containers = this.logs.get(`${ns}/${pod}`);
    if (!containers) this.logs.set(`${ns}/${pod}`, containers = new Map());
    let l = containers.get(container);
    if (!l) {
      containers.set(container, l = { lines: [], followers: new Set(), ended: false, enders: new Set() });
    }
    return l;
  }

  append(ns: string, pod: string, container: string, time: number, text: string) {
    const l = this.log(ns, pod, container);
    for (const part of text.split("\n")) {
      const line = { time, text: part };
      l.lines.push(line);
      if (l.lines.length > maxLines) l.lines.shift();
      for (const f of l.followers) f(line);
    }
  }

  /** The pod is gone: followers' streams end. */
  end(ns: string, pod: string) {
    const containers = this.logs.get(`${ns}/${pod}`);
    if (!containers) return;
    this.logs.delete(`${ns}/${pod}`);
    for (const l of containers.values()) {
      l.ended = true;
      for (const e of l.enders) e();
    }
  }

  read(
    ns: string,
    pod: string,
    opts: LogReadOptions,
    onLine: (line: string) => void,
    onEnd: () => void,
  ): () => void {
    const l = this.log(ns, pod, opts.container ?? "");
    const render = (x: LogLine) => (opts.timestamps ? `${rfc3339Nano(x.time)} ${x.text}` : x.text);
    let lines = l.lines.filter((x) => opts.sinceTime === undefined || x.time >= opts.sinceTime);
    if (opts.tailLines !== undefined && opts.tailLines >= 0) {
      lines = lines.slice(Math.max(0, lines.length - opts.tailLines));
    }
    for (const x of lines) onLine(render(x));
    if (!opts.follow || l.ended) {
      onEnd();
      return () => {};
    }
    const follower = (x: LogLine) => onLine(render(x));
    l.followers.add(follower);
    l.enders.add(onEnd);
    return () => {
      l.followers.delete(follower);
      l.enders.delete(onEnd);
    };
  }
}
