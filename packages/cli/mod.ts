/**
 * Shared command-line plumbing for tinyllama-ts: one-line user errors, atomic file writes and a
 * progress bar.
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
export { exists, fsyncDir, writeFileAtomic } from "./atomic.ts";
export { formatSeconds, Progress } from "./progress.ts";
