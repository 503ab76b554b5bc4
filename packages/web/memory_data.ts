/**
 * Training data held in memory, for a page that has no files: documents tokenized and packed as
 * `deno task prepare` packs them (each document's ids, then EOS, back to back; no BOS), and a block
 * source over that stream for the data package's {@link MixtureSampler}, which draws from it exactly as
 * it draws from shards on disk (the stream cut into blocks of `seqLen + 1`, the remainder left out).
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { BlockSource } from "../data/_block_source.ts";
import { normalizeWeights } from "../data/data_spec.ts";
import { MixtureSampler } from "../data/sampler.ts";

/** The tokenizer interface packing needs. */
export interface Encoder {
  readonly eosId: number;
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
}

/** One source of a mixture: its name, weight and documents. */
export interface TextSource {
  name: string;
  weight: number;
  texts: readonly string[];
}

/**
 * The token stream `deno task prepare` writes for `texts` with `--val-fraction 0` and no dedup:
 * documents that are only whitespace are skipped, every other one is its ids followed by EOS.
 *
 * @example
 * ```ts
 * import { packDocuments } from "./mod.ts";
 * const tok = { eosId: 2, encode: (s: string) => [...s].map((c) => c.charCodeAt(0)) };
 * console.log(packDocuments(tok, ["ab", "  ", "c"])); // Int32Array [97, 98, 2, 99, 2]
 * ```
 */
export function packDocuments(tok: Encoder, texts: readonly string[]): Int32Array {
  const parts: number[][] = [];
  let total = 0;
  for (const text of texts) {
    if (text.trim() === "") continue;
    const ids = tok.encode(text, { bos: false, eos: false });
    ids.push(tok.eosId);
    parts.push(ids);
    total += ids.length;
  }
  const out = new Int32Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Blocks of `seqLen + 1` tokens of one in-memory stream (the shape of the data package's block sources). */
class MemoryBlockSource {
  readonly prefix = undefined;
  readonly blockSize: number;
  readonly blocks: number;
  readonly tokens: number;
  readonly vocabSize = undefined;
  readonly tokenizerSha256 = undefined;

  constructor(readonly dir: string, readonly stream: Int32Array, seqLen: number) {
    this.blockSize = seqLen + 1;
    this.tokens = stream.length;
    this.blocks = Math.floor(stream.length / this.blockSize);
    if (this.blocks === 0) {
      throw new UserError(`${dir}: ${stream.length} tokens are fewer than one block of ${this.blockSize}`);
    }
  }

  readBlock(index: number, out: Int32Array, offset: number): void {
    const start = index * this.blockSize;
    out.set(this.stream.subarray(start, start + this.blockSize), offset);
  }

  close(): void {}
}

/**
 * A {@link MixtureSampler} over in-memory token streams, one per source, weighted as `openDataset`
 * weights directories: the same seed, sequence length, weights and streams draw the same rows as the
 * CLI does from the shards `deno task prepare` made of the same documents.
 *
 * @example
 * ```ts
 * import { memorySampler } from "./mod.ts";
 * const stream = Int32Array.from({ length: 100 }, (_, i) => i);
 * const sampler = memorySampler([{ name: "a", weight: 1, stream }], { seqLen: 8, seed: 1 });
 * console.log(sampler.nextBatch(2).inputs.length); // 16
 * ```
 */
export function memorySampler(
  sources: readonly { name: string; weight: number; stream: Int32Array }[],
  opts: { seqLen: number; seed: number },
): MixtureSampler {
  if (sources.length === 0) throw new UserError("no training text");
  const weights = normalizeWeights(sources.map((s) => s.weight));
  const blocks = sources.map((s) => new MemoryBlockSource(s.name, s.stream, opts.seqLen));
  // The sampler reads only these members of a block source; the shard reader is never touched.
  return new MixtureSampler(blocks as unknown as BlockSource[], weights, opts);
}
