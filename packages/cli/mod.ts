/**
 * Shared command-line plumbing for tinyllama-ts: one-line user errors, the strict numeric flag parser,
 * output-path checks, the run-directory lock, regular-file inputs and a line reader, atomic file
 * writes and a progress bar.
 *
 * @example
 * ```ts
 * import { runMain, UserError } from "@tinyllama-ts/cli";
 * await runMain(() => {
 *   if (Deno.args.length > 9) throw new UserError("too many arguments");
 * });
 * ```
 * @module
 */
export { optIn } from "./env.ts";
export { isUserError, oneLine, UserError } from "./errors.ts";
export { isParseArgsError, runMain } from "./main.ts";
export { exists, fsyncDir, writeAtomicStream, writeFileAtomic } from "./atomic.ts";
export { formatSeconds, Progress } from "./progress.ts";
export {
  type IntBounds,
  type NumberBounds,
  parseIntFlag,
  parseIntListFlag,
  parseNumberFlag,
} from "./numbers.ts";
export { checkOutputDir, checkOutputFile, type OutputDirOptions, parentOf } from "./output.ts";
export { hostName, LOCK_FILE, type LockOwner, lockRunDir, type RunDirLock } from "./lock.ts";
export { checkInputFile, HeldBytes, readLines, specialKind } from "./input.ts";
