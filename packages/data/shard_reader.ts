import { oneLine, UserError } from "@tinyllama-ts/cli";
import {
  decodeTokens,
  dtypeBytes,
  parseShardHeader,
  SHARD_HEADER_BYTES,
  type TokenDtype,
} from "./shard_format.ts";

/**
 * Reads a list of shards as one contiguous token stream (shard after shard, in the order given). Every
 * header is checked when opening: magic, version, dtype, and that the file size fits the chunk size.
 * Reads are positioned file reads, so a corpus larger than memory costs only the blocks read; at most
 * `maxOpenFiles` shards are kept open at a time.
 *
 * @example
 * ```ts
 * import { ShardReader, ShardWriter } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * const w = new ShardWriter({ dir, prefix: "train", chunkSize: 4, dtype: "uint16", padToken: 1 });
 * await w.add([5, 6, 7, 8, 9]);
 * const files = (await w.finish()).map((f) => `${dir}/${f}`);
 * const r = ShardReader.open(files);
 * const out = new Int32Array(3);
 * r.read(3, 3, out); // spans both shards
 * console.log(out); // Int32Array [8, 9, 1]
 * r.close();
 * ```
 */
export class ShardReader {
  /** The shard paths, in stream order. */
  readonly paths: readonly string[];
  /** The element type (the same in every shard). */
  readonly dtype: TokenDtype;
  /** Tokens in all shards together, padding included. */
  readonly totalTokens: number;
  /** Tokens in each shard. */
  readonly chunkSizes: readonly number[];
  readonly #starts: number[];
  readonly #open = new Map<number, Deno.FsFile>();
  readonly #maxOpen: number;
  #scratch = new Uint8Array(0);

  private constructor(paths: string[], dtype: TokenDtype, sizes: number[], maxOpen: number) {
    this.paths = paths;
    this.dtype = dtype;
    this.chunkSizes = sizes;
    this.#starts = [];
    let total = 0;
    for (const s of sizes) {
      this.#starts.push(total);
      total += s;
    }
    this.totalTokens = total;
    this.#maxOpen = maxOpen;
  }

  /** Opens and checks the shards; a bad one is a {@link UserError} naming it. */
  static open(paths: readonly string[], opts: { maxOpenFiles?: number } = {}): ShardReader {
    if (paths.length === 0) throw new Error("ShardReader.open: no shards");
    let dtype: TokenDtype | undefined;
    const sizes: number[] = [];
    for (const path of paths) {
      const header = readHeader(path);
      if (dtype !== undefined && header.dtype !== dtype) {
        throw new UserError(`${path}: dtype ${header.dtype} differs from ${dtype} in ${paths[0]}`);
      }
      dtype = header.dtype;
      sizes.push(header.chunkSize);
    }
    return new ShardReader([...paths], dtype!, sizes, Math.max(1, opts.maxOpenFiles ?? 64));
  }

  /** Copies tokens `[start, start + count)` of the stream into `out` from `outOffset` on. */
  read(start: number, count: number, out: Int32Array, outOffset = 0): void {
    if (start < 0 || count < 0 || start + count > this.totalTokens) {
      throw new RangeError(`read [${start}, ${start + count}) outside [0, ${this.totalTokens})`);
    }
    const width = dtypeBytes(this.dtype);
    let shard = this.#shardOf(start);
    let pos = start;
    let done = 0;
    while (done < count) {
      const inShard = pos - this.#starts[shard];
      const n = Math.min(count - done, this.chunkSizes[shard] - inShard);
      const bytes = this.#readBytes(shard, SHARD_HEADER_BYTES + inShard * width, n * width);
      decodeTokens(bytes, this.dtype, out, outOffset + done, this.paths[shard]);
      done += n;
      pos += n;
      shard++;
    }
  }

  /** Closes the open files. */
  close(): void {
    for (const f of this.#open.values()) f.close();
    this.#open.clear();
  }

  #shardOf(pos: number): number {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  #readBytes(shard: number, offset: number, length: number): Uint8Array {
    let file = this.#open.get(shard);
    if (file === undefined) {
      if (this.#open.size >= this.#maxOpen) {
        const [oldest, f] = this.#open.entries().next().value!;
        f.close();
        this.#open.delete(oldest);
      }
      file = Deno.openSync(this.paths[shard], { read: true });
    } else {
      this.#open.delete(shard); // re-inserted below: Map order is least recently used first
    }
    this.#open.set(shard, file);
    if (this.#scratch.length < length) {
      this.#scratch = new Uint8Array(Math.max(length, 2 * this.#scratch.length));
    }
    const buf = this.#scratch.subarray(0, length);
    file.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const n = file.readSync(buf.subarray(got));
      if (n === null || n === 0) throw new UserError(`${this.paths[shard]}: file shrank while reading`);
      got += n;
    }
    return buf;
  }
}

function readHeader(path: string) {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new UserError(`${path}: cannot open shard (${oneLine(e)})`);
  }
  try {
    const size = file.statSync().size;
    const head = new Uint8Array(Math.min(SHARD_HEADER_BYTES, size));
    let got = 0;
    while (got < head.length) {
      const n = file.readSync(head.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    return parseShardHeader(head.subarray(0, got), path, size);
  } finally {
    file.close();
  }
}
