/**
 * `deno task export`: writes a checkpoint as one GGUF file that llama.cpp (and Ollama, LM Studio) runs:
 * architecture `llama`, its hyperparameters, the tokenizer beside the checkpoint (or `--tokenizer`: a
 * tokenizer.model, tokenizer.json or .gguf) embedded, tensors F32,
 * F16 or Q8_0 (matrices whose rows are not a multiple of 32 long stay F16, as llama.cpp's converter
 * keeps them). The file is written atomically; an existing one is replaced only with `--force`.
 *
 * ```sh
 * deno task export --checkpoint out/hf --out model.gguf [--type f32|f16|q8_0] [--tokenizer PATH] [--force]
 * ```
 *
 * @example
 * ```ts
 * import { exportMain } from "./export_cli.ts";
 * const out = `${await Deno.makeTempDir()}/gqa_a.gguf`;
 * await exportMain(["--checkpoint", "tests/fixtures/model/gqa_a", "--out", out, "--type", "q8_0"]);
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { exists, runMain, UserError } from "@tinyllama-ts/cli";
import { openHfCheckpoint } from "./hf.ts";
import { type GgufExportType, saveGguf } from "./gguf.ts";
import { ggufVocabFromTokenizerFile } from "./gguf_tokenizer_files.ts";
import { GgufTokenType } from "@tinyllama-ts/gguf";

const USAGE =
  "usage: deno task export --checkpoint DIR --out FILE.gguf [--type f32|f16|q8_0] [--tokenizer PATH] [--force]";
const TYPES: readonly GgufExportType[] = ["f32", "f16", "q8_0"];

/** Runs the export for the given command-line arguments. */
export async function exportMain(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        checkpoint: { type: "string" },
        out: { type: "string" },
        type: { type: "string", default: "f32" },
        tokenizer: { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new UserError(`${(e as Error).message} (${USAGE})`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.checkpoint) throw new UserError(`--checkpoint is required (${USAGE})`);
  if (!values.out) throw new UserError(`--out is required (${USAGE})`);
  const type = values.type as GgufExportType;
  if (!TYPES.includes(type)) {
    throw new UserError(`--type must be one of ${TYPES.join(", ")}, got "${values.type}"`);
  }
  if (!/\.gguf$/i.test(values.out)) {
    throw new UserError(`--out ${values.out}: the file name must end in .gguf`);
  }
  if (!values.force && await exists(values.out)) {
    throw new UserError(`--out ${values.out} exists (pass --force to replace it)`);
  }
  // Tensors go from the checkpoint to the file one at a time: a 1B model is never in memory whole.
  const ckpt = await openHfCheckpoint(values.checkpoint);
  try {
    const { extras } = ckpt;
    const tokenizerPath = values.tokenizer ?? ckpt.tokenizerPath;
    if (!tokenizerPath) {
      throw new UserError(
        `${values.checkpoint}: no tokenizer to embed (llama.cpp cannot run a GGUF without one): pass --tokenizer PATH`,
      );
    }
    const vocab = await ggufVocabFromTokenizerFile(tokenizerPath, extras);
    if (vocab.model === "llama" && !vocab.types?.includes(GgufTokenType.BYTE)) {
      // llama.cpp's SentencePiece tokenizer aborts on a character it cannot spell without byte pieces.
      console.error(
        `warning: ${tokenizerPath} has no byte pieces: llama.cpp aborts on text outside its vocabulary`,
      );
    }
    await saveGguf(ckpt, values.out, { type, vocab });
    const mb = (await Deno.stat(values.out)).size / 1e6;
    console.log(`wrote ${values.out} (${type}, ${mb.toFixed(1)} MB)`);
  } finally {
    ckpt.close();
  }
}

if (import.meta.main) await runMain(() => exportMain(Deno.args));
