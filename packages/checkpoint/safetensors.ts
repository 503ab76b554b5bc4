/**
 * Safetensors files, read and written without pickle: an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`, then the raw tensor bytes.
 *
 * Reading opens the file, parses only the header and reads one tensor at a time with a seek, so a
 * 4 GB checkpoint never sits in memory whole. F32, BF16 and F16 tensors are read (as `Float32Array`)
 * and written; other dtypes are listed but reading one is an error. The header is validated as the
 * Rust `safetensors` crate does: offsets in bounds, sizes matching shapes, the data covered exactly.
 * A checkpoint directory holds `model.safetensors` or shards listed in `model.safetensors.index.json`.
 *
 * @example
 * ```ts
 * import { openSafetensors, writeSafetensors } from "./safetensors.ts";
 * const path = `${await Deno.makeTempDir()}/t.safetensors`;
 * await writeSafetensors(path, [{ name: "w", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]);
 * const st = await openSafetensors(path);
 * console.log(st.info("w").shape, await st.read("w")); // [2, 2] Float32Array [1, 2, 3, 4]
 * st.close();
 * ```
 * @module
 */
import { UserError, writeAtomicStream } from "@tinyllama-ts/cli";
import { bf16ToF32, f32ToBf16 } from "@tinyllama-ts/backend";

/** Element types this module reads and writes. */
export type FloatDType = "F32" | "BF16" | "F16";

/** Bytes per element of every dtype the format defines (for validating headers). */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** The header's limit in the reference implementation (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a file: where its bytes lie (absolute file offsets) and what they hold. */
export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** The file that holds it. */
  file: string;
  /** Absolute byte offsets `[begin, end)` in `file`. */
  begin: number;
  end: number;
}

/** An open safetensors file or sharded checkpoint. */
export interface SafetensorsReader {
  /** The `__metadata__` of the (first) file. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor names in file order. */
  names(): string[];
  has(name: string): boolean;
  /** Dtype, shape and location; a missing tensor is a {@link UserError}. */
  info(name: string): TensorInfo;
  /** The tensor converted to f32 (F32, BF16 or F16 only). */
  read(name: string): Promise<Float32Array>;
  /** The tensor's bytes as stored. */
  readRaw(name: string): Promise<Uint8Array>;
  close(): void;
}

/**
 * Opens a `.safetensors` file, or a checkpoint directory (`model.safetensors`, or the shards of
 * `model.safetensors.index.json`). Every header is read and validated now; tensors are read on demand.
 *
 * @example
 * ```ts
 * import { openSafetensors } from "./safetensors.ts";
 * const st = await openSafetensors("tests/fixtures/model/gqa_b_sharded");
 * console.log(st.names().length); // 21
 * st.close();
 * ```
 */
export async function openSafetensors(path: string): Promise<SafetensorsReader> {
  const stat = await statOrNull(path);
  if (stat === null) throw new UserError(`${path}: not found`);
  if (!stat.isDirectory) return await SafetensorsFile.open(path);
  const index = `${path}/model.safetensors.index.json`;
  if (await statOrNull(index)) return await ShardedReader.open(path, index);
  const single = `${path}/model.safetensors`;
  if (await statOrNull(single)) return await SafetensorsFile.open(single);
  throw new UserError(`${path}: no model.safetensors or model.safetensors.index.json`);
}

/** One safetensors file, its header parsed and validated, its tensors read one at a time. */
class SafetensorsFile implements SafetensorsReader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly #path: string;
  readonly #file: Deno.FsFile;
  readonly #tensors: Map<string, TensorInfo>;
  #queue: Promise<void> = Promise.resolve();

  private constructor(
    path: string,
    file: Deno.FsFile,
    meta: Record<string, string>,
    t: Map<string, TensorInfo>,
  ) {
    this.#path = path;
    this.#file = file;
    this.metadata = meta;
    this.#tensors = t;
  }

  static async open(path: string): Promise<SafetensorsFile> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new UserError(`${path}: not found`);
      throw new UserError(`${path}: cannot open (${(e as Error).message})`);
    }
    try {
      const { metadata, tensors } = await readHeader(path, file);
      return new SafetensorsFile(path, file, metadata, tensors);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.#tensors.keys()];
  }

  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.#tensors.get(name);
    if (!t) throw new UserError(`${this.#path}: no tensor "${name}"`);
    return t;
  }

  readRaw(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    // One file position: concurrent reads queue behind each other instead of interleaving seeks.
    const result = this.#queue.then(() =>
      readExactly(
        this.#file,
        t.begin,
        t.end - t.begin,
        `${this.#path}: truncated while reading tensor "${name}"`,
      )
    );
    this.#queue = result.then(() => {}, () => {});
    return result;
  }

  async read(name: string): Promise<Float32Array> {
    const t = this.info(name);
    if (t.dtype !== "F32" && t.dtype !== "BF16" && t.dtype !== "F16") {
      throw new UserError(
        `${this.#path}: tensor "${name}" has unsupported dtype ${t.dtype} (F32, BF16 or F16)`,
      );
    }
    return decode(await this.readRaw(name), t.dtype);
  }

  close(): void {
    this.#file.close();
  }
}

