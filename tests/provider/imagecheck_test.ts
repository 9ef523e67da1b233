/** The optional image check: the simulator's catalog, and the registry protocol against a fake registry on 127.0.0.1. */
import assert from "node:assert/strict";
import { withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import { dockerAuths, manifestProblem, parseChallenge } from "../../src/provider/imagecheck.ts";
import { decodeBase64Text, encodeBase64Text } from "../../src/lib/base64.ts";

Deno.test("image check on: an image missing from the simulator's registry is a 400 and nothing is created", () =>
  withProvider(async (h) => {
    const r = await h.call("POST", "/system/functions", { service: "x", image: "registry.invalid/none:1" });
    assert.equal(r.status, 400);
    assert.match(r.text, /image: registry.invalid\/none:1 was not found/);
    assert.equal(h.cluster.store.list(Kinds.Deployment).items.length, 0);
    assert.equal(
      (await h.call("POST", "/system/functions", { service: "x", image: "functions/alpine:latest" })).status,
      202,
    );
    const upd = await h.call("PUT", "/system/functions", { service: "x", image: "registry.invalid/none:2" });
    assert.equal(upd.status, 400);
    assert.equal(
      h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "x").spec.template.spec.containers[0].image,
      "functions/alpine:latest",
    );
  }, { config: { imageCheck: true } }));

Deno.test("image check off (the default): any valid reference deploys", () =>
  withProvider(async (h) => {
    assert.equal(
      (await h.call("POST", "/system/functions", { service: "x", image: "registry.invalid/none:1" })).status,
      202,
    );
  }));

/** A fake registry: manifests need a bearer token from its token endpoint; `private/*` needs basic credentials too. */
const startRegistry = () => {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    seen.push(`${req.method} ${url.pathname}${url.search}`);
    if (url.pathname === "/token") {
      const scope = url.searchParams.get("scope") ?? "";
      if (scope.includes("private/") && req.headers.get("authorization") !== `Basic ${btoa("me:pw")}`) {
        return new Response("unauthorized", { status: 401 });
      }
      return Response.json({ token: `t:${scope}` });
    }
    const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
    if (!m) return new Response("not found", { status: 404 });
    const auth = req.headers.get("authorization");
    if (auth !== `Bearer t:repository:${m[1]}:pull`) {
      return new Response(null, {
        status: 401,
        headers: {
          "WWW-Authenticate": `Bearer realm="http://${url.host}/token",service="fake",scope="repository:${
            m[1]
          }:pull"`,
        },
      });
    }
    return m[2] === "missing" ? new Response(null, { status: 404 }) : new Response(null, { status: 200 });
  });
  return { host: `127.0.0.1:${server.addr.port}`, seen, close: () => server.shutdown() };
};

Deno.test("registry check: anonymous token flow, 404 for a missing tag, private images need pull credentials", async () => {
  const reg = startRegistry();
  try {
    assert.equal(await manifestProblem(`${reg.host}/team/app:v1`), undefined);
    assert.ok(
      reg.seen.some((s) => s.startsWith("GET /token?service=fake&scope=repository%3Ateam%2Fapp%3Apull")),
    );
    assert.match(
      (await manifestProblem(`${reg.host}/team/app:missing`)) ?? "",
      /was not found.*team\/app:missing \(404\)/,
    );
    assert.match((await manifestProblem(`${reg.host}/private/app:v1`)) ?? "", /refused a pull token/);
    assert.equal(
      await manifestProblem(`${reg.host}/private/app:v1`, { auths: { [reg.host]: btoa("me:pw") } }),
      undefined,
    );
  } finally {
    await reg.close();
  }
  assert.match((await manifestProblem("127.0.0.1:1/x:y", { timeoutMs: 2_000 })) ?? "", /not reachable/);
});

Deno.test("registry check helpers: challenges and docker config secrets", () => {
  assert.deepEqual(
    parseChallenge('Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"'),
    {
      realm: "https://auth.example/token",
      service: "registry",
      scope: "repository:a:pull",
    },
  );
  assert.equal(parseChallenge("Basic realm=x"), undefined);
  const secret = {
    type: "kubernetes.io/dockerconfigjson",
    data: {
      ".dockerconfigjson": btoa(
        JSON.stringify({
          auths: {
            "https://index.docker.io/v1/": { username: "u", password: "p" },
            "ghcr.io": { auth: "YWJj" },
          },
        }),
      ),
    },
  };
  assert.deepEqual(dockerAuths(secret), { "registry-1.docker.io": btoa("u:p"), "ghcr.io": "YWJj" });
  // A password outside Latin-1 is sent as UTF-8 (btoa alone would throw and lose the credentials).
  const unicode = {
    type: "kubernetes.io/dockerconfigjson",
    data: {
      ".dockerconfigjson": encodeBase64Text(
        JSON.stringify({ auths: { "ghcr.io": { username: "ü", password: "пароль" } } }),
      ),
    },
  };
  assert.equal(decodeBase64Text(dockerAuths(unicode)["ghcr.io"]), "ü:пароль");
});
