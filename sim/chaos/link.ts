/**
 * One provider replica's connection to the API server, switchable at any time: up, partitioned (every call
 * fails as a refused connection would), paused (a frozen process: calls go out only when it thaws) or slow
 * (every call waits `latencyMs` of Clock time first). Wraps the replica's own KubeApi client, so a fault
 * hits one replica and not the cluster.
 */
import { Effect, Stream } from "effect";
import { type KubeApiShape, KubeError } from "../../src/kube/api.ts";

/** How a replica reaches the API server: normally, not at all (partitioned), or frozen (paused). */
export type LinkState = "up" | "partitioned" | "paused";

export class Link {
  state: LinkState = "up";
  /** Added to every call while set (virtual time under TestClock). */
  latencyMs = 0;
  private resume: (() => void)[] = [];
  set(state: LinkState) {
    this.state = state;
    if (state !== "paused") { for (const r of this.resume.splice(0)) r(); }
  }
  private readonly gate = <A>(call: Effect.Effect<A, KubeError>): Effect.Effect<A, KubeError> =>
    Effect.suspend(() => {
      if (this.state === "partitioned") {
        return Effect.fail(KubeError.transport("Connection", "partitioned from the API server (simulated)"));
      }
      if (this.state === "paused") {
        // A frozen process: the call goes out only when it thaws.
        return Effect.andThen(
          Effect.promise(() => new Promise<void>((r) => this.resume.push(r))),
          this.gate(call),
        );
      }
      if (this.latencyMs > 0) return Effect.andThen(Effect.sleep(this.latencyMs), call);
      return call;
    });
  wrap = (api: KubeApiShape): KubeApiShape => ({
    request: (req) => this.gate(api.request(req)),
    watch: <T>(path: string, query?: Readonly<Record<string, string | undefined>>) =>
      Stream.unwrap(Effect.map(this.gate(Effect.void), () => api.watch<T>(path, query))),
    lines: (path, query) => Stream.unwrap(Effect.map(this.gate(Effect.void), () => api.lines(path, query))),
  });
}
