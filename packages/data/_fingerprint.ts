import { oneLine, UserError } from "@tinyllama-ts/cli";

/** SHA-256 (hex) of a tokenizer file; for a directory, of its tokenizer.model or else tokenizer.json. */
export async function tokenizerFingerprint(path: string): Promise<string> {
  let file = path;
  try {
    if ((await Deno.stat(path)).isDirectory) {
      file = `${path}/tokenizer.model`;
      if (!(await Deno.stat(file).catch(() => undefined))) file = `${path}/tokenizer.json`;
    }
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(file)));
    return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`--tokenizer ${file}: no such file`);
    throw new UserError(`--tokenizer ${file}: cannot read (${oneLine(e)})`);
  }
}
