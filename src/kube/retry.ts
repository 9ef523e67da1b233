/**
 * Retry policies for Kubernetes API calls, declared as Schedules and named
 * after what they protect.
 */
import { Duration, Effect, Schedule } from "effect";
import { isAlreadyExists, isConflict, isNotFound, type KubeError } from "./api.ts";
import { metrics } from "../metrics/registry.ts";

/**
 * Transient failures: no answer or an undecodable one (a cut connection), throttling, server errors and
 * timeouts.
 */
const isTransient = (e: KubeError): boolean =>
  e.status === undefined || e.status === 429 || e.status === 500 || e.status === 502 || e.status === 503 ||
  e.status === 504 || (e.status === 409 && e.statusReason === "ServerTimeout");

/**
 * apiRetry: exponential back-off from 100 ms with jitter, each delay capped at
 * 5 s and at least the server's Retry-After, for at most 30 s of retrying.
 */
export const apiRetry = Schedule.min([Schedule.exponential("100 millis", 2), Schedule.spaced("5 seconds")])
  .pipe(
    Schedule.jittered,
    Schedule.setInputType<KubeError>(),
    Schedule.modifyDelay((meta) =>
      Effect.succeed(
        meta.input.retryAfterSeconds !== undefined
          ? Duration.max(meta.duration, Duration.seconds(meta.input.retryAfterSeconds))
          : meta.duration,
      )
    ),
    Schedule.while(({ input, elapsed }) => isTransient(input) && elapsed < 30_000),
  );

/** conflictRetry: a stale read-modify-write is re-read and re-applied, 5 tries ~10 ms apart (client-go's DefaultRetry). */
export const conflictRetry = Schedule.spaced("10 millis").pipe(
  Schedule.jittered,
  Schedule.setInputType<KubeError>(),
  // `attempt` counts from 1 at the first failure: 4 retries after it, 5 tries in all.
  Schedule.while(({ input, attempt }) => isConflict(input) && attempt < 5),
);

/** watchReconnect: back-off between failed list/watch attempts of an informer, capped at 30 s. */
export const watchReconnect = Schedule.min([
  Schedule.exponential("200 millis", 2),
  Schedule.spaced("30 seconds"),
]).pipe(
  Schedule.jittered,
);

const countedApiRetry = apiRetry.pipe(Schedule.tap(() => Effect.sync(() => metrics.kubeRetries.inc())));

/** Runs a Kubernetes call with apiRetry; retries and give-ups are counted in /metrics. */
export const withApiRetry = <A, R>(effect: Effect.Effect<A, KubeError, R>): Effect.Effect<A, KubeError, R> =>
  Effect.retry(effect, countedApiRetry).pipe(
    Effect.tapError((e) => Effect.sync(() => isTransient(e) && metrics.kubeGiveUps.inc())),
  );

/**
 * Runs `effect` under apiRetry; when a *retried* attempt fails with `after` (an error an earlier attempt,
 * whose answer was lost, may have caused), `recover` decides the outcome instead.
 */
const recoverAfterRetry = <A, B, R, R2>(
  effect: Effect.Effect<A, KubeError, R>,
  after: (e: KubeError) => boolean,
  recover: (e: KubeError) => Effect.Effect<B, KubeError, R2>,
): Effect.Effect<A | B, KubeError, R | R2> =>
  Effect.suspend(() => {
    let attempts = 0;
    return withApiRetry(Effect.suspend(() => {
      attempts++;
      return effect;
    })).pipe(Effect.catchIf((e: KubeError) => after(e) && attempts > 1, recover));
  });

/**
 * A create under apiRetry that stays idempotent: when a retried attempt gets
 * AlreadyExists, an earlier attempt may have succeeded with its answer lost;
 * `ours` reads the object and returns it when it is the one we created.
 */
export const idempotentCreate = <A, R, R2>(
  create: Effect.Effect<A, KubeError, R>,
  ours: Effect.Effect<A | undefined, KubeError, R2>,
): Effect.Effect<A, KubeError, R | R2> =>
  recoverAfterRetry(
    create,
    isAlreadyExists,
    (e) => Effect.flatMap(ours, (a) => (a === undefined ? Effect.fail(e) : Effect.succeed(a))),
  );

/** A delete under apiRetry that stays idempotent: NotFound after a retried attempt means an earlier one succeeded. */
export const idempotentDelete = <A, R>(
  del: Effect.Effect<A, KubeError, R>,
): Effect.Effect<A | undefined, KubeError, R> =>
  recoverAfterRetry(del, isNotFound, () => Effect.succeed(undefined));
