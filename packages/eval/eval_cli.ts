/**
 * `deno task eval`: the mean cross-entropy per target token ({@link validationLoss}) of a Hugging Face
 * checkpoint over the validation blocks of a packed-shard directory, read in order (block `i` is tokens `[i·(seq_len+1), (i+1)·(seq_len+1))`,
 * inputs its first `seq_len`, targets its last `seq_len`). Prints a summary, then as the last stdout line
 * `{"loss": …, "perplexity": …, "tokens": …}`.
 *
 * ```sh
 * deno task eval --checkpoint out/hf --data data/val [--seq-len 2048] [--batch-size 1] [--max-batches 100] \
 *   [--split val] [--backend wasm]
 * ```
 *
 * @example
 * ```ts
 * import { evalMain } from "./eval_cli.ts";
 * await evalMain(["--checkpoint", "tests/fixtures/model/gqa_a", "--data", "data/val", "--backend", "reference"]);
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { Progress, runMain, UserError } from "@tinyllama-ts/cli";
import { iterateBatches, readManifest, ShardReader, type Split, splitShardPaths } from "@tinyllama-ts/data";
import { BACKEND_NAMES, createBackend } from "@tinyllama-ts/backends";
import { positiveInt, weightsFlag } from "./_cli_args.ts";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { runMultipleChoice } from "./mc/run_mc.ts";
import { validationLoss } from "./validation_loss.ts";

const USAGE = "usage: deno task eval --checkpoint DIR --data DIR [--seq-len N] [--batch-size N] " +
  `[--max-batches N] [--split val|train] [--backend ${BACKEND_NAMES.join("|")}] [--weights auto|bf16|f32]\n` +
  "       deno task eval --checkpoint DIR (--mc FILE.jsonl | --tasks T1,T2,... --task-dir DIR) " +
  "[--log-samples FILE] [--limit N]  (zero-shot multiple choice; --mc --help for every flag)";

/** Runs the evaluation for the given command-line arguments. */
export async function evalMain(args: string[]): Promise<void> {
  if (args.some((a) => /^--(mc|tasks)(=|$)/.test(a))) return await runMultipleChoice(args);
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      checkpoint: { type: "string" },
      data: { type: "string" },
      "seq-len": { type: "string" },
      "batch-size": { type: "string", default: "1" },
      "max-batches": { type: "string" },
      split: { type: "string", default: "val" },
      backend: { type: "string", default: "wasm" },
      weights: { type: "string", default: "auto" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.checkpoint) throw new UserError(`--checkpoint is required (see --help)`);
  if (!values.data) throw new UserError(`--data is required (see --help)`);
  if (values.split !== "val" && values.split !== "train") {
    throw new UserError(`--split must be val or train, got "${values.split}"`);
  }
  const batchSize = positiveInt("--batch-size", values["batch-size"]);
  const maxBatches = values["max-batches"] === undefined
    ? Infinity
    : positiveInt("--max-batches", values["max-batches"]);

  const weightDtype = weightsFlag(values.weights);
  const backend = await createBackend(values.backend);
  try {
    const { model, config } = await loadHfCheckpoint(values.checkpoint, backend, { weightDtype });
    const seqLen = values["seq-len"] === undefined
      ? config.block_size
      : positiveInt("--seq-len", values["seq-len"]);
    if (seqLen > config.block_size) {
      throw new UserError(`--seq-len ${seqLen} exceeds the checkpoint's block size ${config.block_size}`);
    }
    const manifest = readManifest(values.data);
    if (manifest && manifest.tokenizer.vocabSize > config.vocab_size) {
      throw new UserError(
        `${values.data}: tokenized with a vocabulary of ${manifest.tokenizer.vocabSize}, ` +
          `the checkpoint's is ${config.vocab_size}`,
      );
    }
    if (
      splitShardPaths(values.data, values.split).length === 0 && values.split === "val" &&
      splitShardPaths(values.data, "train").length > 0
    ) {
      throw new UserError(
        `${values.data}: no val shards (prepare with --val-fraction, or evaluate the train shards with --split train)`,
      );
    }
    const total = Math.min(maxBatches, Math.ceil(countBlocks(values.data, values.split, seqLen) / batchSize));
    const bar = new Progress({ total, label: "eval" });
    const blocks = iterateBatches(values.data, {
      seqLen,
      batchSize,
      split: values.split,
      maxBlocks: Number.isFinite(maxBatches) ? maxBatches * batchSize : undefined,
    });
    const { loss, tokens, batches } = await validationLoss(
      model,
      blocks,
      (r) => bar.update(r.batches, `loss ${r.loss.toFixed(4)}`),
    );
    bar.done();
    if (tokens === 0) {
      throw new UserError(`${values.data}: the ${values.split} blocks have no targets to evaluate`);
    }
    console.log(
      `eval ${values.checkpoint} on ${values.data} (${values.split}): ${batches} batches, ${tokens} tokens, ` +
        `loss ${loss.toFixed(4)}, perplexity ${Math.exp(loss).toFixed(3)}`,
    );
    console.log(JSON.stringify({ loss, perplexity: Math.exp(loss), tokens }));
  } finally {
    backend.destroy();
  }
}

/** Blocks of `seqLen + 1` tokens in the split (for the progress bar; the manifest's padding left out). */
function countBlocks(dir: string, split: Split, seqLen: number): number {
  const paths = splitShardPaths(dir, split);
  if (paths.length === 0) return 0; // iterateBatches reports it
  const reader = ShardReader.open(paths);
  const tokens = reader.totalTokens - (readManifest(dir)?.splits[split].paddingTokens ?? 0);
  reader.close();
  return Math.floor(tokens / (seqLen + 1));
}

if (import.meta.main) await runMain(() => evalMain(Deno.args));
