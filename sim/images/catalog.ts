/**
 * The images the simulated registry knows. An image not listed here cannot be
 * pulled (ErrImagePull, then ImagePullBackOff). `behaviour` says what the
 * container does once started; request handling lives beside each behaviour.
 *
 * Resource costs (for the metrics API, `sim/usagemeter.ts`): a running container
 * uses `baseMemoryBytes` of memory and 1m of CPU when idle; each request in
 * flight adds `cpuMillisPerRequest` millicores and `memoryBytesPerRequest`
 * bytes until the container answers. An image may set its own; otherwise
 * `imageCosts` takes them from `defaultCosts` by behaviour:
 *
 *   behaviour    cpu/request  memory/request  base memory
 *   watchdog     100m         2Mi             8Mi     (forks fprocess per request)
 *   http-echo    20m          256Ki           12Mi    (of-watchdog, one long-lived process)
 *   redirector   5m           64Ki            6Mi
 *   sleep        5m           64Ki            6Mi     (mostly waiting)
 *   oom          20m          256Ki           memoryBytes (serves like http-echo)
 *   crash, hang  0            0               4Mi     (never serve)
 *
 * `memoryBytes`, when set, is the base memory of any behaviour unless
 * `baseMemoryBytes` says otherwise.
 */

export type Behaviour =
  /** Classic OpenFaaS watchdog: forks `fprocess` per request. */
  | "watchdog"
  /** of-watchdog style HTTP server echoing the request. */
  | "http-echo"
  /** Answers 302 to `$destination`. */
  | "redirector"
  /** Exits with code 1 shortly after start. */
  | "crash"
  /** Exceeds its memory limit shortly after start. */
  | "oom"
  /** Starts but never becomes ready. */
  | "hang"
  /** Answers after sleeping `duration_ms` (query) of virtual time, for trace replays. */
  | "sleep";

export interface SimImage {
  /** Repository without tag, normalised (e.g. `docker.io/functions/alpine`). */
  readonly repository: string;
  readonly behaviour: Behaviour;
  /** Time to pull onto a node. */
  readonly pullMs: number;
  /** Time from container start until it can serve (and pass its readiness probe). */
  readonly startupMs: number;
  /** Milliseconds after start when a crash or OOM image fails. */
  readonly failAfterMs?: number;
  /**
   * Milliseconds after start when the process stops answering its health check (it keeps running):
   * readiness then fails and, with a liveness probe, the kubelet kills and restarts the container.
   */
  readonly unhealthyAfterMs?: number;
  /** Memory the process uses; above the container's limit it is OOMKilled. */
  readonly memoryBytes?: number;
  /** CPU (millicores) each request in flight uses (default by behaviour: `defaultCosts`). */
  readonly cpuMillisPerRequest?: number;
  /** Memory each request in flight adds to the working set (default by behaviour). */
  readonly memoryBytesPerRequest?: number;
  /** Working set of the idle container (default: `memoryBytes`, else by behaviour). */
  readonly baseMemoryBytes?: number;
  readonly description: string;
}

/** What running an image costs: see the table in this file's header. */
export interface ImageCosts {
  readonly cpuMillisPerRequest: number;
  readonly memoryBytesPerRequest: number;
  readonly baseMemoryBytes: number;
}

const Ki = 1024;
const Mi = 1024 * 1024;

/** The one place the per-behaviour resource defaults live. */
export const defaultCosts: Readonly<Record<Behaviour, ImageCosts>> = {
  watchdog: { cpuMillisPerRequest: 100, memoryBytesPerRequest: 2 * Mi, baseMemoryBytes: 8 * Mi },
  "http-echo": { cpuMillisPerRequest: 20, memoryBytesPerRequest: 256 * Ki, baseMemoryBytes: 12 * Mi },
  redirector: { cpuMillisPerRequest: 5, memoryBytesPerRequest: 64 * Ki, baseMemoryBytes: 6 * Mi },
  sleep: { cpuMillisPerRequest: 5, memoryBytesPerRequest: 64 * Ki, baseMemoryBytes: 6 * Mi },
  oom: { cpuMillisPerRequest: 20, memoryBytesPerRequest: 256 * Ki, baseMemoryBytes: 12 * Mi },
  crash: { cpuMillisPerRequest: 0, memoryBytesPerRequest: 0, baseMemoryBytes: 4 * Mi },
  hang: { cpuMillisPerRequest: 0, memoryBytesPerRequest: 0, baseMemoryBytes: 4 * Mi },
};

