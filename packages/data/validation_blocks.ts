import { BlockSource } from "./_block_source.ts";
import type { DataSpec } from "./data_spec.ts";
import type { Split } from "./manifest.ts";
import type { Batch } from "./sampler.ts";

/** Options of {@link iterateBlocks} and {@link iterateBatches}. */
export interface IterateBlocksOptions {
  /** Tokens per row; blocks are `seqLen + 1` tokens. */
  seqLen: number;
  /** Which shards (default `val`). */
  split?: Split;
  /** Stop after this many blocks (default: all). */
  maxBlocks?: number;
  /** Every id must be below this (a model's `vocab_size`); the manifest's vocabulary is checked always. */
  vocabSize?: number;
}

/**
 * The blocks of one directory's split in order, unshuffled: block `i` is tokens
 * `[i·(seqLen+1), (i+1)·(seqLen+1))` of the split's shards read back to back; a final remainder shorter
 * than a block is not yielded. The same directory always gives the same blocks, which makes validation
 * losses comparable across runs and resumptions.
 *
 * @example
 * ```ts
 * import { iterateBlocks, ShardWriter } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * const w = new ShardWriter({ dir, prefix: "val", chunkSize: 16, dtype: "uint16", padToken: 1 });
 * await w.add(Array.from({ length: 10 }, (_, i) => i + 2));
 * await w.finish();
 * for (const block of iterateBlocks({ dir, weight: 1 }, { seqLen: 4 })) console.log(block);
 * // Int32Array [2, 3, 4, 5, 6], Int32Array [7, 8, 9, 10, 11], Int32Array [1, 1, 1, 1, 1]
 * ```
 */
export function* iterateBlocks(source: string | DataSpec, opts: IterateBlocksOptions): Generator<Int32Array> {
  const { dir, prefix } = typeof source === "string" ? { dir: source, prefix: undefined } : source;
  const src = new BlockSource(dir, opts.split ?? "val", opts.seqLen, prefix);
  if (opts.vocabSize !== undefined) src.limitIds(opts.vocabSize, "the model's vocab_size");
  try {
    const n = Math.min(src.blocks, opts.maxBlocks ?? Infinity);
    for (let i = 0; i < n; i++) {
      const block = new Int32Array(src.blockSize);
      src.readBlock(i, block, 0);
      yield block;
    }
  } finally {
    src.close();
  }
}

/**
 * {@link iterateBlocks} grouped into batches of up to `batchSize` rows (the last may be smaller).
 *
 * @example
 * ```ts
 * import { iterateBatches, ShardWriter } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * const w = new ShardWriter({ dir, prefix: "val", chunkSize: 16, dtype: "uint16", padToken: 1 });
 * await w.add(Array.from({ length: 16 }, (_, i) => i));
 * await w.finish();
 * for (const b of iterateBatches(dir, { seqLen: 4, batchSize: 2 })) console.log(b.batchSize); // 2, 1
 * ```
 */
export function* iterateBatches(
  source: string | DataSpec,
  opts: IterateBlocksOptions & { batchSize: number },
): Generator<Batch> {
  const t = opts.seqLen;
  let rows: Int32Array[] = [];
  const emit = (): Batch => {
    const inputs = new Int32Array(rows.length * t);
    const targets = new Int32Array(rows.length * t);
    rows.forEach((r, b) => {
      inputs.set(r.subarray(0, t), b * t);
      targets.set(r.subarray(1), b * t);
    });
    const batch = { inputs, targets, batchSize: rows.length, seqLen: t };
    rows = [];
    return batch;
  };
  for (const block of iterateBlocks(source, opts)) {
    rows.push(block);
    if (rows.length === opts.batchSize) yield emit();
  }
  if (rows.length > 0) yield emit();
}

/**
 * Opens and reads the blocks {@link iterateBlocks} would yield, checking everything on the way: the
 * shards' headers, that there is at least one block, and (with `vocabSize`) every id. Returns the number
 * of blocks read. A trainer calls this on its validation data before the first step, so that a bad
 * validation shard is found before hours of training rather than at the first evaluation.
 *
 * @example
 * ```ts
 * import { checkBlocks, ShardWriter } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * const w = new ShardWriter({ dir, prefix: "val", chunkSize: 16, dtype: "uint16", padToken: 1 });
 * await w.add(Array.from({ length: 16 }, (_, i) => i));
 * await w.finish();
 * console.log(checkBlocks(dir, { seqLen: 4, vocabSize: 32 })); // 3
 * ```
 */
export function checkBlocks(source: string | DataSpec, opts: IterateBlocksOptions): number {
  let n = 0;
  for (const _ of iterateBlocks(source, opts)) n++;
  return n;
}
