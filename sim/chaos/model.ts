/**
 * What the acknowledged requests of a chaos run imply, and the safety invariants checked against the
 * cluster. A write answered 2xx happened exactly; one answered 4xx did not happen; one that failed (5xx, no
 * answer, the replica crashed) may or may not have happened, so the model keeps both outcomes possible
 * until a later acknowledged write settles it.
 */
import type { SimClusterShape } from "../cluster.ts";
import { Kinds, type KObj } from "../kinds.ts";
import { functionNamespace, type FunctionSpec, type Op } from "./workload.ts";

export interface Violation {
  /** Virtual ms since the run's start. */
  readonly at: number;
  readonly invariant: string;
  readonly detail: string;
}

interface FnModel {
  /** `absent` or `rev:N`: the states the acknowledged history allows. */
  possible: Set<string>;
  /** A manual scale may have happened since the last deploy or update: replicas are the user's. */
  manual: boolean;
}

const absent = "absent";
const live = (o: KObj | undefined) => (o && !o.metadata.deletionTimestamp ? o : undefined);
const b64 = (s: string) => btoa(s);

export class Model {
  readonly fns = new Map<string, FnModel>();
  readonly secrets = new Map<string, Set<string>>();
  /** Every secret value ever sent, plain and base64, for the leak scan. */
  readonly secretValues = new Set<string>();
  /** Objects with a write in flight (`fn/x`, `secret/y`): not compared until it is answered. */
  readonly inflight = new Set<string>();

  constructor(readonly functions: readonly FunctionSpec[], secrets: readonly string[]) {
    for (const f of functions) this.fns.set(f.name, { possible: new Set([absent]), manual: false });
    for (const s of secrets) this.secrets.set(s, new Set([absent]));
  }

  /** Records the outcome of a write: `status` undefined when no answer came (a crash, a broken stream). */
  settle(op: Op, status: number | undefined): void {
    const acked = status !== undefined && status >= 200 && status < 300;
    const refused = status !== undefined && status >= 400 && status < 500;
    if (refused) return;
    const set = (possible: Set<string>, state: string) => {
      if (!acked) possible.add(state);
      else {
        possible.clear();
        possible.add(state);
      }
    };
    switch (op.kind) {
      case "deploy":
      case "update": {
        const m = this.fns.get(op.fn)!;
        set(m.possible, `rev:${op.rev}`);
        if (acked) m.manual = false;
        return;
      }
      case "delete":
        set(this.fns.get(op.fn)!.possible, absent);
        return;
      case "scale":
        this.fns.get(op.fn)!.manual = true;
        return;
      case "secret-create":
      case "secret-update":
        set(this.secrets.get(op.secret)!, op.value);
        return;
      case "secret-delete":
        set(this.secrets.get(op.secret)!, absent);
        return;
    }
  }

  /** The function's state in the cluster: `absent`, or `rev:N` from its container's REV. */
  static deploymentState(d: KObj | undefined): string {
    if (!d) return absent;
    const env = (d.spec?.template?.spec?.containers?.[0]?.env ?? []) as { name: string; value?: string }[];
    return `rev:${env.find((e) => e.name === "REV")?.value ?? "?"}`;
  }

  /** Safety against the cluster: nothing acknowledged lost or half-applied, nothing deleted come back. */
  check(cluster: SimClusterShape, at: number): Violation[] {
    const out: Violation[] = [];
    const ns = functionNamespace;
    for (const f of this.functions) {
      if (this.inflight.has(`fn/${f.name}`)) continue;
      const m = this.fns.get(f.name)!;
      const d = live(cluster.store.peek(Kinds.Deployment, ns, f.name));
      const state = Model.deploymentState(d);
      if (!m.possible.has(state)) {
        out.push({
          at,
          invariant: state === absent
            ? "acknowledged-write-lost"
            : m.possible.has(absent) && m.possible.size === 1
            ? "delete-resurrected"
            : "acknowledged-write-lost",
          detail: `function ${f.name}: the cluster has ${state}, the acknowledged requests allow ${
            [...m.possible].join(" | ")
          }`,
        });
        continue;
      }
      if (d && m.possible.size === 1 && !live(cluster.store.peek(Kinds.Service, ns, f.name))) {
        out.push({
          at,
          invariant: "half-applied",
          detail: `function ${f.name}: Deployment without its Service`,
        });
      }
      if (d && !m.manual) {
        const replicas = d.spec?.replicas ?? 1;
        const zeroOk = f.zero && replicas === 0;
        if (!zeroOk && (replicas < f.min || replicas > f.max)) {
          out.push({
            at,
            invariant: "replicas-in-range",
            detail: `function ${f.name}: ${replicas} replicas outside [${f.min}, ${f.max}]${
              f.zero ? " (scale to zero allowed)" : ""
            } with no manual scale`,
          });
        }
      }
    }
    for (const [name, possible] of this.secrets) {
      if (this.inflight.has(`secret/${name}`)) continue;
      const s = live(cluster.store.peek(Kinds.Secret, ns, name));
      const encoded = s?.data?.[name] as string | undefined;
      const value = s ? (encoded !== undefined ? atob(encoded) : "(no key)") : absent;
      if (!possible.has(value)) {
        out.push({
          at,
          invariant: "acknowledged-write-lost",
          detail: `secret ${name}: the cluster has ${value}, the acknowledged requests allow ${
            [...possible].join(" | ")
          }`,
        });
      }
    }
    return out;
  }

  remember(value: string): void {
    this.secretValues.add(value);
    this.secretValues.add(b64(value));
  }

  /** The first secret value found in `text`, if any. */
  leak(text: string): string | undefined {
    if (!text.includes("chaos-secret-") && !text.includes("Y2hhb3Mtc2VjcmV0")) return undefined;
    for (const v of this.secretValues) if (text.includes(v)) return v;
    return undefined;
  }
}
