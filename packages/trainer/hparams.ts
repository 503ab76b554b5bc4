/**
 * The training run's hyper-parameters: every knob of `deno task pretrain` except the model, data and
 * directories, with the defaults of the no-argument run and their checks.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** The backends the trainer runs on. */
export type BackendName = "wasm" | "webgpu";

/** Hyper-parameters, lit-gpt's names in camelCase. Saved with every checkpoint. */
export interface Hparams {
  backend: BackendName;
  /** Optimizer steps of the whole run. */
  maxSteps: number;
  /** Sequences per forward/backward. */
  microBatchSize: number;
  /** Sequences per optimizer step; accumulation = global / micro. */
  globalBatchSize: number;
  /** Tokens per sequence; `null` before resolution means the model's `block_size`. */
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

/** Checks the values together; `blockSize` is the model's context. Returns `hp` with `seqLen` resolved. */
export function checkHparams(hp: Hparams, blockSize: number): Hparams & { seqLen: number } {
  const fail = (msg: string) => {
    throw new UserError(msg);
  };
  if (!(hp.lr >= 0)) fail(`--lr must be ≥ 0, got ${hp.lr}`);
  if (!(hp.minLr >= 0)) fail(`--min-lr must be ≥ 0, got ${hp.minLr}`);
  if (!(hp.beta1 >= 0 && hp.beta1 < 1)) fail(`--beta1 must be in [0, 1), got ${hp.beta1}`);
  if (!(hp.beta2 >= 0 && hp.beta2 < 1)) fail(`--beta2 must be in [0, 1), got ${hp.beta2}`);
  if (!(hp.eps > 0)) fail(`--eps must be > 0, got ${hp.eps}`);
  if (!(hp.weightDecay >= 0)) fail(`--weight-decay must be ≥ 0, got ${hp.weightDecay}`);
  if (!(hp.gradClip >= 0)) fail(`--grad-clip must be ≥ 0, got ${hp.gradClip}`);
  if (hp.globalBatchSize % hp.microBatchSize !== 0) {
    fail(
      `--global-batch-size ${hp.globalBatchSize} is not a multiple of --micro-batch-size ${hp.microBatchSize}`,
    );
  }
  const seqLen = hp.seqLen ?? blockSize;
  if (seqLen > blockSize) fail(`--seq-len ${seqLen} exceeds the model's block_size ${blockSize}`);
  return { ...hp, seqLen };
}
