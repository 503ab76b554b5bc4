// `deno task eval` end to end: packed shards written with @tinyllama-ts/data from the fixture's token
// stream, the loss against PyTorch's mean cross-entropy over the same blocks, and bad input.
import assert from "node:assert/strict";
import { ShardWriter } from "@tinyllama-ts/data";
import { copyFixture, expected, FIXTURES, runCli } from "../../tests/_harness.ts";

/** The gqa_a eval stream as two 28-token val shards (blocks cross the shard boundary). */
async function valShards(): Promise<string> {
  const exp = await expected("gqa_a");
  const dir = await Deno.makeTempDir({ prefix: "eval-data-" });
  const w = new ShardWriter({ dir, prefix: "val", chunkSize: 28, dtype: "uint16", padToken: 1 });
  await w.add(exp.eval_stream!);
  assert.equal((await w.finish()).length, 2);
  return dir;
}

Deno.test("eval cli: mean loss over the val blocks equals PyTorch's", async () => {
  const exp = await expected("gqa_a");
  const data = await valShards();
  const base = ["--checkpoint", `${FIXTURES}gqa_a`, "--data", data, "--seq-len", String(exp.eval_seq_len)];
  for (const extra of [["--backend", "reference"], [], ["--batch-size", "2"]]) {
    const r = await runCli("eval_cli.ts", [...base, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.lastLine);
    assert.deepEqual(Object.keys(out), ["loss", "perplexity", "tokens"]);
    assert.equal(out.tokens, 48, JSON.stringify(extra));
    assert.ok(Math.abs(out.loss - exp.eval_loss!) < 1e-4, `${extra}: ${out.loss} vs ${exp.eval_loss}`);
    assert.ok(Math.abs(out.perplexity - Math.exp(exp.eval_loss!)) < 1e-4 * Math.exp(exp.eval_loss!));
  }
  const r = await runCli("eval_cli.ts", [...base, "--max-batches", "2"]);
  const out = JSON.parse(r.lastLine);
  assert.equal(out.tokens, 32);
  assert.ok(Math.abs(out.loss - exp.eval_loss_first_2!) < 1e-4);
});

Deno.test("eval cli: bad input is one line on stderr and exit code 2", async () => {
  const data = await valShards();
  const broken = await copyFixture("gqa_a");
  const bytes = await Deno.readFile(`${broken}/model.safetensors`);
  await Deno.writeFile(`${broken}/model.safetensors`, bytes.subarray(0, bytes.length - 100));
  const empty = await Deno.makeTempDir();
  // A lit-gpt training directory: train_* shards only.
  const trainOnly = await Deno.makeTempDir();
  const w = new ShardWriter({ dir: trainOnly, prefix: "train", chunkSize: 28, dtype: "uint16", padToken: 1 });
  await w.add((await expected("gqa_a")).eval_stream!);
  await w.finish();
  const cases: [string[], RegExp][] = [
    [["--checkpoint", broken, "--data", data, "--seq-len", "16"], /model\.safetensors: truncated/],
    [["--checkpoint", `${FIXTURES}gqa_a`, "--data", empty, "--seq-len", "16"], /no val shards/],
    [
      ["--checkpoint", `${FIXTURES}gqa_a`, "--data", trainOnly, "--seq-len", "16"],
      /no val shards \(prepare with --val-fraction, or evaluate the train shards with --split train\)/,
    ],
    [
      ["--checkpoint", `${FIXTURES}gqa_a`, "--data", data, "--seq-len", "65"],
      /--seq-len 65 exceeds .* block size 64/,
    ],
    [
      ["--checkpoint", `${FIXTURES}gqa_a`, "--data", data, "--max-batches", "0"],
      /--max-batches must be an integer ≥ 1/,
    ],
    [["--checkpoint", `${FIXTURES}gqa_a`, "--data", data, "--backend", "tpu"], /unknown backend "tpu"/],
    [["--checkpoint", `${FIXTURES}gqa_a`], /--data is required/],
    [["--checkpoint", `${FIXTURES}gqa_a`, "--data", data, "--bogus"], /bogus/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli("eval_cli.ts", args);
    assert.equal(r.code, 2, `${args}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], re);
    assert.equal(r.stdout, "");
  }
});
