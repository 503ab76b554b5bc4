/**
 * Flag parsing shared by the model's command-line tools.
 *
 * @module
 */
import { parseIntFlag, UserError } from "@tinyllama-ts/cli";
import type { WeightDType } from "@tinyllama-ts/model";

/** The value of `flag` as a positive integer, through the project's one strict parser. */
export function positiveInt(flag: string, value: string): number {
  return parseIntFlag(flag, value, { min: 1 });
}

/**
 * `--weights auto|bf16|f32`: how the model holds its weights (`auto`: bf16 exactly when the checkpoint
 * stores its matrices as BF16, else f32; `bf16` rounds f32 weights to fit half the memory).
 */
export function weightsFlag(value: string): WeightDType | "auto" {
  if (value !== "auto" && value !== "bf16" && value !== "f32") {
    throw new UserError(`--weights must be auto, bf16 or f32, got "${value}"`);
  }
  return value;
}
