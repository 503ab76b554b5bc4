// A `.gguf` given as `--tokenizer`: its `gpt2` (byte-level BPE) vocabulary, written the way `deno task export`
// writes it from a tokenizer.json, loads as the same tokenizer (the same ids on awkward texts) as that
// tokenizer.json, whose ids equal HF tokenizers' (packages/tokenizer/byte_level_bpe_test.ts).
import assert from "node:assert/strict";
import { ggufVocabFromTokenizerFile } from "../packages/checkpoint/gguf_tokenizer_files.ts";
import { vocabMetadata, writeGguf } from "@tinyllama-ts/gguf";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import { gpt2TokenizerJson } from "../packages/tokenizer/_byte_level_reference.ts";

const TEXTS = [
  "Hello world, it's 12345 ½ 日本語",
  "  leading spaces\tand\ttabs\n\nnew lines   ",
  "def f(x):\n    return x ** 2  # square",
  "emoji 👩‍👩‍👧 and हिन्दी",
  "<|endoftext|>special in text<|endoftext|>",
];

Deno.test("tokenizer from a .gguf (gpt2 / byte-level BPE): the same ids as its tokenizer.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const layout of ["gpt2", "smollm"] as const) {
      const json = `${dir}/${layout}.json`;
      await Deno.writeTextFile(json, await gpt2TokenizerJson(layout));
      const vocab = await ggufVocabFromTokenizerFile(json);
      assert.equal(vocab.model, "gpt2");
      const gguf = `${dir}/${layout}.gguf`;
      await writeGguf(gguf, vocabMetadata(vocab), []);
      const [fromJson, fromGguf] = [await loadTokenizer(json), await loadTokenizer(gguf)];
      for (const text of TEXTS) {
        assert.deepEqual(fromGguf.encode(text), fromJson.encode(text), `${layout}: ${text}`);
      }
      assert.equal(fromGguf.decode(fromGguf.encode(TEXTS[0])), TEXTS[0]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
