/** Kubernetes objects and checks shared by the simulator tests. */
import assert from "node:assert/strict";

/** A function-like Deployment: label faas_function, one container with a readiness probe. */
export const deploymentFixture = (
  name: string,
  image = "functions/alpine:latest",
  extraSpec: Record<string, unknown> = {},
) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, labels: { faas_function: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { faas_function: name } },
    template: {
      metadata: { labels: { faas_function: name } },
      spec: {
        containers: [{
          name,
          image,
          env: [{ name: "fprocess", value: "env" }],
          ports: [{ containerPort: 8080 }],
          readinessProbe: {
            exec: { command: ["cat", "/tmp/.lock"] },
            initialDelaySeconds: 2,
            periodSeconds: 2,
          },
        }],
      },
    },
    ...extraSpec,
  },
});

/**
 * The watch events of the shared scenario (create s1, s2, s3; update s2; delete s1), in order and with
 * increasing resourceVersions, whichever transport delivered them.
 */
export const assertSecretWatchEvents = (
  events: readonly { type: string; object: { metadata: { name?: string; resourceVersion?: string } } }[],
) => {
  assert.deepEqual(events.map((e) => `${e.type}:${e.object.metadata.name}`), [
    "ADDED:s1",
    "ADDED:s2",
    "ADDED:s3",
    "MODIFIED:s2",
    "DELETED:s1",
  ]);
  const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
  assert.deepEqual([...rvs].sort((a, b) => a - b), rvs);
};

/** Reads one NDJSON object from a stream reader (buffer shared across calls). */
export const lineReader = (reader: ReadableStreamDefaultReader<string>) => {
  let buffer = "";
  return async () => {
    while (!buffer.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
    const i = buffer.indexOf("\n");
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    return JSON.parse(line);
  };
};
