import { isUserError, oneLine } from "./errors.ts";

/**
 * Runs a CLI entry point: a {@link UserError} (or a flag-parsing error from `node:util`) becomes one
 * line on stderr and exit code 2; any other error is a bug and is rethrown with its stack.
 *
 * @example
 * ```ts
 * import { runMain } from "@tinyllama-ts/cli";
 * if (import.meta.main) await runMain(async () => { console.log("hello"); });
 * ```
 */
export async function runMain(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (isUserError(e) || isParseArgsError(e)) {
      // One line, always: node:util appends hints on further lines for some flag errors.
      console.error(`error: ${oneLine(e)}`);
      Deno.exit(2);
    }
    throw e;
  }
}

/** Whether `e` is a flag-parsing error of `node:util`'s `parseArgs` (a user's mistake, like a {@link UserError}). */
export function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}
