/** The sample functions and Profile of k8s/samples deploy and run on the simulator. */
import assert from "node:assert/strict";
import YAML from "yaml";
import { withProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";

interface StackFunction {
  image: string;
  fprocess?: string;
  environment?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  limits?: Record<string, string>;
  requests?: Record<string, string>;
  secrets?: string[];
  constraints?: string[];
}

const samples = new URL("../../k8s/samples/", import.meta.url);

/** The deploy request faas-cli sends for a stack.yml function. */
const deployRequest = (service: string, f: StackFunction) => ({
  service,
  image: f.image,
  envProcess: f.fprocess,
  envVars: f.environment,
  labels: f.labels,
  annotations: f.annotations,
  limits: f.limits,
  requests: f.requests,
  secrets: f.secrets,
  constraints: f.constraints,
});

Deno.test("k8s/samples: the Profile applies and every function in stack.yml deploys, becomes ready and answers", () =>
  withProvider(async (h) => {
    const profile = YAML.parse(Deno.readTextFileSync(new URL("profile.yaml", samples)));
    const created = h.cluster.api.handle({
      method: "POST",
      path: `/apis/openfaas.com/v1/namespaces/${profile.metadata.namespace}/profiles`,
      body: profile,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const stack = YAML.parse(Deno.readTextFileSync(new URL("stack.yml", samples)));
    const functions = Object.entries(stack.functions as Record<string, StackFunction>);
    assert.ok(functions.length >= 3);
    for (const [name, f] of functions) {
      const r = await h.call("POST", "/system/functions", deployRequest(name, f));
      assert.equal(r.status, 202, `${name}: ${r.text}`);
    }
    await h.advance(15_000);
    for (const [name] of functions) {
      const s = JSON.parse((await h.call("GET", `/system/function/${name}`)).text);
      assert.ok(s.availableReplicas >= 1, `${name} is available`);
    }
    const env = await h.call("POST", "/function/env?sample=1", "");
    assert.match(env.text, /Http_Method=POST/);
    assert.match(env.text, /Http_Query=sample=1/);
    const hash = await h.call("POST", "/function/sha512sum", "hi");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", new TextEncoder().encode("hi")));
    assert.equal(hash.text, `${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}  -\n`);
    assert.equal((await h.call("POST", "/function/cat", "echo me")).text, "echo me");
    const cat = h.cluster.store.get(Kinds.Deployment, "openfaas-fn", "cat");
    assert.deepEqual(cat.spec.template.spec.tolerations, profile.spec.tolerations);
  }));
