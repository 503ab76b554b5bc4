/**
 * The training run's hyper-parameters: every knob of `deno task pretrain` except the model, data and
 * directories, with the defaults of the no-argument run and their checks. The zod schema checks each
 * value on its own (it validates what a program passes to `train()` and what a checkpoint holds);
 * {@link checkHparams} checks them together against the model.
 *
 * @module
 */
import { z } from "zod";
import { UserError } from "@tinyllama-ts/cli";

/** The backends the trainer runs on (the registry's, less the f64 reference, which is for tests). */
export type BackendName = "wasm" | "webgpu";

const count = z.number().int().nonnegative();
const positive = z.number().int().positive();
const rate = z.number().finite().nonnegative();
const fraction = z.number().finite().min(0).lt(1);

/**
 * The schema of {@link Hparams}: each value's type and range (flags, programs and checkpoints alike).
 * Unknown keys are rejected.
 */
export const HparamsSchema: z.ZodType<Hparams> = z.strictObject({
  backend: z.enum(["wasm", "webgpu"]),
  maxSteps: positive,
  microBatchSize: positive,
  globalBatchSize: positive,
  seqLen: positive.nullable(),
  lr: rate,
  minLr: rate,
  warmupSteps: count,
  weightDecay: rate,
  beta1: fraction,
  beta2: fraction,
  eps: z.number().finite().positive(),
  gradClip: rate,
  seed: count,
  saveInterval: count,
  evalInterval: count,
  evalIters: positive,
  keepCheckpoints: positive,
  decayNormsAndEmbeddings: z.boolean(),
});

/** Hyper-parameters, lit-gpt's names in camelCase. Saved with every checkpoint. */
export interface Hparams {
  backend: BackendName;
  /** Optimizer steps of the whole run. */
  maxSteps: number;
  /** Sequences per forward/backward. */
  microBatchSize: number;
  /** Sequences per optimizer step; accumulation = global / micro. */
  globalBatchSize: number;
  /** Tokens per training row; `null` before resolution means the model's `block_size`. */
  seqLen: number | null;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Largest global gradient norm; 0 disables clipping. */
  gradClip: number;
  /** Seeds the initialisation and the data order. */
  seed: number;
  /** Checkpoint every this many steps; 0: only the final one. */
  saveInterval: number;
  /** Validate every this many steps (and at the end); 0: only at the end. */
  evalInterval: number;
  /** Validation batches (of `microBatchSize` sequences) per evaluation. */
  evalIters: number;
  /** Checkpoints kept (the newest). */
  keepCheckpoints: number;
  /** TinyLlama decays every parameter; false exempts norms and the embedding. */
  decayNormsAndEmbeddings: boolean;
}

/** {@link Hparams} with the row length resolved against the model. */
export type ResolvedHparams = Hparams & { seqLen: number };

/**
 * The defaults: TinyLlama's optimizer (AdamW β 0.9/0.95, eps 1e-8, weight decay 0.1, clip 1.0, lr/10 as
 * the floor, seed 3407), and a schedule and batch sized for the `micro-4l-4k` preset to train in a few
 * minutes on two CPU cores. TinyLlama's own run is `--lr 4e-4 --min-lr 4e-5 --warmup-steps 2000
 * --max-steps 1430512 --global-batch-size 1024 --micro-batch-size 8 --seq-len 2048`.
 */
export const DEFAULT_HPARAMS: Readonly<Hparams> = Object.freeze({
  backend: "wasm",
  maxSteps: 800,
  microBatchSize: 8,
  globalBatchSize: 8,
  seqLen: null,
  lr: 3e-3,
  minLr: 3e-4,
  warmupSteps: 40,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  gradClip: 1.0,
  seed: 3407,
  saveInterval: 200,
  evalInterval: 100,
  evalIters: 8,
  keepCheckpoints: 2,
  decayNormsAndEmbeddings: true,
});

/** Gradient accumulation steps per optimizer step. */
export function accumulationSteps(hp: Hparams): number {
  return hp.globalBatchSize / hp.microBatchSize;
}

/** The flag of each hyper-parameter, for messages: `minLr` → `--min-lr`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Checks the values one by one (the schema) and together; `blockSize` is the model's context. Returns
 * `hp` with `seqLen` resolved. A bad value is a one-line {@link UserError} naming its flag.
 *
 * @example
 * ```ts
 * import { checkHparams, DEFAULT_HPARAMS } from "@tinyllama-ts/trainer";
 * console.log(checkHparams({ ...DEFAULT_HPARAMS }, 128).seqLen); // 128
 * ```
 */
export function checkHparams(hp: Hparams, blockSize: number): ResolvedHparams {
  const fail = (msg: string): never => {
    throw new UserError(msg);
  };
  const r = HparamsSchema.safeParse(hp);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = String(issue.path[0] ?? "");
    const value = (hp as unknown as Record<string, unknown>)[key];
    if (issue.code === "unrecognized_keys") {
      fail(`unknown hyper-parameter${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`);
    }
    const want: Record<string, string> = {
      beta1: "in [0, 1)",
      beta2: "in [0, 1)",
      eps: "> 0",
    };
    fail(`${flagName(key)} must be ${want[key] ?? describeIssue(issue)}, got ${JSON.stringify(value)}`);
  }
  if (hp.globalBatchSize % hp.microBatchSize !== 0) {
    fail(
      `--global-batch-size ${hp.globalBatchSize} is not a multiple of --micro-batch-size ${hp.microBatchSize}`,
    );
  }
  const seqLen = hp.seqLen ?? blockSize;
  if (seqLen > blockSize) fail(`--seq-len ${seqLen} exceeds the model's block_size ${blockSize}`);
  return { ...hp, seqLen };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "too_small") return `${issue.inclusive === false ? ">" : "≥"} ${issue.minimum}`;
  if (issue.code === "invalid_value") return `one of ${issue.values.join(", ")}`;
  if (issue.code === "invalid_type") return `a ${issue.expected}`;
  return issue.message;
}
