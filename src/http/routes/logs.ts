/** Logs: `/system/logs`, function logs as newline-delimited JSON, mounted at /system. */
import { Effect, Stream } from "effect";
import { Hono } from "hono";
import { Logs } from "../../provider/logs.ts";
import { Unprocessable } from "../../domain/errors.ts";
import { parseGoBool, parseGoInt, parseGoRfc3339 } from "../../domain/goparse.ts";
import { type ApiEnv, queryOf, responder } from "../respond.ts";

/** A quoted query value for a message, cut when long. */
const shown = (v: string) => JSON.stringify(v.length <= 100 ? v : `${v.slice(0, 100)}...`);

export const logRoutes = Effect.gen(function* () {
  const logs = yield* Logs;
  const respond = yield* responder;
  const context = yield* Effect.context<never>();

  const routes = new Hono<ApiEnv>();
  routes.get("/logs", (c) => {
    // faas-provider's log handler: the LAST value of a repeated parameter, tail by strconv.Atoi,
    // since by time.Parse(RFC3339) (both 422 when invalid), follow by strconv.ParseBool (else false).
    const q = queryOf(c);
    const tailText = q.last("tail");
    const sinceText = q.last("since");
    const tail = tailText === "" ? undefined : parseGoInt(tailText);
    const since = sinceText === "" ? undefined : parseGoRfc3339(sinceText);
    const request = Effect.gen(function* () {
      if (tailText !== "" && tail === undefined) {
        return yield* new Unprocessable({
          message: `could not parse the log request: tail: ${
            shown(tailText)
          } is not a decimal integer in the int64 range`,
        });
      }
      if (sinceText !== "" && since === undefined) {
        return yield* new Unprocessable({
          message: `could not parse the log request: since: ${shown(sinceText)} is not an RFC3339 time`,
        });
      }
      return yield* logs.stream({
        name: q.last("name"),
        namespace: q.last("namespace") || undefined,
        instance: q.last("instance") || undefined,
        // More lines than 2^53 is all of them; a Number keeps the API server's int64 in range.
        tail: tail === undefined ? undefined : Number(
          tail > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : tail,
        ),
        since,
        follow: parseGoBool(q.last("follow")) ?? false,
      });
    });
    return respond(request, (messages) => {
      const encoder = new TextEncoder();
      const body = messages.pipe(
        Stream.map((m) => encoder.encode(`${JSON.stringify(m)}\n`)),
        Stream.toReadableStreamWith(context),
      );
      return new Response(body, {
        status: 200,
        headers: {
          "Content-Type": "application/x-ndjson",
          "Connection": "Keep-Alive",
          "Cache-Control": "no-cache",
        },
      });
    });
  });
  return routes;
});