/** The shards of `model.safetensors.index.json` behind one reader. */
class ShardedReader implements SafetensorsReader {
  readonly #files: SafetensorsFile[];
  readonly #byName: Map<string, SafetensorsFile>;
  readonly #order: string[];

  private constructor(files: SafetensorsFile[], byName: Map<string, SafetensorsFile>, order: string[]) {
    this.#files = files;
    this.#byName = byName;
    this.#order = order;
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.#files[0]?.metadata ?? {};
  }

  static async open(dir: string, indexPath: string): Promise<ShardedReader> {
    let index: unknown;
    try {
      index = JSON.parse(await Deno.readTextFile(indexPath));
    } catch (e) {
      throw new UserError(`${indexPath}: not valid JSON (${(e as Error).message})`);
    }
    const map = (index as { weight_map?: unknown })?.weight_map;
    if (typeof map !== "object" || map === null || Array.isArray(map)) {
      throw new UserError(`${indexPath}: missing "weight_map" object`);
    }
    const shardNames = new Map<string, SafetensorsFile>();
    const files: SafetensorsFile[] = [];
    const byName = new Map<string, SafetensorsFile>();
    try {
      for (const [name, shard] of Object.entries(map)) {
        if (typeof shard !== "string" || shard.includes("/") || shard.includes("\\")) {
          throw new UserError(`${indexPath}: weight_map["${name}"] must be a file name in ${dir}`);
        }
        let f = shardNames.get(shard);
        if (!f) {
          f = await SafetensorsFile.open(`${dir}/${shard}`);
          shardNames.set(shard, f);
          files.push(f);
        }
        if (!f.has(name)) {
          throw new UserError(`${dir}/${shard}: no tensor "${name}" (listed in ${indexPath})`);
        }
        byName.set(name, f);
      }
      for (const [shard, f] of shardNames) {
        for (const name of f.names()) {
          if (byName.get(name) !== f) {
            throw new UserError(`${dir}/${shard}: tensor "${name}" is not in the weight_map of ${indexPath}`);
          }
        }
      }
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
    return new ShardedReader(files, byName, files.flatMap((f) => f.names()));
  }

  names(): string[] {
    return [...this.#order];
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  #shard(name: string): SafetensorsFile {
    const f = this.#byName.get(name);
    if (!f) throw new UserError(`no tensor "${name}" in the sharded checkpoint`);
    return f;
  }

  info(name: string): TensorInfo {
    return this.#shard(name).info(name);
  }

  read(name: string): Promise<Float32Array> {
    return this.#shard(name).read(name);
  }

  readRaw(name: string): Promise<Uint8Array> {
    return this.#shard(name).readRaw(name);
  }

  close(): void {
    for (const f of this.#files) f.close();
  }
}

async function readHeader(
  path: string,
  file: Deno.FsFile,
): Promise<{ metadata: Record<string, string>; tensors: Map<string, TensorInfo> }> {
  const size = (await file.stat()).size;
  if (size < 8) {
    throw new UserError(
      `${path}: not a safetensors file (${size} bytes, shorter than its 8-byte header length)`,
    );
  }
  const lenBytes = await readExactly(file, 0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
    throw new UserError(
      `${path}: not a safetensors file or truncated (header length ${headerLen}, file size ${size} bytes)`,
    );
  }
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(await readExactly(file, 8, headerLen));
    if (!text.startsWith("{")) throw new Error("does not start with '{'");
    header = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not a safetensors file (header is not JSON: ${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new UserError(`${path}: not a safetensors file (header is not a JSON object)`);
  }
  const dataStart = 8 + headerLen;
  const dataSize = size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        throw new UserError(`${path}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") throw new UserError(`${path}: __metadata__["${k}"] must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${path}: tensor "${name}"`;
    if (typeof entry !== "object" || entry === null) throw new UserError(`${where}: entry is not an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) {
      throw new UserError(`${where}: unknown dtype ${JSON.stringify(e.dtype)}`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new UserError(`${where}: shape must be an array of non-negative integers`);
    }
    const offs = e.data_offsets;
    if (
      !Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offs[0] > offs[1]
    ) {
      throw new UserError(`${where}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end`);
    }
    const shape = e.shape as number[];
    const need = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    if (offs[1] - offs[0] !== need) {
      throw new UserError(
        `${where}: data_offsets span ${
          offs[1] - offs[0]
        } bytes, shape [${shape}] of ${e.dtype} needs ${need}`,
      );
    }
    if (offs[1] > dataSize) {
      throw new UserError(
        `${path}: truncated (tensor "${name}" ends at data byte ${offs[1]}, the file holds ${dataSize})`,
      );
    }
    tensors.set(name, {
      name,
      dtype: e.dtype,
      shape: [...shape],
      file: path,
      begin: dataStart + offs[0],
      end: dataStart + offs[1],
    });
  }
  // The data must be covered exactly, tensor after tensor, as the reference implementation demands.
  const spans = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  for (const t of spans) {
    if (t.begin !== at) {
      throw new UserError(
        `${path}: tensor "${t.name}" ${
          t.begin < at ? "overlaps the one before it" : "leaves a gap before it"
        }`,
      );
    }
    at = t.end;
  }
  if (at !== size) throw new UserError(`${path}: ${size - at} bytes after the last tensor`);
  return { metadata, tensors };
}

/** `n` bytes at `offset`; a {@link UserError} with `eofMessage` if the file ends first. */
async function readExactly(
  file: Deno.FsFile,
  offset: number,
  n: number,
  eofMessage = "unexpected end of file",
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  await file.seek(offset, Deno.SeekMode.Start);
  let off = 0;
  while (off < n) {
    const r = await file.read(out.subarray(off));
    if (r === null) throw new UserError(eofMessage);
    off += r;
  }
  return out;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new UserError(`${path}: ${(e as Error).message}`);
  }
}

// ---- element conversions (little-endian storage; every supported host is little-endian) ----

/**
 * Stored bytes of `dtype` to f32.
 *
 * @example
 * ```ts
 * import { decode } from "./safetensors.ts";
 * console.log(decode(new Uint8Array([0x80, 0x3f, 0, 0xc0]), "BF16")); // Float32Array [1, -2]
 * ```
 */
export function decode(bytes: Uint8Array, dtype: FloatDType): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (dtype === "F32") {
    return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4).slice();
  }
  const h = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  const out = new Float32Array(h.length);
  if (dtype === "F16") out.set(new Float16Array(aligned.buffer, aligned.byteOffset, h.length));
  else bf16ToF32(h, out);
  return out;
}

/**
 * f32 values to stored bytes of `dtype`, rounding to nearest-even as PyTorch's `.to(dtype)` does
 * (NaN becomes the quiet NaN 0x7fc0 / 0x7e00, overflow goes to infinity).
 *
 * @example
 * ```ts
 * import { encode } from "./safetensors.ts";
 * console.log(encode(new Float32Array([1, -2]), "BF16")); // Uint8Array [0x80, 0x3f, 0, 0xc0]
 * ```
 */
export function encode(values: Float32Array, dtype: FloatDType): Uint8Array {
  if (dtype === "F32") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  if (dtype === "F16") return new Uint8Array(Float16Array.from(values).buffer);
  return new Uint8Array(f32ToBf16(values).buffer);
}

// ---- writing ----

/** A tensor to write: its data, or a function that produces it when its turn comes (one at a time). */
export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array | (() => Promise<Float32Array>);
}

