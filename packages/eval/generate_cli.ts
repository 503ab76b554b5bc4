/**
 * `deno task generate`: continues a prompt with a Hugging Face checkpoint and prints the continuation.
 * The prompt is text (encoded with the checkpoint's `tokenizer.model`/`tokenizer.json`, BOS first, as
 * Llama's tokenizer does) or ids as given. Generation stops after `--max-new-tokens` or at the EOS id
 * of `config.json`. Temperature 0 is greedy; the defaults (0.8, top-k 50) are lit-gpt's. With `--ids`
 * the last stdout line is the JSON array of new ids.
 *
 * ```sh
 * deno task generate --checkpoint out/hf --prompt "Once upon a time" [--max-new-tokens 50] \
 *   [--temperature 0.8] [--top-k 50] [--top-p 1] [--seed 1234] [--ids] [--backend wasm]
 * ```
 *
 * @example
 * ```ts
 * import { generateMain } from "./generate_cli.ts";
 * await generateMain(["--checkpoint", "tests/fixtures/model/gqa_a", "--prompt", "the tiny llama", "--temperature", "0"]);
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { parseIntFlag, parseIntListFlag, parseNumberFlag, runMain, UserError } from "@tinyllama-ts/cli";
import { loadTokenizer, type Tokenizer } from "@tinyllama-ts/tokenizer";
import { BACKEND_NAMES, createBackend } from "@tinyllama-ts/backends";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { generate } from "@tinyllama-ts/model";
import { weightsFlag } from "./_cli_args.ts";

const USAGE = "usage: deno task generate --checkpoint DIR (--prompt TEXT | --prompt-ids 1,2,3) " +
  "[--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--ids] " +
  `[--backend ${BACKEND_NAMES.join("|")}] [--weights auto|bf16|f32]`;

/** Runs generation for the given command-line arguments. */
export async function generateMain(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      checkpoint: { type: "string" },
      prompt: { type: "string" },
      "prompt-ids": { type: "string" },
      "max-new-tokens": { type: "string", default: "50" },
      temperature: { type: "string", default: "0.8" },
      "top-k": { type: "string", default: "50" },
      "top-p": { type: "string", default: "1" },
      seed: { type: "string", default: "1234" },
      ids: { type: "boolean", default: false },
      backend: { type: "string", default: "wasm" },
      weights: { type: "string", default: "auto" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.checkpoint) throw new UserError(`--checkpoint is required (see --help)`);
  if ((values.prompt === undefined) === (values["prompt-ids"] === undefined)) {
    throw new UserError(`give exactly one of --prompt and --prompt-ids (see --help)`);
  }
  const maxNewTokens = parseIntFlag("--max-new-tokens", values["max-new-tokens"]);
  const temperature = parseNumberFlag("--temperature", values.temperature, { min: 0 });
  const topK = parseIntFlag("--top-k", values["top-k"]);
  const topP = parseNumberFlag("--top-p", values["top-p"], { min: 0, aboveMin: true, max: 1 });
  const seed = parseIntFlag("--seed", values.seed);
  // Ids are checked against the model's vocabulary once it is loaded.
  const promptIds = values["prompt-ids"] === undefined
    ? null
    : parseIntListFlag("--prompt-ids", values["prompt-ids"]);

  const weightDtype = weightsFlag(values.weights);
  const backend = await createBackend(values.backend);
  try {
    const { model, extras, tokenizerPath } = await loadHfCheckpoint(values.checkpoint, backend, {
      weightDtype,
    });
    let tokenizer: Tokenizer | null = null;
    if (tokenizerPath) tokenizer = await loadTokenizer(tokenizerPath);
    else if (values.prompt !== undefined || !values.ids) {
      throw new UserError(
        `${values.checkpoint}: no tokenizer.model or tokenizer.json` +
          (values.prompt !== undefined ? " to encode --prompt" : " (pass --ids to print token ids)"),
      );
    }
    const ids = promptIds ?? tokenizer!.encode(values.prompt!, { bos: tokenizer!.bosId >= 0 });
    const eos = extras.eosTokenId ?? (tokenizer && tokenizer.eosId >= 0 ? tokenizer.eosId : null);
    const out = await generate(model, ids, {
      maxNewTokens,
      temperature,
      topK,
      topP,
      seed,
      stopIds: eos === null ? [] : [eos],
    });
    if (tokenizer) console.log(tokenizer.decode(out));
    if (values.ids) console.log(JSON.stringify(out));
  } finally {
    backend.destroy();
  }
}

if (import.meta.main) await runMain(() => generateMain(Deno.args));
