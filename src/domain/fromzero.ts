/**
 * What scaling a function up from zero did for a request that found no ready endpoint: the scaler
 * answers it, the invoke proxy decides from it how long the request waits.
 * - `from-zero`: the function was at zero (or came up from zero within the from-zero window) and has
 *   been scaled up: the request waits as long as a function takes to come up from zero;
 * - `not-at-zero`: it has replicas, none ready yet: the request waits briefly;
 * - `failed`: the scale-up failed: nothing will come up, the request gets its 503 now.
 */
export type FromZero = "from-zero" | "not-at-zero" | "failed";
