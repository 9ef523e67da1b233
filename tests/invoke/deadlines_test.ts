/** Deadlines: many timeouts on one timer, in order, each cleared when what it bounds is over. */
import assert from "node:assert/strict";
import { type DeadlineClock, Deadlines, maxTimerMs } from "../../src/invoke/deadlines.ts";

/** A clock the test moves by hand: `advance` runs the armed timer when its time has come. */
const manualClock = () => {
  let now = 0;
  let timer: { at: number; fn: () => void } | undefined;
  let armed = 0;
  let longest = 0;
  const clock: DeadlineClock = {
    now: () => now,
    schedule: (fn, ms) => {
      armed++;
      longest = Math.max(longest, ms);
      const t = { at: now + ms, fn };
      timer = t;
      return () => {
        if (timer === t) timer = undefined;
      };
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    while (timer && timer.at <= end) {
      const t = timer;
      timer = undefined;
      now = t.at;
      t.fn();
    }
    now = end;
  };
  return { clock, advance, armed: () => armed, longest: () => longest, pending: () => timer !== undefined };
};

Deno.test("deadlines: each expires once, at its time, in order of time whatever the order added", () => {
  const m = manualClock();
  const d = new Deadlines(m.clock);
  const fired: string[] = [];
  d.add(100, () => fired.push("a@100"));
  d.add(100, () => fired.push("b@100"));
  d.add(50, () => fired.push("c@50"));
  d.add(300, () => fired.push("d@300"));
  assert.equal(d.size, 4);
  m.advance(49);
  assert.equal(fired.length, 0);
  m.advance(1);
  assert.deepEqual(fired, ["c@50"]);
  m.advance(60);
  assert.deepEqual(fired, ["c@50", "a@100", "b@100"]);
  m.advance(1_000);
  assert.deepEqual(fired, ["c@50", "a@100", "b@100", "d@300"]);
  assert.equal(d.size, 0);
  assert.equal(m.pending(), false, "no timer is left armed once every deadline has gone");
});

Deno.test("deadlines: a cleared one never expires; clearing twice, or after expiry, is harmless", () => {
  const m = manualClock();
  const d = new Deadlines(m.clock);
  const fired: string[] = [];
  const first = d.add(100, () => fired.push("first"));
  const middle = d.add(150, () => fired.push("middle"));
  d.add(200, () => fired.push("last"));
  d.clear(first);
  d.clear(first);
  d.clear(middle);
  assert.equal(d.size, 1);
  m.advance(199);
  assert.equal(fired.length, 0);
  m.advance(1);
  assert.deepEqual(fired, ["last"]);
  const late = d.add(10, () => fired.push("late"));
  m.advance(10);
  d.clear(late);
  assert.deepEqual(fired, ["last", "late"]);
  assert.equal(d.size, 0);
});

Deno.test("deadlines: one timer at a time, armed for the earliest; a deadline added while expiring counts", () => {
  const m = manualClock();
  const d = new Deadlines(m.clock);
  const fired: number[] = [];
  for (let i = 0; i < 1_000; i++) d.add(1_000, () => fired.push(i));
  assert.equal(m.armed(), 1, "a thousand deadlines in order arm the timer once");
  d.add(10, () => d.add(5, () => fired.push(-1)));
  m.advance(20);
  assert.deepEqual(fired, [-1]);
  m.advance(1_000);
  assert.equal(fired.length, 1_001);
  assert.deepEqual(fired.slice(1, 4), [0, 1, 2]);
});

Deno.test("deadlines: on the wall clock, a deadline fires and a cleared one does not", async () => {
  const d = new Deadlines();
  const fired: string[] = [];
  const cleared = d.add(5, () => fired.push("cleared"));
  const done = new Promise<void>((resolve) => d.add(10, () => (fired.push("kept"), resolve())));
  d.clear(cleared);
  // The timer does not keep the process alive by itself: this wait does.
  const keepAlive = setTimeout(() => {}, 1_000);
  await done;
  clearTimeout(keepAlive);
  assert.deepEqual(fired, ["kept"]);
});

Deno.test("deadlines: a deadline beyond setTimeout's range waits, rather than firing at once", () => {
  const m = manualClock();
  const d = new Deadlines(m.clock);
  const fired: string[] = [];
  d.add(40 * 24 * 3600_000, () => fired.push("forty days"));
  m.advance(25 * 24 * 3600_000);
  assert.equal(fired.length, 0);
  m.advance(15 * 24 * 3600_000);
  assert.deepEqual(fired, ["forty days"]);
  assert.equal(m.longest(), maxTimerMs, "no timer was asked to wait longer than setTimeout can");
});
