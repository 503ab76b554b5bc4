import { UserError } from "@tinyllama-ts/cli";
import { BlockSource } from "./_block_source.ts";
import { FeistelPermutation, hashInts, uniform } from "@tinyllama-ts/random";
import { type DataSpec, normalizeWeights } from "./data_spec.ts";
import type { Split } from "./manifest.ts";

/** A batch of training rows, row-major `[batchSize, seqLen]`; `targets` are `inputs` shifted by one. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  batchSize: number;
  seqLen: number;
}

/**
 * Everything a {@link MixtureSampler} needs to continue exactly where it was: small and
 * JSON-serialisable, meant to be saved with each checkpoint. Randomness is counter-based (a pure
 * function of seed and counters), so there is no generator state to save and nothing to replay.
 */
export interface SamplerState {
  version: 1;
  seed: number;
  seqLen: number;
  split: Split;
  /** Rows drawn so far (the mixture's random counter). */
  draws: number;
  /** Per source: which directory, how many blocks it had, and where its shuffled order stands. */
  sources: { dir: string; prefix?: string; blocks: number; epoch: number; cursor: number }[];
}

/** Options of {@link openDataset}. */
export interface OpenDatasetOptions {
  /** Tokens per training row; a block read from disk is `seqLen + 1` tokens. */
  seqLen: number;
  /** Seeds the mixture draws and each source's per-epoch shuffle. */
  seed: number;
  /** Which shards to read (default `train`). */
  split?: Split;
  /** Continue from a saved state instead of the beginning. */
  state?: SamplerState;
  /** Every id read must be below this (the model's `vocab_size`), besides the manifest's vocabulary. */
  vocabSize?: number;
}

/** What the sampler knows about one of its sources. */
export interface SourceInfo {
  dir: string;
  prefix?: string;
  /** Normalised weight. */
  weight: number;
  /** Blocks of `seqLen + 1` tokens in one epoch. */
  blocks: number;
  /** Tokens in the split's shards (without the padding a manifest records). */
  tokens: number;
}

const MIXTURE_STREAM = 0x6d6978; // distinguishes the mixture's draws from the sources' shuffles

/**
 * Draws training rows from a weighted mixture of prepared directories, as TinyLlama's
 * `CombinedDataset` does (each row picks a source at random by weight), with two differences: each
 * source is a seeded shuffle of all its blocks that is reshuffled every epoch (its own epochs, so a small
 * source repeats while a large one is still in its first pass), and the whole state is
 * {@link MixtureSampler.state}, which resumes exactly without replaying data.
 *
 * @example
 * ```ts
 * import { openDataset, ShardWriter } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * const w = new ShardWriter({ dir, prefix: "train", chunkSize: 64, dtype: "uint16", padToken: 1 });
 * await w.add(Array.from({ length: 100 }, (_, i) => i + 3));
 * await w.finish();
 * const sampler = openDataset([{ dir, weight: 1 }], { seqLen: 8, seed: 1 });
 * const saved = sampler.state();
 * const a = sampler.nextBatch(2);
 * const again = openDataset([{ dir, weight: 1 }], { seqLen: 8, seed: 1, state: saved });
 * console.log(again.nextBatch(2).inputs.join() === a.inputs.join()); // true
 * ```
 */
export class MixtureSampler {
  readonly seqLen: number;
  readonly split: Split;
  readonly #sources: BlockSource[];
  readonly #weights: number[];
  readonly #cumulative: number[];
  #seed: number;
  #draws = 0;
  #epochs: number[];
  #cursors: number[];
  #perms: (FeistelPermutation | undefined)[];

