/**
 * Image pulls: the images each node holds, the pull policy (Never, IfNotPresent, Always), a pull's
 * time from the simulator's catalog, and ErrImagePull -> ImagePullBackOff with back-off for an image
 * the catalog does not know. The container starts once its image is on the node.
 */
import type { KObj } from "../../kinds.ts";
import { startContainer } from "./container.ts";
import { backOffMs, type PodRun, type RunContext } from "./run.ts";

export class ImagePulls {
  /** The images pulled on each node. */
  private readonly nodeImages = new Map<string, Set<string>>();

  constructor(private readonly k: RunContext) {}

  pull(r: PodRun) {
    const k = this.k;
    const pod = k.pod(r);
    const node = pod.spec.nodeName as string;
    const container = pod.spec.containers[0];
    const policy = container.imagePullPolicy ?? "IfNotPresent";
    const present = this.nodeImages.get(node)?.has(r.image) ?? false;
    const image = k.catalog.lookup(r.image);
    if (policy === "Never" && !present) {
      k.patchStatus(r, (s, o) => {
        s.containerStatuses = k.containerStatus(r, o, {
          state: {
            waiting: {
              reason: "ErrImageNeverPull",
              message: `Container image "${r.image}" is not present with pull policy of Never`,
            },
          },
        });
      });
      k.event(
        pod,
        "Warning",
        "ErrImageNeverPull",
        `Container image "${r.image}" is not present with pull policy of Never`,
      );
      return;
    }
    if (present && policy !== "Always" && image) {
      k.event(pod, "Normal", "Pulled", `Container image "${r.image}" already present on machine`);
      startContainer(k, r, image);
      return;
    }
    k.event(pod, "Normal", "Pulling", `Pulling image "${r.image}"`);
    const pullMs = image?.pullMs ?? 1_000;
    k.after(r, present ? 200 : pullMs, () => {
      const p = k.pod(r);
      if (!image) {
        this.failed(r, p);
        return;
      }
      if (k.registryOutage?.(r.image)) {
        this.failed(r, p, unreachable(reference(r.image)));
        return;
      }
      let images = this.nodeImages.get(node);
      if (!images) this.nodeImages.set(node, images = new Set());
      images.add(r.image);
      k.event(
        p,
        "Normal",
        "Pulled",
        `Successfully pulled image "${r.image}" in ${(pullMs / 1000).toFixed(3)}s`,
      );
      startContainer(k, r, image);
    });
  }

  /**
   * The pull failed (by default: the image does not exist): ErrImagePull, a second later
   * ImagePullBackOff, then a retry after back-off.
   */
  private failed(r: PodRun, pod: KObj, message = notFound(reference(r.image))) {
    const k = this.k;
    r.pullFailures++;
    k.patchStatus(r, (s, o) => {
      s.containerStatuses = k.containerStatus(r, o, {
        state: { waiting: { reason: "ErrImagePull", message } },
      });
    });
    k.event(pod, "Warning", "Failed", `Failed to pull image "${r.image}": ${message}`);
    k.event(pod, "Warning", "Failed", "Error: ErrImagePull");
    k.after(r, 1_000, () => {
      k.patchStatus(r, (s, o) => {
        s.containerStatuses = k.containerStatus(r, o, {
          state: {
            waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${r.image}"` },
          },
        });
      });
      k.event(k.pod(r), "Normal", "BackOff", `Back-off pulling image "${r.image}"`);
      k.event(k.pod(r), "Warning", "Failed", "Error: ImagePullBackOff");
      k.after(r, backOffMs(r.pullFailures), () => this.pull(r));
    });
  }
}

const reference = (image: string) => image.includes(":") || image.includes("@") ? image : `${image}:latest`;

const notFound = (ref: string) =>
  `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": pull access denied, repository does not exist or may require authorization`;

/** The registry of `ref` does not answer (an outage). */
const unreachable = (ref: string) => {
  const first = ref.split("/")[0];
  const host = ref.includes("/") && (first.includes(".") || first.includes(":"))
    ? first
    : "registry-1.docker.io";
  return `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": failed to do request: Head "https://${host}/v2/": dial tcp: lookup ${host}: i/o timeout`;
};
