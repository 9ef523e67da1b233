/** `/system/info`, and the probes `/healthz` and `/metrics`; mounted at the root. */
import { Effect } from "effect";
import { Hono } from "hono";
import { Caches } from "../../kube/caches.ts";
import { registry } from "../../metrics/registry.ts";
import type { ProviderInfo } from "../../domain/types.ts";
import { providerName, release, sha } from "../../domain/version.ts";
import { textError } from "../errors.ts";
import { type ApiEnv, json } from "../respond.ts";

export const systemRoutes = Effect.gen(function* () {
  const caches = yield* Caches;

  /** 503 with the reason the provider cannot serve from its caches (not synced, API server unreachable). */
  const health = () => {
    const problem = caches.unhealthy();
    return problem ? textError(503, problem) : new Response(null, { status: 200 });
  };

  const routes = new Hono<ApiEnv>();
  routes.get("/system/info", () => {
    const info: ProviderInfo = {
      provider: providerName,
      version: { sha, release },
      orchestration: "kubernetes",
    };
    return json(info);
  });
  routes.get("/metrics", () =>
    new Response(registry.expose(), {
      headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
    }));
  routes.get("/healthz", health);
  return routes;
});
