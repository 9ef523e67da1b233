/** The simulated images' shell (sim/images/shell): coreutils output formats, pipelines, exit statuses. */
import assert from "node:assert/strict";
import fc, { runs } from "../../support/fc.ts";
import { runShell } from "../../../sim/images/shell/run.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const secretFiles = new Map([["/var/openfaas/secrets/x", encoder.encode("s3cr3t-value")]]);

const sh = async (cmd: string, stdin = "", env: Record<string, string> = {}) => {
  const r = await runShell(cmd, { stdin: encoder.encode(stdin), env, files: secretFiles });
  return { ...r, out: decoder.decode(r.stdout), err: decoder.decode(r.stderr) };
};

Deno.test("shell: wc matches GNU coreutils on stdin", async () => {
  assert.equal((await sh("wc", "hello world\n")).out, "      1       2      12\n");
  assert.equal((await sh("wc -c", "hi\n")).out, "3\n");
  assert.equal((await sh("wc -l", "a\nb\nc")).out, "2\n");
  assert.equal((await sh("wc -w", " one  two\tthree\n")).out, "3\n");
  assert.equal((await sh("wc -l -w", "a b\nc\n")).out, "      2       3\n");
  assert.equal((await sh("wc", "")).out, "      0       0       0\n");
  assert.equal((await sh("wc -c /var/openfaas/secrets/x")).out, "12 /var/openfaas/secrets/x\n");
  const bad = await sh("wc -z");
  assert.equal(bad.status, 1);
  assert.equal(bad.err, "wc: invalid option -- 'z'\n");
});

Deno.test("shell: pipelines and the small utilities", async () => {
  assert.equal((await sh("cat | tr a-z A-Z | rev", "hello\nworld\n")).out, "OLLEH\nDLROW\n");
  assert.equal((await sh("head -n 2", "1\n2\n3\n")).out, "1\n2\n");
  assert.equal((await sh("base64", "hello")).out, "aGVsbG8=\n");
  assert.equal((await sh("base64 | base64 -d", "round trip")).out, "round trip");
  assert.equal((await sh("echo -n a  b")).out, "a b");
  assert.equal(
    (await sh("sha256sum", "abc")).out,
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n",
  );
  assert.equal((await sh("md5sum", "abc")).out, "900150983cd24fb0d6963f7d28e17f72  -\n");
  assert.equal((await sh("false || echo ok && echo yes")).out, "ok\nyes\n");
  assert.equal((await sh("true && exit 4; echo unreachable")).status, 4);
  assert.equal((await sh("sh -c 'echo $A'", "", { A: "inner" })).out, "inner\n");
  assert.equal((await sh("printenv NOPE")).status, 1);
  const nf = await sh("frobnicate --now");
  assert.equal(nf.status, 127);
  assert.equal(nf.err, "sh: frobnicate: not found\n");
  assert.equal((await sh("/bin/echo ok")).out, "ok\n");
  const syntax = await sh("echo 'unterminated");
  assert.equal(syntax.status, 2);
});

Deno.test("property: plain wc counts lines, words and bytes in GNU's columns", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (body) => {
      const r = await runShell("wc", { stdin: body });
      const latin1 = String.fromCharCode(...body);
      const expected = [
        body.filter((b) => b === 10).length,
        latin1.split(/[ \t\n\v\f\r]+/).filter((w) => w !== "").length,
        body.length,
      ].map((n) => String(n).padStart(7)).join(" ") + "\n";
      assert.equal(decoder.decode(r.stdout), expected);
    }),
    { numRuns: runs(100) },
  );
});
