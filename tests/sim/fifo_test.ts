/** The simulator's FIFO queue (sim/fifo.ts) against an array model, across its compactions. */
import assert from "node:assert/strict";
import fc, { runs } from "../support/fc.ts";
import { Fifo } from "../../sim/fifo.ts";

Deno.test("Fifo: pushes and shifts in any mix give what an array queue gives, in order", () => {
  const op = fc.oneof(
    fc.record({ push: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ shift: fc.integer({ min: 1, max: 3000 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
      const q = new Fifo<number>();
      const model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if ("push" in o) {
          for (let i = 0; i < o.push; i++) {
            q.push(next);
            model.push(next++);
          }
        } else {
          for (let i = 0; i < o.shift; i++) {
            assert.equal(q.peek(), model[0]);
            assert.equal(q.shift(), model.shift());
          }
        }
        assert.equal(q.length, model.length);
        assert.equal(q.peek(), model[0]);
      }
    }),
    { numRuns: runs(60) },
  );
});
