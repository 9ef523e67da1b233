/** Driving wrk from bench:proxy: its Lua script and the result line its `done` hook prints. */
import assert from "node:assert/strict";
import { parseWrkResult, wrkScript } from "../../bench/wrk.ts";

Deno.test("wrk: the result line is parsed into requests, seconds, errors and latencies in ms", () => {
  const output = [
    "Running 3s test @ http://127.0.0.1:8080/function/echo",
    "  2 threads and 16 connections",
    "Requests/sec:  12345.67",
    "WRK_RESULT requests=37037 duration_us=3000412 errors=2 p50_us=1187 p99_us=5230 mean_us=1402.5 max_us=41007",
    "",
  ].join("\n");
  assert.deepEqual(parseWrkResult(output), {
    requests: 37037,
    seconds: 3.000412,
    errors: 2,
    p50Ms: 1.187,
    p99Ms: 5.23,
    meanMs: 1.4025,
    maxMs: 41.007,
  });
});

Deno.test("wrk: output without the result line, or with a field missing or not a number, is an error", () => {
  assert.throws(() => parseWrkResult("Requests/sec: 100\n"), /no WRK_RESULT line/);
  assert.throws(
    () => parseWrkResult("WRK_RESULT requests=1 duration_us=2 errors=0 p50_us=1 p99_us=1 mean_us=1\n"),
    /without max_us/,
  );
  assert.throws(
    () =>
      parseWrkResult("WRK_RESULT requests=x duration_us=2 errors=0 p50_us=1 p99_us=1 mean_us=1 max_us=1\n"),
    /without requests/,
  );
});

Deno.test("wrk: the script POSTs the body size asked for, and paces only when given a rate", () => {
  const free = wrkScript(64, 16);
  assert.match(free, /^local size = 64$/m);
  assert.match(free, /^wrk\.method = "POST"$/m);
  assert.match(free, /^function done\(summary, latency, requests\)$/m);
  assert.doesNotMatch(free, /function delay/);
  // 16 connections sharing 2,000 requests per second: 8 ms between the requests of one connection.
  const paced = wrkScript(1 << 20, 16, 2_000);
  assert.match(paced, /^local size = 1048576$/m);
  assert.match(paced, /^local interval = 8\.000$/m);
  assert.match(paced, /^function delay\(\) return math\.floor\(interval \+ math\.random\(\)\) end$/m);
});