const resolvedCosts = new WeakMap<SimImage, ImageCosts>();

/** An image's resource costs, its own fields over the behaviour's defaults (cached per image). */
export const imageCosts = (image: SimImage): ImageCosts => {
  let costs = resolvedCosts.get(image);
  if (!costs) {
    const d = defaultCosts[image.behaviour];
    costs = {
      cpuMillisPerRequest: image.cpuMillisPerRequest ?? d.cpuMillisPerRequest,
      memoryBytesPerRequest: image.memoryBytesPerRequest ?? d.memoryBytesPerRequest,
      baseMemoryBytes: image.baseMemoryBytes ?? image.memoryBytes ?? d.baseMemoryBytes,
    };
    resolvedCosts.set(image, costs);
  }
  return costs;
};

/** `alpine` -> `docker.io/library/alpine`; tags and digests removed. */
const normaliseRepository = (image: string): string => {
  let ref = image;
  const at = ref.indexOf("@");
  if (at >= 0) ref = ref.slice(0, at);
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon > lastSlash) ref = ref.slice(0, colon);
  const parts = ref.split("/");
  const hasDomain = parts.length > 1 &&
    (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost");
  if (!hasDomain) {
    if (parts.length === 1) parts.unshift("library");
    parts.unshift("docker.io");
  }
  return parts.join("/");
};

const image = (
  repository: string,
  behaviour: Behaviour,
  description: string,
  extra: Partial<SimImage> = {},
): SimImage => ({
  repository: normaliseRepository(repository),
  behaviour,
  pullMs: 1_500,
  startupMs: 300,
  description,
  ...extra,
});

const defaultCatalog: readonly SimImage[] = [
  image("functions/alpine", "watchdog", "classic watchdog on Alpine: runs fprocess per request"),
  image("ghcr.io/openfaas/alpine", "watchdog", "classic watchdog on Alpine: runs fprocess per request"),
  image("theaxer/redirector", "redirector", "answers 302 with Location: $destination"),
  image(
    "ghcr.io/openfaas/of-echo",
    "http-echo",
    "of-watchdog HTTP mode: echoes method, path, headers and body",
  ),
  image("sim/crashloop", "crash", "exits with code 1 two seconds after start", { failAfterMs: 2_000 }),
  image("sim/oom", "oom", "allocates 512Mi one second after start", {
    failAfterMs: 1_000,
    memoryBytes: 512 * 1024 * 1024,
  }),
  image("sim/slow-start", "http-echo", "takes 20 seconds to become ready", { startupMs: 20_000 }),
  image("sim/hang", "hang", "starts but never becomes ready"),
  image("sim/sleep", "sleep", "answers after sleeping duration_ms (query) or X-Duration-Ms (header)"),
  image("sim/unhealthy", "http-echo", "serves, then fails its health check one minute after each start", {
    unhealthyAfterMs: 60_000,
  }),
  image("sim/busy", "sleep", "like sim/sleep, but CPU-bound: a full core per request in flight", {
    cpuMillisPerRequest: 1_000,
  }),
];

export class ImageCatalog {
  private readonly images = new Map<string, SimImage>();
  constructor(images: readonly SimImage[] = defaultCatalog) {
    for (const i of images) this.add(i);
  }
  add(i: SimImage) {
    this.images.set(normaliseRepository(i.repository), {
      ...i,
      repository: normaliseRepository(i.repository),
    });
  }
  lookup(image: string): SimImage | undefined {
    return this.images.get(normaliseRepository(image));
  }
  all(): SimImage[] {
    return [...this.images.values()];
  }
}
