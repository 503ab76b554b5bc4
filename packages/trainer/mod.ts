/**
 * The trainer of tinyllama-ts: `deno task pretrain` and its parts, the training loop, checkpoints
 * that survive SIGKILL, the metrics file, validation, the HTML report and the stages of the
 * no-argument pipeline.
 *
 * @example
 * ```ts ignore
 * import { train } from "@tinyllama-ts/trainer";
 * const r = await train({ out: "runs/a", data: [{ dir: "data/corpus", weight: 1 }], maxSteps: 100 });
 * console.log(r.checkpoint, r.lastLoss);
 * ```
 * @module
 */
export {
  accumulationSteps,
  type BackendName,
  checkHparams,
  DEFAULT_HPARAMS,
  flagName,
  type Hparams,
  HparamsSchema,
  type ResolvedHparams,
} from "./hparams.ts";
export { parsePretrainFlags, PRETRAIN_USAGE, type PretrainFlags, trainOptionsFromFlags } from "./flags.ts";
export {
  checkpointName,
  checkpointsDir,
  latestCheckpoint,
  listCheckpoints,
  OPTIMIZER_FILE,
  parseTrainerState,
  readCheckpoint,
  removeTemporaries,
  saveCheckpoint,
  STATE_MIGRATIONS,
  TRAINER_STATE_FILE,
  TRAINER_STATE_VERSION,
  type TrainerState,
  type TrainerStateFile,
  TrainerStateFileSchema,
  trainerStateToFile,
} from "./checkpoint.ts";
export { loadOptimizerState, saveOptimizerState } from "./optimizer_state.ts";
export { accumulateGradients, applyGradients, optimizerStep, type StepOutcome } from "./step.ts";
export { MetricsLog, type MetricsRecord, readMetrics, type StepRecord, type ValRecord } from "./metrics.ts";
export { fp32PeakFlops, trainingFlopsPerToken } from "./mfu.ts";
export { renderReport, type ReportInput } from "./report.ts";
export {
  DEFAULT_CONFIG,
  DEFAULT_OUT,
  MAX_NON_FINITE_STREAK,
  type Run,
  setup,
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
export { pretrainMpiMain } from "./pretrain_mpi_cli.ts";
