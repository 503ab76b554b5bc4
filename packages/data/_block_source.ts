import { UserError } from "@tinyllama-ts/cli";
import { readManifest, shardPathsOf, type Split } from "./manifest.ts";
import { ShardReader } from "./shard_reader.ts";

// One split of one directory, cut into blocks of `seqLen + 1` tokens. The split's shards are read as one
// contiguous stream, so blocks may cross shard boundaries and no tokens are skipped except the final
// remainder shorter than a block (lit-gpt instead cuts each chunk separately and skips each chunk's tail).
export class BlockSource {
  readonly dir: string;
  readonly prefix: string | undefined;
  readonly blockSize: number;
  readonly blocks: number;
  /** Tokens in the stream, without the manifest's padding. */
  readonly tokens: number;
  readonly reader: ShardReader;
  /** From the manifest; undefined for a directory without one. */
  readonly vocabSize: number | undefined;
  readonly tokenizerSha256: string | undefined;
  /** Ids must be below this (the manifest's vocabulary, or a model's when {@link limitIds} lowered it). */
  #idLimit: number | undefined;
  #idLimitWhat = "the vocabulary";

  constructor(dir: string, split: Split, seqLen: number, prefix?: string) {
    if (!Number.isSafeInteger(seqLen) || seqLen <= 0) {
      throw new UserError(`seqLen must be a positive integer`);
    }
    this.dir = dir;
    this.prefix = prefix;
    this.blockSize = seqLen + 1;
    const manifest = prefix === undefined ? readManifest(dir) : undefined;
    this.vocabSize = manifest?.tokenizer.vocabSize;
    this.#idLimit = this.vocabSize;
    this.tokenizerSha256 = manifest?.tokenizer.sha256;
    const paths = shardPathsOf(dir, split, prefix, manifest);
    const what = prefix === undefined ? `${split} shards` : `shards named ${prefix}*.bin`;
    if (paths.length === 0) {
      throw new UserError(
        `${dir}: no ${what}${
          split === "val" && prefix === undefined ? " (prepare with --val-fraction)" : ""
        }`,
      );
    }
    this.reader = ShardReader.open(paths);
    // The manifest says how much BOS padding ends the split; it is left out of the blocks.
    const padding = manifest?.splits[split].paddingTokens ?? 0;
    this.tokens = this.reader.totalTokens - (padding >= 0 && padding < this.reader.totalTokens ? padding : 0);
    this.blocks = Math.floor(this.tokens / this.blockSize);
    if (this.blocks === 0) {
      throw new UserError(
        `${dir}: ${this.tokens} ${split} tokens are fewer than one block of ${this.blockSize}`,
      );
    }
  }

  /** Also requires every id read to be below `limit` (a model's vocabulary, named `what` in errors). */
  limitIds(limit: number, what: string): void {
    if (this.#idLimit === undefined || limit < this.#idLimit) {
      this.#idLimit = limit;
      this.#idLimitWhat = what;
    }
  }

  /** Reads block `index` (tokens `[index·blockSize, (index+1)·blockSize)`) into `out` at `offset`. */
  readBlock(index: number, out: Int32Array, offset: number): void {
    this.reader.read(index * this.blockSize, this.blockSize, out, offset);
    const vocab = this.#idLimit;
    if (vocab !== undefined) {
      for (let i = offset; i < offset + this.blockSize; i++) {
        const t = out[i];
        if (t < 0 || t >= vocab) {
          throw new UserError(
            `${this.dir}: token ${t} in block ${index} is outside ${this.#idLimitWhat} (${vocab})`,
          );
        }
      }
    }
  }

  close(): void {
    this.reader.close();
  }
}
