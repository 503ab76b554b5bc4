/**
 * Evaluation, the last stage of the task graph: validation loss and perplexity over packed shards, and
 * zero-shot multiple choice scored as lm-evaluation-harness scores it (HellaSwag, OBQA, WinoGrande,
 * ARC-e/c, BoolQ, PIQA). The CLIs `deno task eval` and `deno task generate` live here too.
 *
 * @example
 * ```ts
 * import { TASKS } from "@tinyllama-ts/eval";
 * console.log(TASKS.map((t) => t.name));
 * ```
 * @module
 */
export {
  mixtureValidationLoss,
  type MixtureValidationOptions,
  validationLoss,
  type ValidationResult,
  validationSources,
} from "./validation_loss.ts";
export { type TaskFormat, TASKS } from "./mc/tasks.ts";
export { runMultipleChoice, type TasksReport } from "./mc/run_mc.ts";
