/**
 * `deno task web [--port N] [--host H] [--tokenizer PATH] [--corpus DIR] [--bundle DIR]`: serves the
 * training page on http://127.0.0.1:8417/ (the task first bundles the page and prepares the built-in
 * corpus and tokenizer, both cached).
 *
 * @module
 */
import { runMain, UserError } from "@tinyllama-ts/cli";
import { DEFAULT_BUNDLE_DIR } from "./bundle.ts";
import { builtinSample } from "./corpus_sample.ts";
import { parseFlags, portOf } from "./_flags.ts";
import { serveWeb } from "./web_server.ts";

/** The training page's default port. */
export const WEB_PORT = 8417;

/** Runs the CLI with `args`; resolves when the server stops. */
export async function webMain(args: readonly string[]): Promise<void> {
  const f = parseFlags(args, ["port", "host", "tokenizer", "corpus", "bundle"]);
  const bundleDir = f.get("bundle") ?? DEFAULT_BUNDLE_DIR;
  const tokenizer = f.get("tokenizer") ?? "runs/builtin-tokenizer/tokenizer.model";
  const listenPort = portOf(f.get("port"), WEB_PORT); // every flag is checked before any file
  try {
    await Deno.stat(`${bundleDir}/app.js`);
  } catch {
    throw new UserError(`${bundleDir}/app.js: no bundle (run \`deno task build:web\`)`);
  }
  try {
    await Deno.stat(tokenizer);
  } catch (e) {
    throw new UserError(
      `${tokenizer}: cannot read the tokenizer (${(e as Error).message}); ` +
        "run `deno task pretrain:prepare` or pass --tokenizer",
    );
  }
  const corpus = await builtinSample(f.get("corpus") ?? "runs/builtin-corpus");
  const server = serveWeb({
    host: f.get("host"),
    port: listenPort,
    bundleDir,
    tokenizer,
    corpus,
  });
  const { hostname, port } = server.addr;
  console.error(`training page: http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`);
  await server.finished;
}

if (import.meta.main) await runMain(() => webMain(Deno.args));
