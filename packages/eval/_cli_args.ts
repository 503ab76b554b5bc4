/**
 * Flag parsing shared by the model's command-line tools.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** The value of `flag` as a positive integer (digits only), else a {@link UserError} naming the flag. */
export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UserError(`${flag} must be a positive integer, got "${value}"`);
  }
  return n;
}
