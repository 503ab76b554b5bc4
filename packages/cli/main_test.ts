import assert from "node:assert/strict";

const entry = new URL("./_testdata/fail_cli.ts", import.meta.url).pathname;

async function run(arg: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", entry, arg],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("runMain: a UserError is one line on stderr and exit code 2", async () => {
  const r = await run("user");
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "error: data/x.bin: wrong magic\n");
});

Deno.test("runMain: an unknown flag is one line and exit code 2", async () => {
  const r = await run("--nope");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: Unknown option '--nope'.*\n$/);
  assert.equal(r.stderr.split("\n").length, 2);
});

Deno.test("runMain: a bug keeps its stack trace", async () => {
  const r = await run("bug");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /TypeError: boom/);
  assert.match(r.stderr, /at /);
});
