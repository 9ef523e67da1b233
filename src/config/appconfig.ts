/** The provider's configuration as an Effect service. */
import { Context, Layer } from "effect";
import type { ProviderConfig } from "../config.ts";

export class AppConfig extends Context.Service<AppConfig, ProviderConfig>()("faas/config/AppConfig") {
  static layer = (config: ProviderConfig) => Layer.succeed(AppConfig, config);
}
