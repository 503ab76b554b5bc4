/**
 * Test helper: asserts that `fn` rejects with a {@link UserError} whose message matches `pattern`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { UserError } from "@tinyllama-ts/cli";

/** Fails unless `fn()` rejects with a one-line UserError matching `pattern`. */
export async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), `not one line: ${e.message}`);
    return true;
  });
}