/** Options of {@link writeSafetensors}. */
export interface WriteOptions {
  /** Stored dtype (default F32). */
  dtype?: FloatDType;
  /** `__metadata__` (default `{format: "pt"}`, which transformers expects). */
  metadata?: Record<string, string>;
}

/**
 * Writes one safetensors file atomically (a temporary file, fsynced, renamed over `path`), tensors
 * in name order as the Python `safetensors` package orders them, header padded to 8 bytes. The
 * output is a function of the tensors alone: the same tensors give the same bytes.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors.ts";
 * const path = `${await Deno.makeTempDir()}/x.safetensors`;
 * await writeSafetensors(path, [{ name: "x", shape: [3], data: new Float32Array([1, 2, 3]) }], { dtype: "BF16" });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  opts: WriteOptions = {},
): Promise<void> {
  const dtype = opts.dtype ?? "F32";
  const width = DTYPE_BYTES[dtype];
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: opts.metadata ?? { format: "pt" } };
  let off = 0;
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i];
    if (i > 0 && sorted[i - 1].name === t.name) throw new UserError(`${path}: duplicate tensor "${t.name}"`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * width;
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);

  await writeAtomicStream(path, async (write) => {
    await write(prefix);
    await write(headerBytes);
    for (const t of sorted) {
      const data = typeof t.data === "function" ? await t.data() : t.data;
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (data.length !== numel) {
        throw new UserError(
          `${path}: tensor "${t.name}" has ${data.length} values, shape [${t.shape}] needs ${numel}`,
        );
      }
      await write(encode(data, dtype));
    }
  });
}

/** Options of {@link writeSafetensorsCheckpoint}. */
export interface CheckpointWriteOptions extends WriteOptions {
  /** Largest shard in bytes before splitting into `model-0000i-of-0000n.safetensors` (default 5 GB). */
  maxShardBytes?: number;
}

