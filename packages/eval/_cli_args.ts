/**
 * Flag parsing shared by the model's command-line tools.
 *
 * @module
 */
import { parseIntFlag } from "@tinyllama-ts/cli";

/** The value of `flag` as a positive integer, through the project's one strict parser. */
export function positiveInt(flag: string, value: string): number {
  return parseIntFlag(flag, value, { min: 1 });
}
