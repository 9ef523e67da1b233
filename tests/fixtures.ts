/** Kubernetes objects shared by the simulator tests. */

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
