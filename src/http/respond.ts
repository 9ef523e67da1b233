/**
 * What the route handlers share: running a use case and rendering its answer or its error (the status
 * comes from errors.ts), reading a JSON body as Go's encoding/json would, and the query as Go parses it.
 */
import { Cause, Effect, Exit, type Schema } from "effect";
import type { Context } from "hono";
import { InvalidRequest, PayloadTooLarge, type ProviderError, RequestTimeout } from "../domain/errors.ts";
import { decodeBody } from "../domain/types.ts";
import { concatBytes } from "../lib/bytes.ts";
import { statusOf, textError } from "./errors.ts";
import { type GoQuery, goQuery } from "./query.ts";

/** Hono's environment for the API: Deno.serve's connection info as bindings (the client's address). */
export type ApiEnv = { Bindings: Deno.ServeHandlerInfo };
export type ApiContext = Context<ApiEnv>;

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/**
 * JSON text per object, for objects the provider keeps while they stay the same (a function's status is
 * rebuilt whenever its Deployment changes): an unchanged one is answered without encoding it again.
 */
const encoded = new WeakMap<object, string>();
export const jsonText = (value: object): string => {
  let text = encoded.get(value);
  if (text === undefined) encoded.set(value, text = JSON.stringify(value));
  return text;
};

/** `json` for an object that is not changed once built (see jsonText). */
export const cachedJson = (value: object) =>
  new Response(jsonText(value), { status: 200, headers: { "Content-Type": "application/json" } });

export const accepted = () => new Response(null, { status: 202 });

/** A use case's error as the status errors.ts maps it to. */
export const failed = (error: ProviderError) => textError(statusOf(error), error.message);

/** Runs a use case and renders its result, or its error as the status errors.ts maps it to. */
type Respond = <A>(
  effect: Effect.Effect<A, ProviderError>,
  render: (a: A) => Response,
) => Promise<Response>;

/** A `Respond` that runs use cases with the context it is built in: the provider's Clock, logger, services. */
export const responder: Effect.Effect<Respond> = Effect.map(Effect.context<never>(), (context) => {
  const runExit = Effect.runPromiseExitWith(context);
  return async (effect, render) => {
    const exit = await runExit(effect);
    if (Exit.isSuccess(exit)) return render(exit.value);
    const failure = exit.cause.reasons.find(Cause.isFailReason);
    if (failure) return failed(failure.error);
    await Effect.runPromise(Effect.logError("request failed", Cause.pretty(exit.cause)));
    return textError(500, "internal error");
  };
});

/** Reads a request body whole; its size is bounded by the bodyLimit middleware, its time by readTimeout. */
const readBody = async (req: Request): Promise<Uint8Array> => {
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  const reader = req.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return concatBytes(chunks);
};

/** Decodes a JSON body of the given schema, as Go's encoding/json would (see decodeBody). */
export const body = <S extends Schema.Top & { readonly DecodingServices: never }>(
  c: ApiContext,
  schema: S,
): Effect.Effect<S["Type"], ProviderError> =>
  Effect.gen(function* () {
    const bytes = yield* Effect.tryPromise({
      try: () => readBody(c.req.raw),
      catch: (e) =>
        e instanceof PayloadTooLarge || e instanceof RequestTimeout
          ? e
          : new InvalidRequest({ message: `cannot read request body: ${String(e)}` }),
    });
    // A byte order mark stays in the text: Go refuses it as JSON, so do we.
    return yield* decodeBody(schema, new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes));
  });

/** The request's query as Go parses it, once per request. */
const queries = new WeakMap<ApiContext, GoQuery>();
export const queryOf = (c: ApiContext): GoQuery => {
  let q = queries.get(c);
  if (!q) queries.set(c, q = goQuery(c.req.url));
  return q;
};

/** A query parameter as faas-netes reads it (`url.Values.Get`: the first value); "" is absent. */
export const query = (c: ApiContext, key: string) => queryOf(c).first(key) || undefined;
