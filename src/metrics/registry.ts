/**
 * A small Prometheus registry: counters, gauges and histograms with labels, and
 * the text exposition format. One process-wide registry, like prom-client's.
 */

type Labels = Readonly<Record<string, string>>;

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labelText = (labels: Labels) => {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escape(labels[k])}"`).join(",")}}`;
};
/** A series key; call sites pass label names in a fixed order, so no sorting is needed. */
const keyOf = (labels: Labels) => {
  let key = "";
  for (const k in labels) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
};
/** A sample value as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, or the number. */
const num = (n: number) => (n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n));

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(): string[];
}

/** Values per label set, shared by counters and gauges. */
abstract class Series implements Metric {
  abstract readonly type: "counter" | "gauge";
  protected readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}
  protected addTo(labels: Labels, by: number) {
    const k = keyOf(labels);
    const v = this.values.get(k);
    if (v) v.value += by;
    else this.values.set(k, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }
  protected entries(): Iterable<readonly [Labels, number]> {
    return [...this.values.values()].map((v) => [v.labels, v.value] as const);
  }
  render() {
    return [...this.entries()].map(([l, v]) => `${this.name}${labelText(l)} ${num(v)}`);
  }
}

class Counter extends Series {
  readonly type = "counter";
  inc(labels: Labels = {}, by = 1) {
    this.addTo(labels, by);
  }
  /** Sum over all label sets matching `filter`. */
  sum(filter: (l: Labels) => boolean = () => true): number {
    let s = 0;
    for (const v of this.values.values()) if (filter(v.labels)) s += v.value;
    return s;
  }
}

class Gauge extends Series {
  readonly type = "gauge";
  /** Computed at scrape time, replacing stored values. */
  collect?: () => Iterable<readonly [Labels, number]>;
  set(labels: Labels, value: number) {
    this.values.set(keyOf(labels), { labels, value });
  }
  protected override entries() {
    return this.collect ? this.collect() : super.entries();
  }
}

const defaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram implements Metric {
  readonly type = "histogram";
  private readonly values = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = defaultBuckets,
  ) {}
  observe(labels: Labels, value: number) {
    const k = keyOf(labels);
    let v = this.values.get(k);
    if (!v) this.values.set(k, v = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) v.counts[i]++;
    v.sum += value;
    v.count++;
  }
  render() {
    const lines: string[] = [];
    for (const v of this.values.values()) {
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket${labelText({ ...v.labels, le: num(b) })} ${v.counts[i]}`)
      );
      lines.push(`${this.name}_bucket${labelText({ ...v.labels, le: "+Inf" })} ${v.count}`);
      lines.push(`${this.name}_sum${labelText(v.labels)} ${num(v.sum)}`);
      lines.push(`${this.name}_count${labelText(v.labels)} ${v.count}`);
    }
    return lines;
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();
  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }
  private register<M extends Metric>(m: M): M {
    const existing = this.metrics.get(m.name);
    if (existing) return existing as M;
    this.metrics.set(m.name, m);
    return m;
  }
  /** Prometheus text exposition format 0.0.4. */
  expose(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return out.join("\n") + "\n";
  }
}

export const registry = new Registry();

/** The provider's own metrics. */
export const metrics = {
  httpRequests: registry.counter("provider_http_requests_total", "Requests to the provider's system routes."),
  httpDuration: registry.histogram(
    "provider_http_request_duration_seconds",
    "Duration of requests to the provider's system routes.",
  ),
  invocations: registry.counter(
    "gateway_function_invocation_total",
    "Function invocations through the proxy.",
  ),
  invocationSeconds: registry.histogram("gateway_functions_seconds", "Duration of function invocations."),
  invocationsStarted: registry.counter("gateway_function_invocation_started", "Invocations started."),
  inFlight: registry.gauge("gateway_function_invocation_inflight", "Invocations in flight per function."),
  serviceCount: registry.gauge("gateway_service_count", "Desired replicas per function."),
  coldStarts: registry.counter(
    "provider_cold_starts_total",
    "Invocations that found no ready endpoint and had to wait for one.",
  ),
  scalingDecisions: registry.counter(
    "provider_scaling_decisions_total",
    "Replica changes made by the autoscaler, the idler and the predictor, by policy and reason.",
  ),
  leader: registry.gauge(
    "provider_leader",
    "1 while this replica leads (holds the leader election Lease and renewed it within the renew deadline), else 0.",
  ),
  leaderTransitions: registry.counter(
    "provider_leader_transitions_total",
    "Changes of the leader election Lease's holder seen by this replica (its own acquisitions included).",
  ),
  historyAge: registry.gauge(
    "provider_history_loaded_age_seconds",
    "Age of the invocation history this replica loaded when it became leader: seconds between the newest " +
      "record loaded being written and its loading.",
  ),
  historyWrites: registry.counter(
    "provider_history_writes_total",
    "Writes of per-function invocation history records (ConfigMaps faas-deno-history-<function>), by result.",
  ),
  loadMembers: registry.gauge(
    "provider_load_members",
    "Other replicas the leader gathers load from (live membership Leases), by the leader's identity.",
  ),
  loadStaleReports: registry.counter(
    "provider_load_stale_reports_total",
    "Load reports of a live member the leader could not read or found stale (scale-down waits meanwhile).",
  ),
  kubeRequests: registry.counter(
    "provider_kube_requests_total",
    "Kubernetes API calls by verb and status code.",
  ),
  kubeErrors: registry.counter("provider_kube_request_errors_total", "Kubernetes API calls that failed."),
  kubeDuration: registry.histogram(
    "provider_kube_request_duration_seconds",
    "Latency of Kubernetes API calls.",
  ),
  kubeRetries: registry.counter("provider_kube_retries_total", "Retries of Kubernetes API calls."),
  kubeGiveUps: registry.counter(
    "provider_kube_retry_giveups_total",
    "Kubernetes API calls abandoned after retries.",
  ),
};

/**
 * The process's memory, read when /metrics is scraped (the names of Prometheus' process collector and of
 * Node's prom-client, which dashboards know): resident set, V8 heap used and allocated, and memory outside
 * the V8 heap that JS objects hold (buffers, streams).
 */
const memoryGauge = (name: string, help: string, read: (m: Deno.MemoryUsage) => number) => {
  const gauge = registry.gauge(name, help);
  gauge.collect = () => [[{}, read(Deno.memoryUsage())]];
  return gauge;
};
memoryGauge("process_resident_memory_bytes", "Resident memory size in bytes.", (m) => m.rss);
memoryGauge("nodejs_heap_size_used_bytes", "V8 heap in use, in bytes.", (m) => m.heapUsed);
memoryGauge("nodejs_heap_size_total_bytes", "V8 heap allocated, in bytes.", (m) => m.heapTotal);
memoryGauge(
  "nodejs_external_memory_bytes",
  "Memory outside the V8 heap held by JavaScript objects, in bytes.",
  (m) => m.external,
);
