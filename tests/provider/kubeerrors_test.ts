/** Kubernetes failures as provider statuses: faas-netes' ProcessErrorReasons table. */
import assert from "node:assert/strict";
import { KubeError } from "../../src/kube/api.ts";
import { fromKube } from "../../src/provider/kubeerrors.ts";
import { statusOf } from "../../src/http/errors.ts";
import { InvalidRequest } from "../../src/domain/errors.ts";

const kube = (status: number, reason: string) => KubeError.status(status, reason, `${reason} from the API`);

Deno.test("kubeerrors: each Kubernetes status maps to the provider status faas-netes answers", () => {
  for (
    const [status, reason, expected] of [
      [404, "NotFound", 404],
      [410, "Gone", 404],
      [409, "AlreadyExists", 409],
      [409, "Conflict", 409],
      [422, "Invalid", 422],
      [400, "BadRequest", 400],
      [403, "Forbidden", 403],
      [408, "Timeout", 408],
      [500, "InternalError", 500],
      [503, "ServiceUnavailable", 500],
      [429, "TooManyRequests", 500],
    ] as const
  ) {
    assert.equal(statusOf(fromKube(kube(status, reason))), expected, `${status} ${reason}`);
  }
});

Deno.test("kubeerrors: a failure without an answer is a 500, its kind kept apart from any status", () => {
  for (const e of [KubeError.transport("Timeout", "no answer"), KubeError.decode("not JSON")]) {
    assert.equal(e.status, undefined);
    assert.equal(statusOf(fromKube(e)), 500);
  }
  assert.equal(KubeError.transport("Tls", "bad CA").statusReason, "Tls");
  assert.equal(KubeError.decode("x").statusReason, "Decode");
});

Deno.test("kubeerrors: a use case's own not-found and already-exists messages replace the generic ones", () => {
  const mine = () => new InvalidRequest({ message: "mine" });
  assert.equal(fromKube(kube(404, "NotFound"), { notFound: mine }).message, "mine");
  assert.equal(fromKube(kube(410, "Gone"), { notFound: mine }).message, "mine");
  assert.equal(fromKube(kube(409, "Conflict"), { alreadyExists: mine }).message, "mine");
  assert.equal(
    fromKube(kube(422, "Invalid"), { notFound: mine, alreadyExists: mine }).message,
    "Invalid from the API",
  );
});
