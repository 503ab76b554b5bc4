/** The first line of an error's message, for embedding in a one-line {@link UserError}. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].trim();
}
