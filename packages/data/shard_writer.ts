import { writeFileAtomic } from "@tinyllama-ts/cli";
import { encodeShardHeader, encodeTokens, SHARD_HEADER_BYTES } from "./shard_format.ts";

/** Options of a {@link ShardWriter}. */
export interface ShardWriterOptions {
  /** Directory the shards go to (must exist). */
  dir: string;
  /** File name prefix: shards are `${prefix}_0000000000.bin`, `${prefix}_0000000001.bin`, ... */
  prefix: string;
  /** Tokens per shard (TinyLlama: 2049 × 1024). */
  chunkSize: number;
  /** Element type; lit-gpt's `auto` is uint16 below a vocabulary of 65500. */
  dtype: "uint16" | "int32";
  /** The token that fills the rest of the last shard (TinyLlama's `sep_token`, the BOS id). */
  padToken: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Packs token sequences back to back into fixed-size shards as lit-gpt's `PackedDatasetBuilder` does:
 * a sequence that does not fit continues in the next shard. Unlike TinyLlama's prepare scripts, which
 * never call `write_reminder` and so drop the last partial chunk, {@link ShardWriter.finish} writes it,
 * padded with `padToken`. Each shard is written atomically (temporary name, fsync, rename).
 *
 * @example
 * ```ts
 * import { ShardWriter } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * const w = new ShardWriter({ dir, prefix: "train", chunkSize: 4, dtype: "uint16", padToken: 1 });
 * await w.add([5, 6, 2]);
 * await w.add([7, 8, 9, 2]);
 * console.log(await w.finish()); // ["train_0000000000.bin", "train_0000000001.bin"]
 * ```
 */
export class ShardWriter {
  readonly #opts: ShardWriterOptions;
  /** The shard file being filled: header, then tokens (grown as they arrive, up to the chunk size). */
  #bytes = new Uint8Array(0);
  #buf: Uint16Array | Int32Array = new Uint16Array(0);
  #fill = 0;
  #files: string[] = [];
  #tokens = 0;
  #padding = 0;
  #finished = false;

  constructor(opts: ShardWriterOptions) {
    if (!Number.isSafeInteger(opts.chunkSize) || opts.chunkSize <= 0) {
      throw new RangeError(`chunk size must be a positive integer, got ${opts.chunkSize}`);
    }
    this.#opts = opts;
  }

  /**
   * Room for at least `tokens` tokens in the current shard (never more than the chunk size): memory grows
   * with the data, so a large chunk size costs nothing until the data fills it.
   */
  #reserve(tokens: number): void {
    if (tokens <= this.#buf.length) return;
    const chunk = this.#opts.chunkSize;
    const n = Math.min(chunk, Math.max(tokens, 2 * this.#buf.length, 1 << 16));
    const width = this.#opts.dtype === "uint16" ? 2 : 4;
    const bytes = new Uint8Array(SHARD_HEADER_BYTES + n * width);
    bytes.set(this.#bytes.subarray(0, SHARD_HEADER_BYTES + this.#fill * width));
    this.#bytes = bytes;
    // The header is 24 bytes, a multiple of both widths: the tokens are an aligned view after it.
    this.#buf = this.#opts.dtype === "uint16"
      ? new Uint16Array(bytes.buffer, SHARD_HEADER_BYTES, n)
      : new Int32Array(bytes.buffer, SHARD_HEADER_BYTES, n);
  }

  /** Tokens added so far (without padding). */
  get tokens(): number {
    return this.#tokens;
  }

  /** Padding tokens written by {@link ShardWriter.finish}. */
  get paddingTokens(): number {
    return this.#padding;
  }

  /** Shard file names written so far, relative to the directory. */
  get files(): readonly string[] {
    return this.#files;
  }

  /** Appends a sequence; full shards are written as they fill. */
  async add(tokens: ArrayLike<number>): Promise<void> {
    if (this.#finished) throw new Error("ShardWriter.add after finish");
    const max = this.#opts.dtype === "uint16" ? 65535 : 2147483647;
    let i = 0;
    while (i < tokens.length) {
      this.#reserve(Math.min(this.#opts.chunkSize, this.#fill + tokens.length - i));
      const n = Math.min(tokens.length - i, this.#buf.length - this.#fill);
      for (let j = 0; j < n; j++) {
        const t = tokens[i + j];
        if (!(t >= 0 && t <= max) || !Number.isInteger(t)) {
          throw new RangeError(`token ${t} does not fit ${this.#opts.dtype}`);
        }
        this.#buf[this.#fill + j] = t;
      }
      this.#fill += n;
      i += n;
      if (this.#fill === this.#opts.chunkSize) await this.#flush();
    }
    this.#tokens += tokens.length;
  }

  /** Writes the last partial shard padded with `padToken` (nothing if it is empty); returns all files. */
  async finish(): Promise<string[]> {
    if (!this.#finished) {
      this.#finished = true;
      if (this.#fill > 0) {
        this.#reserve(this.#opts.chunkSize);
        this.#padding = this.#buf.length - this.#fill;
        this.#buf.fill(this.#opts.padToken, this.#fill);
        this.#fill = this.#buf.length;
        await this.#flush();
      }
    }
    return [...this.#files];
  }

  async #flush(): Promise<void> {
    const name = `${this.#opts.prefix}_${this.#files.length.toString().padStart(10, "0")}.bin`;
    const bytes = this.#bytes;
    bytes.set(encodeShardHeader({ dtype: this.#opts.dtype, chunkSize: this.#opts.chunkSize }), 0);
    if (!LITTLE_ENDIAN) bytes.set(encodeTokens(this.#buf, this.#opts.dtype), SHARD_HEADER_BYTES);
    await writeFileAtomic(`${this.#opts.dir}/${name}`, bytes);
    this.#files.push(name);
    this.#fill = 0;
  }
}
