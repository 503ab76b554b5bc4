/**
 * Test helpers: a tiny model config and a small prepared directory of learnable token streams, so the
 * trainer's tests run in seconds on two cores.
 *
 * @module
 */
import { ShardWriter } from "@tinyllama-ts/data";

/** A tiny Llama: 2 layers, GQA 4/2, context 16, and the 96-piece vocabulary of {@link TINY_TOKENIZER}. */
export const TINY_CONFIG = {
  name: "test-tiny",
  vocab_size: 96,
  n_embd: 32,
  n_layer: 2,
  n_head: 4,
  n_query_groups: 2,
  intermediate_size: 48,
  block_size: 16,
  norm_eps: 1e-5,
  rope_base: 10000,
};

/**
 * Writes `dir/config.json` (the tiny config) and `dir/data/` with `train_*` and `val_*` shards of
 * arithmetic progressions mod 64 (start and stride vary per document), and returns both paths.
 */
export async function makeTinyRun(dir: string): Promise<{ config: string; data: string }> {
  const config = `${dir}/config.json`;
  await Deno.writeTextFile(config, JSON.stringify(TINY_CONFIG));
  const data = `${dir}/data`;
  await Deno.mkdir(data, { recursive: true });
  for (const [split, docs, seed] of [["train", 400, 1], ["val", 40, 2]] as const) {
    const w = new ShardWriter({ dir: data, prefix: split, chunkSize: 17 * 64, dtype: "uint16", padToken: 1 });
    // Not @tinyllama-ts/random: _testdata/v1_run records the losses an older trainer computed on exactly
    // these documents, so their generator stays as it was then.
    let s = seed;
    const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8;
    for (let d = 0; d < docs; d++) {
      const start = next() % 64, stride = 1 + (next() % 3), len = 20 + (next() % 30);
      await w.add(Array.from({ length: len }, (_, i) => (start + stride * i) % 64));
    }
    await w.finish();
  }
  return { config, data };
}

/** A 96-piece SentencePiece model (from the model package's fixtures), for samples in tests. */
export const TINY_TOKENIZER =
  new URL("../../tests/fixtures/model/gqa_a/tokenizer.model", import.meta.url).pathname;
