/**
 * The trainer of tinyllama-ts: `deno task pretrain` and its parts, the training loop, checkpoints
 * that survive SIGKILL, the metrics file, validation, the HTML report and the stages of the
 * no-argument pipeline.
 *
 * @example
 * ```ts ignore
 * import { parsePretrainFlags, train } from "@tinyllama-ts/trainer";
 * const r = await train({ flags: parsePretrainFlags(["--data", "data/corpus", "--max-steps", "100"]) });
 * console.log(r.checkpoint, r.lastLoss);
 * ```
 * @module
 */
export {
  accumulationSteps,
  type BackendName,
  checkHparams,
  DEFAULT_HPARAMS,
  type Hparams,
} from "./hparams.ts";
export { parsePretrainFlags, PRETRAIN_USAGE, type PretrainFlags } from "./flags.ts";
export {
  checkpointName,
  checkpointsDir,
  latestCheckpoint,
  listCheckpoints,
  OPTIMIZER_FILE,
  readCheckpoint,
  removeTemporaries,
  saveCheckpoint,
  TRAINER_STATE_FILE,
  type TrainerState,
} from "./checkpoint.ts";
export { MetricsLog, type MetricsRecord, readMetrics, type StepRecord, type ValRecord } from "./metrics.ts";
export { fp32PeakFlops, trainingFlopsPerToken } from "./mfu.ts";
export { validationLoss, type ValidationOptions, validationSources } from "./validation.ts";
export { renderReport, type ReportInput } from "./report.ts";
export {
  DEFAULT_CONFIG,
  DEFAULT_OUT,
  MAX_NON_FINITE_STREAK,
  train,
  type TrainOptions,
  type TrainResult,
} from "./train.ts";
export {
  BUILTIN,
  BUILTIN_VOCAB,
  type EvalResult,
  evaluate,
  FINAL_EVAL_BATCHES,
  prepareBuiltin,
  SAMPLE_PROMPT,
  type Summary,
  writeReport,
} from "./pipeline.ts";
export { pretrainMain } from "./pretrain_cli.ts";
export {
  type Collectives,
  DataParallel,
  type ParallelOptimizer,
  refuseUnderLauncher,
  ShardedOptimizer,
  SINGLE_RANK,
  StartFailure,
} from "./distributed.ts";
export { pretrainMpiMain, SHARD_OPTIMIZER_FLAG } from "./pretrain_mpi_cli.ts";
