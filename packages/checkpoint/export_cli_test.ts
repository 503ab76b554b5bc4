// `deno task export` end to end, and the exported file where a checkpoint or tokenizer is taken:
// `deno task generate --checkpoint x.gguf` continues as transformers does, `deno task tokenize
// --tokenizer x.gguf` encodes as the original tokenizer.model; bad input is a one-line error.
import assert from "node:assert/strict";
import { expected, FIXTURES, REPO_ROOT } from "../../tests/_harness.ts";

async function run(script: string, args: string[], write = false) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", ...(write ? ["--allow-write"] : []), script, ...args],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  return { code: out.code, stdout, stderr, lastLine: lines[lines.length - 1] ?? "" };
}

const exportCli = (args: string[]) => run("packages/checkpoint/export_cli.ts", args, true);

Deno.test("export cli: the GGUF generates and tokenizes as the checkpoint it came from", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/gqa_a.gguf`;
  const r = await exportCli(["--checkpoint", `${FIXTURES}gqa_a`, "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.lastLine, /^wrote .*gqa_a\.gguf \(f32, 0\.1 MB\)$/);

  const exp = await expected("gqa_a");
  const g = await run("packages/eval/generate_cli.ts", [
    "--checkpoint",
    out,
    "--prompt-ids",
    exp.prompt_ids.join(","),
    "--temperature",
    "0",
    "--max-new-tokens",
    String(exp.greedy_ids.length),
    "--ids",
    "--backend",
    "reference",
  ]);
  assert.equal(g.code, 0, g.stderr);
  const eos = exp.greedy_ids.indexOf(2);
  assert.deepEqual(JSON.parse(g.lastLine), eos < 0 ? exp.greedy_ids : exp.greedy_ids.slice(0, eos + 1));

  const text = "the quick brown fox";
  const viaGguf = await run("packages/tokenizer/cli.ts", ["--tokenizer", out, "--text", text, "--bos"]);
  const viaModel = await run("packages/tokenizer/cli.ts", [
    "--tokenizer",
    `${FIXTURES}gqa_a/tokenizer.model`,
    "--text",
    text,
    "--bos",
  ]);
  assert.equal(viaGguf.code, 0, viaGguf.stderr);
  assert.equal(viaGguf.stdout, viaModel.stdout);
});

Deno.test("export cli: a quantized .gguf re-exports (dequantized, requantized) with its tokenizer", async () => {
  const out = `${await Deno.makeTempDir()}/requantized.gguf`;
  const r = await exportCli([
    "--checkpoint",
    "tests/fixtures/gguf/mqa_tied_q4_0.gguf",
    "--out",
    out,
    "--type",
    "q8_0",
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /mqa_tied_q4_0\.gguf: no tokenizer to embed .*: pass --tokenizer PATH/);
  const ok = await exportCli([
    "--checkpoint",
    "tests/fixtures/gguf/gqa_a_q8_0.gguf",
    "--out",
    out,
    "--type",
    "f16",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  // A checkpoint without a tokenizer (a run continued from a GGUF saves none) takes --tokenizer.
  const withTokenizer = `${await Deno.makeTempDir()}/with_tokenizer.gguf`;
  const t = await exportCli([
    ...["--checkpoint", "tests/fixtures/gguf/mqa_tied_q4_0.gguf", "--out", withTokenizer],
    ...["--tokenizer", "tests/fixtures/gguf/gqa_a_q8_0.gguf"],
  ]);
  assert.equal(t.code, 0, t.stderr);
  const viaGguf = await run("packages/tokenizer/cli.ts", [
    "--tokenizer",
    out,
    "--text",
    "the tiny llama",
    "--bos",
  ]);
  assert.equal(viaGguf.lastLine, "[1,6,34,68,10,61]");
});

Deno.test("export cli: bad input is a one-line error and never replaces a file", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/m.gguf`;
  await Deno.writeTextFile(out, "keep");
  const cases: [string[], RegExp][] = [
    [["--checkpoint", `${FIXTURES}gqa_a`, "--out", out], /m\.gguf exists \(pass --force to replace it\)/],
    [
      ["--checkpoint", `${FIXTURES}gqa_a`, "--out", `${dir}/n.gguf`, "--type", "q4_0"],
      /--type must be one of/,
    ],
    [["--checkpoint", `${FIXTURES}gqa_a`, "--out", `${dir}/n.bin`], /must end in \.gguf/],
    [
      ["--checkpoint", `${FIXTURES}gqa_b`, "--out", `${dir}/n.gguf`],
      /no tokenizer to embed/,
    ],
    [["--out", `${dir}/n.gguf`], /--checkpoint is required/],
  ];
  for (const [args, re] of cases) {
    const r = await exportCli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  assert.equal(await Deno.readTextFile(out), "keep");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m.gguf"]);
});
