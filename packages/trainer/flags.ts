/**
 * The flags of `deno task pretrain`, lit-gpt's names, parsed strictly: an unknown flag, a missing value
 * or a value of the wrong type is a one-line {@link UserError}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseIntFlag, parseNumberFlag, UserError } from "@tinyllama-ts/cli";
import { type DataSpec, parseDataSpec } from "@tinyllama-ts/data";
import type { BackendName, Hparams } from "./hparams.ts";
import { DEFAULT_OUT, type TrainOptions } from "./train.ts";

/** A parsed command line: where things are, and the hyper-parameters it sets (only those). */
export interface PretrainFlags {
  /** A preset name or a config JSON file. */
  config?: string;
  /** A Hugging Face checkpoint directory to start from (its config is used). */
  initFrom?: string;
  tokenizer?: string;
  /** Empty when no `--data` was given. */
  data: DataSpec[];
  out?: string;
  /** `"auto"` or a checkpoint directory. */
  resume?: string;
  /** The hyper-parameters given on the command line. */
  hparams: Partial<Hparams>;
  /** `--shard-optimizer`: ZeRO stage 1 across the ranks of `deno task pretrain:mpi` (refused without). */
  shardOptimizer?: boolean;
  /** `--recompute`: activation recomputation (see `TrainOptions.recompute`). */
  recompute?: boolean;
  /** `--plan`: print the memory plan and train nothing (see `plan.ts`). */
  plan?: boolean;
  /** `--memory-gb N`: with `--plan`, the largest micro-batch that fits N GB. */
  memoryGb?: number;
}

const INT_FLAGS = {
  "max-steps": "maxSteps",
  "micro-batch-size": "microBatchSize",
  "global-batch-size": "globalBatchSize",
  "seq-len": "seqLen",
  "warmup-steps": "warmupSteps",
  "seed": "seed",
  "save-interval": "saveInterval",
  "eval-interval": "evalInterval",
  "eval-iters": "evalIters",
  "keep-checkpoints": "keepCheckpoints",
} as const;

/** Integer flags that must be ≥ 1 (the others are ≥ 0). */
const POSITIVE = new Set([
  "max-steps",
  "micro-batch-size",
  "global-batch-size",
  "seq-len",
  "eval-iters",
  "keep-checkpoints",
]);

const FLOAT_FLAGS = {
  "lr": "lr",
  "min-lr": "minLr",
  "weight-decay": "weightDecay",
  "beta1": "beta1",
  "beta2": "beta2",
  "eps": "eps",
  "grad-clip": "gradClip",
} as const;

/** The help text. */
export const PRETRAIN_USAGE = `usage: deno task pretrain [flags]

Without flags: prepare the built-in corpus and tokenizer (cached), train the micro-4l-4k preset in
runs/pretrain (continuing it if it is there), evaluate, sample, and write runs/pretrain/report.html.

  --config PRESET|FILE       model preset or lit-gpt-style JSON config (default micro-4l-4k)
  --init-from HF_DIR         start from a Hugging Face checkpoint or .gguf (its config is used)
  --tokenizer PATH           tokenizer.model, for the sample (default: the built-in one with built-in data)
  --data DIR[:WEIGHT]        prepared data, repeatable for a mixture (default: the built-in corpus)
  --out DIR                  run directory (default runs/pretrain); must be empty unless --resume
  --backend wasm|webgpu      compute backend (default wasm)
  --max-steps N              optimizer steps
  --micro-batch-size N       sequences per forward/backward
  --global-batch-size N      sequences per optimizer step (accumulation = global / micro)
  --seq-len N                tokens per sequence (default and maximum: the model's block_size)
  --lr X --min-lr X          peak and final learning rate of the cosine schedule
  --warmup-steps N           linear warmup from 0
  --weight-decay X --beta1 X --beta2 X --eps X --grad-clip X (0: no clipping)
  --decay-norms-and-embeddings true|false   TinyLlama decays every parameter (default true)
  --seed N
  --save-interval N          checkpoint every N steps (0: only the final one)
  --keep-checkpoints K       keep the newest K checkpoints
  --eval-interval N --eval-iters N   validation every N steps (0: only at the end), over N batches
  --resume auto|DIR          continue the newest whole checkpoint in --out, or DIR; flags not given
                             default to the checkpoint's values
  --shard-optimizer          deno task pretrain:mpi only: each rank holds 1/N of the AdamW moments
  --recompute                keep only each block's input and recompute the block in the backward
                             (less activation memory, the same gradients bit for bit)
  --plan [--memory-gb N]     print the bytes of parameters, gradients, moments, activations, logits
                             and workspace for these flags (and the largest micro-batch that fits
                             N GB); trains nothing`;

/**
 * Parses `args`. `--help` is reported as `{ help: true }`.
 *
 * @example
 * ```ts
 * import { parsePretrainFlags } from "@tinyllama-ts/trainer";
 * const f = parsePretrainFlags(["--max-steps", "10", "--data", "out/a:0.7", "--data", "out/b:0.3"]);
 * console.log(f.hparams.maxSteps, f.data.length); // 10 2
 * ```
 */