  /** Use {@link openDataset}. */
  constructor(sources: BlockSource[], weights: number[], opts: OpenDatasetOptions) {
    this.seqLen = opts.seqLen;
    this.split = opts.split ?? "train";
    this.#sources = sources;
    this.#weights = normalizeWeights(weights);
    this.#cumulative = [];
    let acc = 0;
    for (const w of this.#weights) this.#cumulative.push(acc += w);
    this.#seed = checkSeed(opts.seed);
    this.#epochs = sources.map(() => 0);
    this.#cursors = sources.map(() => 0);
    this.#perms = sources.map(() => undefined);
    if (opts.state !== undefined) this.restore(opts.state);
  }

  /** The sources, in the order given. */
  get sources(): SourceInfo[] {
    return this.#sources.map((s, i) => ({
      dir: s.dir,
      ...(s.prefix === undefined ? {} : { prefix: s.prefix }),
      weight: this.#weights[i],
      blocks: s.blocks,
      tokens: s.tokens,
    }));
  }

  /** The vocabulary size recorded in the sources' manifests (undefined if none has one). */
  get vocabSize(): number | undefined {
    return this.#sources.find((s) => s.vocabSize !== undefined)?.vocabSize;
  }

  /** Draws one block of `seqLen + 1` tokens into `out` (a new array by default). */
  nextBlock(out: Int32Array = new Int32Array(this.seqLen + 1), offset = 0): Int32Array {
    const u = uniform(this.#seed, MIXTURE_STREAM, this.#draws);
    let k = 0;
    while (k < this.#cumulative.length - 1 && u >= this.#cumulative[k]) k++;
    const src = this.#sources[k];
    let perm = this.#perms[k];
    if (perm === undefined) {
      perm = new FeistelPermutation(src.blocks, hashInts(this.#seed, k, this.#epochs[k]));
      this.#perms[k] = perm;
    }
    src.readBlock(perm.at(this.#cursors[k]), out, offset);
    // Advance only after a successful read, so a failed read leaves the state unchanged.
    this.#draws++;
    if (++this.#cursors[k] === src.blocks) {
      this.#cursors[k] = 0;
      this.#epochs[k]++;
      this.#perms[k] = undefined;
    }
    return out;
  }

  /** Draws `batchSize` rows: `inputs` are each block's first `seqLen` tokens, `targets` its last `seqLen`. */
  nextBatch(batchSize: number): Batch {
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
      throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    }
    const t = this.seqLen;
    const block = new Int32Array(t + 1);
    const inputs = new Int32Array(batchSize * t);
    const targets = new Int32Array(batchSize * t);
    for (let b = 0; b < batchSize; b++) {
      this.nextBlock(block);
      inputs.set(block.subarray(0, t), b * t);
      targets.set(block.subarray(1), b * t);
    }
    return { inputs, targets, batchSize, seqLen: t };
  }

  /** The sampler's whole state; pass it as `openDataset(..., { state })` to continue exactly here. */
  state(): SamplerState {
    return {
      version: 1,
      seed: this.#seed,
      seqLen: this.seqLen,
      split: this.split,
      draws: this.#draws,
      sources: this.#sources.map((s, i) => ({
        dir: s.dir,
        ...(s.prefix === undefined ? {} : { prefix: s.prefix }),
        blocks: s.blocks,
        epoch: this.#epochs[i],
        cursor: this.#cursors[i],
      })),
    };
  }

  /**
   * Continues from `state`. The sources must be the same directories, in the same order, with the same
   * number of blocks (else a {@link UserError} says which differs); weights may differ, and the state's
   * seed replaces the one given when opening.
   */
  restore(state: SamplerState): void {
    const bad = (why: string) => new UserError(`cannot resume the data sampler: ${why}`);
    if (state?.version !== 1 || !Array.isArray(state.sources)) throw bad("not a version 1 sampler state");
    if (state.seqLen !== this.seqLen) throw bad(`seqLen is ${this.seqLen}, the state has ${state.seqLen}`);
    if (state.split !== this.split) throw bad(`split is ${this.split}, the state has ${state.split}`);
    if (state.sources.length !== this.#sources.length) {
      throw bad(`${this.#sources.length} data sources given, the state has ${state.sources.length}`);
    }
    if (!isCount(state.draws)) throw bad(`invalid draws ${state.draws}`);
    const seed = checkSeed(state.seed);
    state.sources.forEach((s, i) => {
      const src = this.#sources[i];
      if (s.dir !== src.dir || (s.prefix ?? undefined) !== src.prefix) {
        throw bad(`source ${i + 1} is ${src.dir}, the state has ${s.dir}`);
      }
      if (s.blocks !== src.blocks) {
        throw bad(`${src.dir} now has ${src.blocks} blocks, the state ${s.blocks}`);
      }
      if (!isCount(s.epoch) || !isCount(s.cursor) || s.cursor >= src.blocks) {
        throw bad(`invalid position (epoch ${s.epoch}, cursor ${s.cursor}) for ${src.dir}`);
      }
    });
    this.#seed = seed;
    this.#draws = state.draws;
    this.#epochs = state.sources.map((s) => s.epoch);
    this.#cursors = state.sources.map((s) => s.cursor);
    this.#perms = this.#sources.map(() => undefined);
  }

  /** Closes the shard files. */
  close(): void {
    for (const s of this.#sources) s.close();
  }
}

/**
 * Opens a mixture of prepared directories for training (see {@link MixtureSampler}). TinyLlama's mixture
 * is `[{ dir: "slimpajama", weight: 0.693584 }, { dir: "starcoder", weight: 0.306416 }]`. Sources whose
 * manifests name different tokenizers are refused.
 *
 * @example
 * ```ts
 * import { openDataset, ShardWriter } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * const w = new ShardWriter({ dir, prefix: "train", chunkSize: 32, dtype: "uint16", padToken: 1 });
 * await w.add(Array.from({ length: 40 }, (_, i) => i));
 * await w.finish();
 * const sampler = openDataset([{ dir, weight: 0.7 }, { dir, weight: 0.3 }], { seqLen: 4, seed: 0 });
 * const { inputs, targets } = sampler.nextBatch(2); // each [2, 4]
 * console.log(inputs.length, targets.length); // 8 8
 * ```
 */
export function openDataset(specs: readonly DataSpec[], opts: OpenDatasetOptions): MixtureSampler {
  if (specs.length === 0) throw new UserError("no data sources given (--data DIR[:WEIGHT])");
  const weights = normalizeWeights(specs.map((s) => s.weight));
  const sources: BlockSource[] = [];
  try {
    for (const spec of specs) {
      const src = new BlockSource(spec.dir, opts.split ?? "train", opts.seqLen, spec.prefix);
      sources.push(src);
      if (opts.vocabSize !== undefined) src.limitIds(opts.vocabSize, "the model's vocab_size");
    }
    const shas = new Set(sources.map((s) => s.tokenizerSha256).filter((s) => s !== undefined));
    if (shas.size > 1) {
      throw new UserError(
        `data sources were prepared with different tokenizers: ${specs.map((s) => s.dir).join(", ")}`,
      );
    }
    return new MixtureSampler(sources, weights, opts);
  } catch (e) {
    for (const s of sources) s.close();
    throw e;
  }
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function checkSeed(seed: unknown): number {
  if (!isCount(seed)) throw new UserError(`seed must be a non-negative integer, got ${seed}`);
  return seed;
}