/**
 * Writes a checkpoint's tensors into `dir`: `model.safetensors`, or, past `maxShardBytes`, shards and a
 * `model.safetensors.index.json` (written last, so a complete index means complete shards). Tensors
 * go to shards in the given order, a new shard starting when the next tensor would overflow the limit,
 * as transformers' `save_pretrained` splits them. Weight files of an earlier save that the new one did
 * not write are removed afterwards. Returns the file names written.
 *
 * @example
 * ```ts
 * import { writeSafetensorsCheckpoint } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const t = (name: string) => ({ name, shape: [4], data: new Float32Array(4) });
 * console.log(await writeSafetensorsCheckpoint(dir, [t("a"), t("b")], { maxShardBytes: 16 }));
 * // ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"]
 * ```
 */
export async function writeSafetensorsCheckpoint(
  dir: string,
  tensors: readonly TensorToWrite[],
  opts: CheckpointWriteOptions = {},
): Promise<string[]> {
  const width = DTYPE_BYTES[opts.dtype ?? "F32"];
  const limit = opts.maxShardBytes ?? 5_000_000_000;
  const shards: TensorToWrite[][] = [[]];
  let shardBytes = 0, total = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * width;
    if (shardBytes > 0 && shardBytes + bytes > limit) {
      shards.push([]);
      shardBytes = 0;
    }
    shards[shards.length - 1].push(t);
    shardBytes += bytes;
    total += bytes;
  }
  await Deno.mkdir(dir, { recursive: true });
  if (shards.length === 1) {
    await writeSafetensors(`${dir}/model.safetensors`, tensors, opts);
    await removeStale(dir, ["model.safetensors"]);
    return ["model.safetensors"];
  }
  const pad = (i: number) => String(i).padStart(5, "0");
  const names = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    await writeSafetensors(`${dir}/${names[i]}`, shards[i], opts);
    for (const t of shards[i]) weightMap[t.name] = names[i];
  }
  const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
  const index = JSON.stringify({ metadata: { total_size: total }, weight_map: sortedMap }, null, 2) + "\n";
  await writeAtomicStream(`${dir}/model.safetensors.index.json`, (w) => w(new TextEncoder().encode(index)));
  await removeStale(dir, [...names, "model.safetensors.index.json"]);
  return [...names, "model.safetensors.index.json"];
}

/**
 * Removes weight files of an earlier save into `dir` that the new one did not write (a stale index
 * would otherwise win over a new `model.safetensors`). Runs after the new files are complete, so the
 * directory always holds one whole checkpoint.
 */
async function removeStale(dir: string, keep: readonly string[]): Promise<void> {
  const weightFile = /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/;
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && weightFile.test(e.name) && !keep.includes(e.name)) await Deno.remove(`${dir}/${e.name}`);
  }
}
