/**
 * A model-based property: any interleaving of deploy, update, scale, delete and time leaves the API
 * answering exactly what a model of the functions holds.
 */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import type { FunctionDeployment, FunctionStatus } from "../../src/domain/types.ts";
import { type Harness, startProvider } from "../support/harness.ts";
import { Kinds } from "../../sim/kinds.ts";
import {
  defaultNs,
  expectedReplicas,
  labelsArb,
  minReplicas,
  validScaleMin,
} from "../support/function_requests.ts";

interface ModelFn {
  image: string;
  envProcess: string | undefined;
  labels: Record<string, string>;
  replicas: number;
}
type Model = { fns: Map<string, ModelFn>; log: string[] };

const modelNames = ["alpha", "beta", "gamma-1"];
const modelName = fc.constantFrom(...modelNames);
const modelSpec = fc.record({
  image: fc.constantFrom(
    "functions/alpine:latest",
    "functions/alpine:3.20",
    "ghcr.io/openfaas/alpine:latest",
    "sim/slow-start:1",
    "ghcr.io/acme/unknown:1",
  ),
  envProcess: fc.constantFrom("env", "cat", undefined),
  labels: labelsArb(validScaleMin),
});
type Spec = typeof modelSpec extends fc.Arbitrary<infer T> ? T : never;

const requestOf = (name: string, spec: Spec): FunctionDeployment => ({
  service: name,
  image: spec.image,
  ...(spec.envProcess === undefined ? {} : { envProcess: spec.envProcess }),
  labels: spec.labels,
});

/** The API answers exactly what the model holds: list, each status, and 404 for the others. */
const checkAgainstModel = async (m: Model, h: Harness) => {
  const where = `after ${m.log.join("; ")}`;
  const listed = await h.call("GET", "/system/functions");
  assert.equal(listed.status, 200, where);
  const list = JSON.parse(listed.text) as FunctionStatus[];
  const names = [...m.fns.keys()].sort();
  assert.deepEqual(list.map((f) => f.name), names, where);
  // Exactly one Service per function: none left behind by delete, none missing after deploy.
  const services = h.cluster.store.list(Kinds.Service, defaultNs).items.map((o) => o.metadata.name).sort();
  assert.deepEqual(services, names, `${where}: services`);
  for (const name of modelNames) {
    const r = await h.call("GET", `/system/function/${name}`);
    const want = m.fns.get(name);
    if (!want) {
      assert.equal(r.status, 404, `${where}: GET ${name}`);
      continue;
    }
    assert.equal(r.status, 200, `${where}: GET ${name}: ${r.text}`);
    const s = JSON.parse(r.text) as FunctionStatus;
    assert.equal(s.image, want.image, `${where}: ${name} image`);
    assert.equal(s.envProcess, want.envProcess, `${where}: ${name} envProcess`);
    for (const [k, v] of Object.entries(want.labels)) {
      assert.equal(s.labels?.[k], v, `${where}: ${name} ${k}`);
    }
    assert.equal(s.labels?.faas_function, name, where);
    assert.equal(s.replicas, want.replicas, `${where}: ${name} replicas`);
    assert.deepEqual(list.find((f) => f.name === name), s, `${where}: list and status agree on ${name}`);
  }
};

type Cmd = fc.AsyncCommand<Model, Harness>;

const expectStatus = (m: Model, what: string, got: { status: number; text: string }, want: number) => {
  m.log.push(`${what} -> ${got.status}`);
  assert.equal(got.status, want, `${m.log.join("; ")}: expected ${want}: ${got.text}`);
};

class Deploy implements Cmd {
  constructor(readonly name: string, readonly spec: Spec) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    // A function deleted moments ago may still have its Deployment, deleted in the foreground until its
    // pods are gone: as on a real cluster, the name is taken until then.
    const leaving = h.cluster.store.peek(Kinds.Deployment, defaultNs, this.name)?.metadata.deletionTimestamp;
    const r = await h.call("POST", "/system/functions", requestOf(this.name, this.spec));
    const exists = m.fns.has(this.name) || Boolean(leaving);
    expectStatus(m, this.toString(), r, exists ? 409 : 202);
    if (!exists) {
      m.fns.set(this.name, {
        image: this.spec.image,
        envProcess: this.spec.envProcess,
        labels: this.spec.labels,
        replicas: expectedReplicas(this.spec.labels),
      });
    }
    await checkAgainstModel(m, h);
  }
  toString = () => `deploy ${this.name} ${JSON.stringify(this.spec)}`;
}

class Update implements Cmd {
  constructor(readonly name: string, readonly spec: Spec) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    const r = await h.call("PUT", "/system/functions", requestOf(this.name, this.spec));
    const current = m.fns.get(this.name);
    expectStatus(m, this.toString(), r, current ? 202 : 404);
    if (current) {
      m.fns.set(this.name, {
        image: this.spec.image,
        envProcess: this.spec.envProcess,
        labels: this.spec.labels,
        replicas: minReplicas(this.spec.labels) ?? current.replicas,
      });
    }
    await checkAgainstModel(m, h);
  }
  toString = () => `update ${this.name} ${JSON.stringify(this.spec)}`;
}

class Scale implements Cmd {
  constructor(readonly name: string, readonly replicas: number) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    const r = await h.call("POST", `/system/scale-function/${this.name}`, {
      serviceName: this.name,
      replicas: this.replicas,
    });
    const current = m.fns.get(this.name);
    expectStatus(m, this.toString(), r, current ? 202 : 404);
    if (current) current.replicas = this.replicas;
    await checkAgainstModel(m, h);
  }
  toString = () => `scale ${this.name} ${this.replicas}`;
}

class Delete implements Cmd {
  constructor(readonly name: string) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    const r = await h.call("DELETE", "/system/functions", { functionName: this.name });
    expectStatus(m, this.toString(), r, m.fns.has(this.name) ? 202 : 404);
    m.fns.delete(this.name);
    await checkAgainstModel(m, h);
  }
  toString = () => `delete ${this.name}`;
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, h: Harness) {
    await h.advance(this.ms);
    m.log.push(this.toString());
    await checkAgainstModel(m, h);
  }
  toString = () => `advance ${this.ms}ms`;
}

const deployCmd = fc.tuple(modelName, modelSpec).map(([n, s]) => new Deploy(n, s));
const commandsArb = fc.commands<Model, Harness, false>([
  deployCmd,
  deployCmd,
  fc.tuple(modelName, modelSpec).map(([n, s]) => new Update(n, s)),
  fc.tuple(modelName, fc.integer({ min: 0, max: 10 })).map(([n, r]) => new Scale(n, r)),
  modelName.map((n) => new Delete(n)),
  fc.constantFrom(0, 500, 2_000, 10_000, 60_000).map((ms) => new Advance(ms)),
], { maxCommands: 30, size: "medium" });

Deno.test("property: any interleaving of deploy, update, scale, delete and time matches a model", async () => {
  await fc.assert(
    fc.asyncProperty(commandsArb, async (cmds) => {
      const h = await startProvider();
      try {
        await fc.asyncModelRun(() => ({ model: { fns: new Map(), log: [] } as Model, real: h }), cmds);
      } finally {
        await h.close();
      }
    }),
    { numRuns: runs(80) },
  );
});
