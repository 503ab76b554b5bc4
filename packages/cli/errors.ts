/**
 * The error a user can fix: bad input, a missing file, a wrong flag. CLIs print its message as one line
 * and exit non-zero; anything else is a bug and keeps its stack trace.
 *
 * @example
 * ```ts
 * import { UserError } from "@tinyllama-ts/cli";
 * throw new UserError("data/shard-0.bin: wrong magic (expected LITPKDS)");
 * ```
 */
export class UserError extends Error {
  override name = "UserError";
  constructor(message: string) {
    super(message);
  }
}

/** True for a {@link UserError}, also one thrown from another copy of this module (a worker, say). */
export function isUserError(e: unknown): e is Error {
  return e instanceof Error && e.name === "UserError";
}

/**
 * The first line of an error's message, trimmed: what a one-line report shows of an error from a
 * library (node:util, a decompressor, the file system) whose message may run over several lines.
 *
 * @example
 * ```ts
 * import { oneLine } from "@tinyllama-ts/cli";
 * oneLine(new Error("bad flag\nhint: use --x=1")); // "bad flag"
 * ```
 */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].trim();
}