export function parsePretrainFlags(args: readonly string[]): PretrainFlags & { help?: boolean } {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    config: { type: "string" },
    "init-from": { type: "string" },
    tokenizer: { type: "string" },
    data: { type: "string", multiple: true },
    out: { type: "string" },
    backend: { type: "string" },
    resume: { type: "string" },
    "decay-norms-and-embeddings": { type: "string" },
    help: { type: "boolean" },
    "shard-optimizer": { type: "boolean" },
    recompute: { type: "boolean" },
    plan: { type: "boolean" },
    "memory-gb": { type: "string" },
  };
  for (const k of [...Object.keys(INT_FLAGS), ...Object.keys(FLOAT_FLAGS)]) options[k] = { type: "string" };
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    // node:util's messages can span lines; the CLI contract is one line.
    throw new UserError((e as Error).message.replace(/\s*\n\s*/g, " "));
  }
  if (values.help) return { data: [], hparams: {}, help: true };
  const str = (k: string) => values[k] as string | undefined;
  const hparams: Partial<Hparams> = {};
  for (const [flag, key] of Object.entries(INT_FLAGS)) {
    const v = str(flag);
    if (v !== undefined) hparams[key] = parseInteger(flag, v, POSITIVE.has(flag) ? 1 : 0);
  }
  for (const [flag, key] of Object.entries(FLOAT_FLAGS)) {
    const v = str(flag);
    if (v !== undefined) hparams[key] = parseNumber(flag, v);
  }
  const backend = str("backend");
  if (backend !== undefined) {
    if (backend !== "wasm" && backend !== "webgpu") {
      throw new UserError(`--backend must be wasm or webgpu, got "${backend}"`);
    }
    hparams.backend = backend as BackendName;
  }
  const decay = str("decay-norms-and-embeddings");
  if (decay !== undefined) {
    if (decay !== "true" && decay !== "false") {
      throw new UserError(`--decay-norms-and-embeddings must be true or false, got "${decay}"`);
    }
    hparams.decayNormsAndEmbeddings = decay === "true";
  }
  if (hparams.lr !== undefined && hparams.lr < 0) throw new UserError(`--lr must be ≥ 0, got ${hparams.lr}`);
  if (hparams.minLr !== undefined && hparams.minLr < 0) {
    throw new UserError(`--min-lr must be ≥ 0, got ${hparams.minLr}`);
  }
  const config = str("config"), initFrom = str("init-from");
  if (config !== undefined && initFrom !== undefined) {
    throw new UserError("--config and --init-from exclude each other (a checkpoint brings its config)");
  }
  for (const k of ["config", "init-from", "tokenizer", "out", "resume"]) {
    if (str(k) === "") throw new UserError(`--${k} needs a value`);
  }
  return {
    config,
    initFrom,
    tokenizer: str("tokenizer"),
    data: ((values.data as string[] | undefined) ?? []).map(parseDataSpec),
    out: str("out")?.replace(/(.)\/+$/, "$1"),
    resume: str("resume"),
    hparams,
    ...(values["shard-optimizer"] ? { shardOptimizer: true } : {}),
    ...(values.recompute ? { recompute: true } : {}),
    ...(values.plan ? { plan: true } : {}),
    ...(str("memory-gb") === undefined ? {} : { memoryGb: parseMemoryGb(str("memory-gb")!, !!values.plan) }),
  };
}

/**
 * The {@link train} options a command line asks for: its hyper-parameters and paths (`--out` defaulting
 * to {@link DEFAULT_OUT}); `extra` adds what a command line cannot give (hooks, a signal, default data).
 *
 * @example
 * ```ts
 * import { parsePretrainFlags, trainOptionsFromFlags } from "@tinyllama-ts/trainer";
 * const opts = trainOptionsFromFlags(parsePretrainFlags(["--max-steps", "10", "--lr", "1e-3"]));
 * console.log(opts.maxSteps, opts.lr, opts.out); // 10 0.001 runs/pretrain
 * ```
 */
export function trainOptionsFromFlags(
  flags: PretrainFlags,
  extra: Omit<
    TrainOptions,
    keyof Hparams | "out" | "config" | "initFrom" | "data" | "tokenizer" | "resume" | "recompute"
  > = {},
): TrainOptions {
  return {
    ...flags.hparams,
    out: flags.out ?? DEFAULT_OUT,
    ...(flags.config === undefined ? {} : { config: flags.config }),
    ...(flags.initFrom === undefined ? {} : { initFrom: flags.initFrom }),
    ...(flags.data.length === 0 ? {} : { data: flags.data }),
    ...(flags.tokenizer === undefined ? {} : { tokenizer: flags.tokenizer }),
    ...(flags.resume === undefined ? {} : { resume: flags.resume }),
    ...(flags.recompute ? { recompute: true } : {}),
    ...extra,
  };
}

function parseMemoryGb(v: string, plan: boolean): number {
  if (!plan) throw new UserError("--memory-gb goes with --plan");
  const n = parseNumber("memory-gb", v);
  if (!(n > 0)) throw new UserError(`--memory-gb must be positive, got "${v}"`);
  return n;
}

function parseInteger(flag: string, v: string, min: number): number {
  return parseIntFlag(`--${flag}`, v, { min });
}

function parseNumber(flag: string, v: string): number {
  return parseNumberFlag(`--${flag}`, v);
}
