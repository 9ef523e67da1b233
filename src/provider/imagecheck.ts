/**
 * The optional image check: before creating anything, ask the image's registry
 * whether the manifest exists (the Docker Registry v2 API, with the anonymous
 * bearer-token flow or the function's image pull secrets). Off by default, so
 * private and local registries keep working; the simulator answers from its
 * image catalog.
 */
import { Context, Effect, Layer } from "effect";
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import { InvalidRequest } from "../domain/errors.ts";
import { decodeBase64Text, encodeBase64Text } from "../lib/base64.ts";
import { parseImageRef } from "../domain/imageref.ts";

export interface ImageCheckShape {
  /**
   * Fails with a 400 naming the image and the registry's answer when the image cannot be pulled.
   * `auths` are the function's pull-secret credentials (`host -> base64(user:password)`).
   */
  check(image: string, auths: Readonly<Record<string, string>>): Effect.Effect<void, InvalidRequest>;
}

export class ImageCheck extends Context.Service<ImageCheck, ImageCheckShape>()("faas/provider/ImageCheck") {
  static off = Layer.succeed(ImageCheck, ImageCheck.of({ check: () => Effect.void }));

  /** Checks against the image's registry over HTTPS (plain HTTP for localhost / 127.0.0.0/8, as Docker allows). */
  static registry = (options: { timeoutMs?: number } = {}) =>
    Layer.succeed(
      ImageCheck,
      ImageCheck.of({
        check: (image, auths) =>
          Effect.gen(function* () {
            const problem = yield* Effect.promise(() =>
              manifestProblem(image, { auths: { ...auths }, timeoutMs: options.timeoutMs ?? 10_000 })
            );
            if (problem) return yield* new InvalidRequest({ message: `image: ${problem}` });
          }),
      }),
    );
}

/** `host -> base64(user:password)` from a dockerconfigjson or dockercfg Secret. */
export const dockerAuths = (secret: Secret): Record<string, string> => {
  const raw = secret.data?.[".dockerconfigjson"] ?? secret.data?.[".dockercfg"];
  if (!raw) return {};
  try {
    const doc = JSON.parse(decodeBase64Text(raw));
    const entries = (doc.auths ?? doc) as Record<
      string,
      { auth?: string; username?: string; password?: string }
    >;
    const out: Record<string, string> = {};
    for (const [host, e] of Object.entries(entries)) {
      const bare = host.replace(/^https?:\/\//, "");
      const slash = bare.indexOf("/"); // not /\/.*$/, which backtracks quadratically on many slashes
      const h = slash < 0 ? bare : bare.slice(0, slash);
      const auth = e.auth ??
        (e.username !== undefined ? encodeBase64Text(`${e.username}:${e.password ?? ""}`) : undefined);
      if (auth) out[h === "index.docker.io" || h === "docker.io" ? "registry-1.docker.io" : h] = auth;
    }
    return out;
  } catch {
    return {};
  }
};

const manifestTypes = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
].join(", ");

const isLoopback = (host: string) => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);

/** Parses `Bearer realm="..",service="..",scope=".."`. */
export const parseChallenge = (header: string | null): Record<string, string> | undefined => {
  if (!header || !/^bearer\s/i.test(header)) return undefined;
  const out: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out.realm ? out : undefined;
};

/**
 * Why the image's manifest cannot be fetched, or undefined when it can.
 * `auths` maps registry hosts to base64 basic credentials.
 */
export const manifestProblem = async (
  image: string,
  options: { auths?: Record<string, string>; timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<string | undefined> => {
  const ref = parseImageRef(image);
  if (!ref) return `"${image}" is not a valid image reference`;
  const host = ref.domain === undefined || ref.domain === "docker.io" ? "registry-1.docker.io" : ref.domain;
  const repo = ref.domain === undefined && !ref.path.includes("/") ? `library/${ref.path}` : ref.path;
  const reference = ref.digest ?? ref.tag ?? "latest";
  const base = `${isLoopback(host) ? "http" : "https"}://${host}`;
  const doFetch = options.fetch ?? fetch;
  const basic = options.auths?.[host];
  const request = (url: string, headers: Record<string, string>, method = "GET") =>
    doFetch(url, { method, headers, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
  try {
    const url = `${base}/v2/${repo}/manifests/${reference}`;
    let res = await request(url, {
      Accept: manifestTypes,
      ...(basic ? { Authorization: `Basic ${basic}` } : {}),
    }, "HEAD");
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      if (challenge) {
        const tokenUrl = new URL(challenge.realm);
        if (challenge.service) tokenUrl.searchParams.set("service", challenge.service);
        tokenUrl.searchParams.set("scope", challenge.scope ?? `repository:${repo}:pull`);
        const tokenRes = await request(tokenUrl.toString(), basic ? { Authorization: `Basic ${basic}` } : {});
        if (!tokenRes.ok) {
          return `registry ${host} refused a pull token for ${repo} (${tokenRes.status}: ${
            (await tokenRes.text()).trim()
          })`;
        }
        const body = await tokenRes.json() as { token?: string; access_token?: string };
        const token = body.token ?? body.access_token;
        res = await request(url, { Accept: manifestTypes, Authorization: `Bearer ${token}` }, "HEAD");
      }
    }
    await res.body?.cancel();
    if (res.ok) return undefined;
    if (res.status === 404) {
      return `${image} was not found: registry ${host} has no manifest ${repo}:${reference} (404)`;
    }
    if (res.status === 401 || res.status === 403) {
      return `${image} cannot be pulled: registry ${host} answered ${res.status} (private image: add an image pull secret to the function's secrets)`;
    }
    return `${image}: registry ${host} answered ${res.status}`;
  } catch (e) {
    return `registry ${host} of ${image} is not reachable: ${(e as Error).message}`;
  }
};
