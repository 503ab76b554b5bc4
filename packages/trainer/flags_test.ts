import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { parsePretrainFlags, PRETRAIN_USAGE } from "./flags.ts";
import { checkHparams, DEFAULT_HPARAMS } from "./hparams.ts";

Deno.test("parsePretrainFlags reads lit-gpt's flags and only the hyper-parameters given", () => {
  const f = parsePretrainFlags([
    ...[
      "--config",
      "tiny-6l-4k",
      "--data",
      "a/slim:0.693584",
      "--data",
      "a/star:0.306416",
      "--out",
      "runs/x/",
    ],
    ...["--max-steps", "100", "--micro-batch-size", "4", "--global-batch-size", "16", "--seq-len", "64"],
    ...[
      "--lr",
      "4e-4",
      "--min-lr",
      "4e-5",
      "--warmup-steps",
      "10",
      "--weight-decay",
      "0.1",
      "--beta1",
      "0.9",
    ],
    ...["--beta2", "0.95", "--eps", "1e-8", "--grad-clip", "1", "--seed", "7", "--save-interval", "0"],
    ...["--eval-interval", "20", "--eval-iters", "3", "--backend", "webgpu", "--resume", "auto"],
    ...["--decay-norms-and-embeddings", "false", "--keep-checkpoints", "5", "--tokenizer", "t.model"],
  ]);
  assert.equal(f.config, "tiny-6l-4k");
  assert.deepEqual(f.data, [{ dir: "a/slim", weight: 0.693584 }, { dir: "a/star", weight: 0.306416 }]);
  assert.equal(f.out, "runs/x");
  assert.equal(f.resume, "auto");
  assert.equal(f.tokenizer, "t.model");
  assert.deepEqual(f.hparams, {
    maxSteps: 100,
    microBatchSize: 4,
    globalBatchSize: 16,
    seqLen: 64,
    lr: 4e-4,
    minLr: 4e-5,
    warmupSteps: 10,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    gradClip: 1,
    seed: 7,
    saveInterval: 0,
    evalInterval: 20,
    evalIters: 3,
    backend: "webgpu",
    decayNormsAndEmbeddings: false,
    keepCheckpoints: 5,
  });
  assert.deepEqual(parsePretrainFlags([]), {
    config: undefined,
    initFrom: undefined,
    tokenizer: undefined,
    data: [],
    out: undefined,
    resume: undefined,
    hparams: {},
  });
});

Deno.test("--shard-optimizer is parsed and in --help (pretrain:mpi's flag; plain pretrain refuses it)", () => {
  assert.equal(parsePretrainFlags(["--shard-optimizer"]).shardOptimizer, true);
  assert.equal(parsePretrainFlags(["--max-steps", "3"]).shardOptimizer, undefined);
  assert.match(PRETRAIN_USAGE, /^ {2}--shard-optimizer +deno task pretrain:mpi only/m);
  assert.throws(() => parsePretrainFlags(["--shard-optimizer=yes"]), /does not take an argument/);
});

Deno.test("parsePretrainFlags rejects bad flags in one line", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^Unknown option '--bogus'/],
    [["--max-steps"], /argument missing/],
    [["--lr", "-1"], /^Option '--lr' argument is ambiguous\. .*--lr=-XYZ/],
    [["--lr=-1"], /^--lr must be ≥ 0, got -1$/],
    [["--min-lr=-1e-5"], /^--min-lr must be ≥ 0/],
    [["--lr", "fast"], /^--lr must be a number, got "fast"$/],
    [["--max-steps", "0"], /^--max-steps must be an integer ≥ 1, got "0"$/],
    [["--micro-batch-size", "2.5"], /^--micro-batch-size must be an integer/],
    [["--save-interval", "-3"], /ambiguous/],
    [["--backend", "cuda"], /^--backend must be wasm or webgpu, got "cuda"$/],
    [["--decay-norms-and-embeddings", "yes"], /must be true or false/],
    [["--config", "a", "--init-from", "b"], /exclude each other/],
    [["--data", "d:heavy"], /weight "heavy" is not a number/],
    [["--out", ""], /^--out needs a value$/],
    [["positional"], /Unexpected argument 'positional'/],
  ];
  for (const [args, pattern] of cases) {
    assert.throws(
      () => parsePretrainFlags(args),
      (e) => isUserError(e) && pattern.test((e as Error).message) && !(e as Error).message.includes("\n"),
      args.join(" "),
    );
  }
});

Deno.test("checkHparams resolves the sequence length and checks the combinations", () => {
  assert.equal(checkHparams({ ...DEFAULT_HPARAMS }, 128).seqLen, 128);
  assert.equal(checkHparams({ ...DEFAULT_HPARAMS, seqLen: 64 }, 128).seqLen, 64);
  assert.throws(
    () => checkHparams({ ...DEFAULT_HPARAMS, seqLen: 256 }, 128),
    /--seq-len 256 exceeds the model's block_size 128/,
  );
  assert.throws(
    () => checkHparams({ ...DEFAULT_HPARAMS, microBatchSize: 3, globalBatchSize: 8 }, 128),
    /--global-batch-size 8 is not a multiple of --micro-batch-size 3/,
  );
  assert.throws(() => checkHparams({ ...DEFAULT_HPARAMS, beta2: 1 }, 128), /--beta2 must be in \[0, 1\)/);
  assert.throws(() => checkHparams({ ...DEFAULT_HPARAMS, eps: 0 }, 128), /--eps must be > 0/);
});
