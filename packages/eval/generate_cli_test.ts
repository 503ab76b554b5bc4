// `deno task generate` end to end: greedy continuations against transformers' `generate`, text through
// the checkpoint's SentencePiece model, seeded sampling, and bad input.
import assert from "node:assert/strict";
import { expected, FIXTURES, runCli } from "../../tests/_harness.ts";

const EOS = 2;

/** transformers' greedy ids cut after the first EOS (the CLI stops there). */
function untilEos(ids: number[]): number[] {
  const i = ids.indexOf(EOS);
  return i < 0 ? ids : ids.slice(0, i + 1);
}

Deno.test("generate cli: --prompt-ids greedy continuation equals transformers'", async () => {
  for (const [name, backend] of [["gqa_b", "reference"], ["mqa_tied", "wasm"]]) {
    const exp = await expected(name);
    const r = await runCli("generate_cli.ts", [
      "--checkpoint",
      `${FIXTURES}${name}`,
      "--prompt-ids",
      exp.prompt_ids.join(","),
      "--temperature",
      "0",
      "--max-new-tokens",
      String(exp.greedy_ids.length),
      "--ids",
      "--backend",
      backend,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.lastLine), untilEos(exp.greedy_ids), name);
  }
});

Deno.test("generate cli: --prompt text goes through the checkpoint's tokenizer", async () => {
  const exp = await expected("gqa_a");
  const tok = JSON.parse(await Deno.readTextFile(`${FIXTURES}gqa_a/tokenizer_expected.json`));
  assert.deepEqual(tok.prompt_ids, exp.prompt_ids);
  const args = ["--checkpoint", `${FIXTURES}gqa_a`, "--prompt", tok.prompt, "--max-new-tokens", "20"];
  const r = await runCli("generate_cli.ts", [...args, "--temperature", "0", "--ids"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(JSON.parse(lines[lines.length - 1]), untilEos(exp.greedy_ids));
  assert.equal(lines[lines.length - 2], tok.greedy_text); // SentencePiece's decoding of the same ids
  // Sampling (the defaults: temperature 0.8, top-k 50) is reproducible with a seed.
  const s1 = await runCli("generate_cli.ts", [...args, "--seed", "5", "--ids"]);
  const s2 = await runCli("generate_cli.ts", [...args, "--seed", "5", "--ids"]);
  assert.equal(s1.code, 0, s1.stderr);
  assert.equal(s1.stdout, s2.stdout);
});

Deno.test("generate cli: bad input is one line on stderr and exit code 2", async () => {
  const ck = ["--checkpoint", `${FIXTURES}gqa_b`];
  const cases: [string[], RegExp][] = [
    [[...ck, "--prompt-ids", "1,2"], /no tokenizer\.model or tokenizer\.json \(pass --ids/],
    [[...ck, "--prompt", "hi", "--ids"], /no tokenizer.* to encode --prompt/],
    [[...ck, "--prompt", "hi", "--prompt-ids", "1"], /exactly one of --prompt and --prompt-ids/],
    [[...ck, "--prompt-ids", "1,x", "--ids"], /^error: --prompt-ids: item 2 \("x"\) must be an integer ≥ 0$/],
    [
      [...ck, "--prompt-ids", "1,99999999999999999999999", "--ids"],
      /^error: --prompt-ids: item 2 \("99999999999999999999999"\) must be an integer ≥ 0$/,
    ],
    [
      [...ck, "--prompt-ids", "1", "--ids", "--seed", "1e3"],
      /^error: --seed must be an integer ≥ 0, got "1e3"$/,
    ],
    [
      [...ck, "--prompt-ids", "1", "--ids", "--temperature", "x"],
      /^error: --temperature must be a number ≥ 0, got "x"$/,
    ],
    [[...ck, "--prompt-ids", "1,96", "--ids"], /input id 96 at position 1 is outside the vocabulary 96/],
    [
      [...ck, "--prompt-ids", "1", "--ids", "--top-p", "2"],
      /^error: --top-p must be a number > 0 and ≤ 1, got "2"$/,
    ],
    [[...ck, "--prompt-ids", "1", "--ids", "--max-new-tokens", "64"], /exceed the block size 64/],
    [
      ["--checkpoint", `${FIXTURES}missing`, "--prompt-ids", "1", "--ids"],
      /missing\/config\.json: not found/,
    ],
    [["--prompt-ids", "1"], /--checkpoint is required/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli("generate_cli.ts", args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], re);
  }
});
