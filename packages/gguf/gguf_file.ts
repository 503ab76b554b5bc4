/**
 * GGUF files (llama.cpp's model format), read and written as a container: the header (magic `GGUF`,
 * version, counts), typed metadata key/values, tensor infos, then the tensor data, each tensor at an
 * offset aligned to `general.alignment` (32 by default). Dimensions are stored innermost first
 * (ggml's `ne`), so an `[out, in]` matrix of PyTorch is `[in, out]` here. Nothing here knows about
 * models; `gguf.ts` maps a Llama onto this.
 *
 * Reading parses the header and keeps the file open; tensors are read one at a time with a seek and
 * dequantized to f32 on request ({@link dequantize}). Versions 2 and 3 are read, version 3 is written.
 * Every problem (not GGUF, big-endian, truncated, unknown value or tensor type, tensor data out of
 * bounds) is a one-line {@link UserError} naming the file.
 *
 * @example
 * ```ts
 * import { GgmlType, openGguf, writeGguf } from "./gguf_file.ts";
 * const path = `${await Deno.makeTempDir()}/t.gguf`;
 * await writeGguf(path, [["general.architecture", { type: "string", value: "llama" }]], [
 *   { name: "w", dims: [2, 2], type: GgmlType.F32, data: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer) },
 * ]);
 * const file = await openGguf(path);
 * console.log(file.string("general.architecture"), await file.read("w")); // llama Float32Array [1, 2, 3, 4]
 * file.close();
 * ```
 * @module
 */
import { UserError, writeAtomicStream } from "@tinyllama-ts/cli";
import { dequantize, ggmlTypeName, tensorBytes } from "./gguf_quants.ts";

export { GgmlType } from "./gguf_quants.ts";

/** Metadata value types, numbered as in the GGUF specification. */
const VALUE_TYPE = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** A scalar metadata type's name. */
export type GgufScalarType = Exclude<keyof typeof VALUE_TYPE, "array">;

/** A scalar metadata value (64-bit integers beyond 2^53 are bigints). */
export type GgufScalar = number | bigint | boolean | string;

/** A typed metadata value: a scalar, or an array of scalars of one type. */
export type GgufValue =
  | { type: GgufScalarType; value: GgufScalar }
  | { type: "array"; itemType: GgufScalarType; value: GgufScalar[] };

const TYPE_NAME: Record<number, keyof typeof VALUE_TYPE> = Object.fromEntries(
  Object.entries(VALUE_TYPE).map(([k, v]) => [v, k as keyof typeof VALUE_TYPE]),
);

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const DEFAULT_ALIGNMENT = 32;

/** One tensor of an open GGUF file. */
export interface GgufTensorInfo {
  name: string;
  /** Dimensions innermost first (ggml's `ne`): `[in, out]` for a PyTorch `[out, in]` matrix. */
  dims: number[];
  /** A {@link GgmlType} value. */
  type: number;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  /** Stored bytes. */
  bytes: number;
}

/** An open GGUF file: metadata and tensor infos parsed, data read on demand. */
export interface GgufFile {
  readonly path: string;
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  /** The tensor called `name`, or undefined. */
  tensor(name: string): GgufTensorInfo | undefined;
  /** A scalar string value; a missing key is undefined, another type is a {@link UserError}. */
  string(key: string): string | undefined;
  /** A scalar numeric value (any integer or float type), or undefined. */
  number(key: string): number | undefined;
  /** A scalar bool value, or undefined. */
  bool(key: string): boolean | undefined;
  /** An array value's items, or undefined. */
  array(key: string): GgufScalar[] | undefined;
  /** The tensor's bytes as stored. */
  readRaw(name: string): Promise<Uint8Array>;
  /** The tensor dequantized to f32, in storage order (row-major over the reversed `dims`). */
  read(name: string): Promise<Float32Array>;
  close(): void;
}

class NeedMore extends Error {}

/** Little-endian reads over a prefix of the file; running off its end throws {@link NeedMore}. */
class Cursor {
  pos = 0;
  private view: DataView;
  private utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  constructor(private bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private take(n: number): number {
    if (this.pos + n > this.bytes.length) throw new NeedMore();
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8 = () => this.view.getUint8(this.take(1));
  i8 = () => this.view.getInt8(this.take(1));
  u16 = () => this.view.getUint16(this.take(2), true);
  i16 = () => this.view.getInt16(this.take(2), true);
  u32 = () => this.view.getUint32(this.take(4), true);
  i32 = () => this.view.getInt32(this.take(4), true);
  f32 = () => this.view.getFloat32(this.take(4), true);
  f64 = () => this.view.getFloat64(this.take(8), true);
  u64(): number | bigint {
    const v = this.view.getBigUint64(this.take(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(): number | bigint {
    const v = this.view.getBigInt64(this.take(8), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A u64 that must be a safe integer (a count or a length). */
  count(what: string): number {
    const v = this.u64();
    if (typeof v !== "number") throw new FormatError(`${what} ${v} is not a plausible count`);
    return v;
  }
  string(what: string): string {
    const n = this.count(`length of ${what}`);
    if (n > this.bytes.length && n > 1 << 30) {
      throw new FormatError(`length of ${what} (${n}) is implausible`);
    }
    const at = this.take(n);
    try {
      return this.utf8.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw new FormatError(`${what} is not valid UTF-8`);
    }
  }
}

/** A malformed header (the message is completed with the path). */
class FormatError extends Error {}

function readScalar(c: Cursor, type: number, what: string): GgufScalar {
  switch (type) {
    case VALUE_TYPE.uint8:
      return c.u8();
    case VALUE_TYPE.int8:
      return c.i8();
    case VALUE_TYPE.uint16:
      return c.u16();
    case VALUE_TYPE.int16:
      return c.i16();
    case VALUE_TYPE.uint32:
      return c.u32();
    case VALUE_TYPE.int32:
      return c.i32();
    case VALUE_TYPE.float32:
      return c.f32();
    case VALUE_TYPE.bool: {
      const b = c.u8();
      if (b > 1) throw new FormatError(`${what}: bool value ${b}`);
      return b === 1;
    }
    case VALUE_TYPE.string:
      return c.string(what);
    case VALUE_TYPE.uint64:
      return c.u64();
    case VALUE_TYPE.int64:
      return c.i64();
    case VALUE_TYPE.float64:
      return c.f64();
  }
  throw new FormatError(`${what}: unknown value type ${type}`);
}

function readValue(c: Cursor, what: string): GgufValue {
  const type = c.u32();
  if (type !== VALUE_TYPE.array) {
    const value = readScalar(c, type, what);
    return { type: TYPE_NAME[type] as GgufScalarType, value };
  }
  const itemType = c.u32();
  if (itemType === VALUE_TYPE.array) throw new FormatError(`${what}: nested arrays are not supported`);
  if (TYPE_NAME[itemType] === undefined) {
    throw new FormatError(`${what}: unknown array item type ${itemType}`);
  }
  const n = c.count(`length of ${what}`);
  const value: GgufScalar[] = [];
  for (let i = 0; i < n; i++) value.push(readScalar(c, itemType, what));
  return { type: "array", itemType: TYPE_NAME[itemType] as GgufScalarType, value };
}

interface Header {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: { name: string; dims: number[]; type: number; offset: number }[];
  /** Where the tensor data starts (aligned). */
  dataStart: number;
  alignment: number;
}

function parseHeader(bytes: Uint8Array): Header {
  const c = new Cursor(bytes);
  const magic = c.u32();
  if (magic !== MAGIC) throw new FormatError("not a GGUF file (no GGUF magic)");
  const version = c.u32();
  if (version === 0x03000000 || version === 0x02000000) {
    throw new FormatError("big-endian GGUF files are not supported");
  }
  if (version !== 2 && version !== 3) {
    throw new FormatError(`GGUF version ${version} is not supported (2, 3)`);
  }
  const nTensors = c.count("tensor count");
  const nKv = c.count("metadata count");
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key ${i}`);
    if (metadata.has(key)) throw new FormatError(`metadata key "${key}" appears twice`);
    metadata.set(key, readValue(c, `metadata "${key}"`));
  }
  const align = metadata.get("general.alignment");
  let alignment = DEFAULT_ALIGNMENT;
  if (align !== undefined) {
    if (align.type !== "uint32" || typeof align.value !== "number" || align.value === 0 || align.value % 8) {
      throw new FormatError(`general.alignment must be a uint32 multiple of 8, got ${String(align.value)}`);
    }
    alignment = align.value;
  }
  const tensors: Header["tensors"] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`tensor name ${i}`);
    if (names.has(name)) throw new FormatError(`tensor "${name}" appears twice`);
    names.add(name);
    const nDims = c.u32();
    if (nDims < 1 || nDims > 4) throw new FormatError(`tensor "${name}" has ${nDims} dimensions (1 to 4)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.count(`dimension ${d} of tensor "${name}"`));
    const type = c.u32();
    const offset = c.count(`offset of tensor "${name}"`);
    if (offset % alignment !== 0) {
      throw new FormatError(`tensor "${name}" is at offset ${offset}, not a multiple of ${alignment}`);
    }
    tensors.push({ name, dims, type, offset });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  return { version, metadata, tensors, dataStart, alignment };
}

/**
 * Opens a GGUF file: parses the header and checks that every tensor's data lies inside the file.
 *
 * @example
 * ```ts
 * import { openGguf } from "./gguf_file.ts";
 * const file = await openGguf("tests/fixtures/gguf/gqa_a_q8_0.gguf");
 * console.log(file.string("general.architecture"), file.tensors.length); // llama 21
 * file.close();
 * ```
 */
export async function openGguf(path: string): Promise<GgufFile> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${path}: not found`);
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    const size = (await f.stat()).size;
    let want = Math.min(size, 1 << 20);
    let header: Header;
    for (;;) {
      const prefix = await readAt(f, 0, want);
      try {
        header = parseHeader(prefix);
        break;
      } catch (e) {
        if (e instanceof FormatError) throw new UserError(`${path}: ${e.message}`);
        if (!(e instanceof NeedMore)) throw e;
        if (want >= size) {
          throw new UserError(`${path}: truncated (the header runs past the end of the file, ${size} bytes)`);
        }
        want = Math.min(size, want * 4);
      }
    }
    const tensors: GgufTensorInfo[] = header.tensors.map((t) => {
      const name = ggmlTypeName(t.type);
      let bytes: number;
      try {
        bytes = tensorBytes(t.type, t.dims);
      } catch (e) {
        throw new UserError(`${path}: tensor "${t.name}": ${(e as Error).message}`);
      }
      const offset = header.dataStart + t.offset;
      if (offset + bytes > size) {
        throw new UserError(
          `${path}: truncated (tensor "${t.name}" (${name}) ends at byte ${
            offset + bytes
          }, the file has ${size})`,
        );
      }
      return { name: t.name, dims: t.dims, type: t.type, offset, bytes };
    });
    return new OpenGguf(path, f, header.version, header.metadata, tensors);
  } catch (e) {
    f.close();
    throw e;
  }
}

async function readAt(f: Deno.FsFile, offset: number, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  await f.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = await f.read(out.subarray(got));
    if (r === null) return out.subarray(0, got);
    got += r;
  }
  return out;
}

class OpenGguf implements GgufFile {
  private byName: Map<string, GgufTensorInfo>;
  constructor(
    readonly path: string,
    private file: Deno.FsFile,
    readonly version: number,
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly tensors: readonly GgufTensorInfo[],
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }
  tensor(name: string): GgufTensorInfo | undefined {
    return this.byName.get(name);
  }
  private scalar(key: string, ok: (v: GgufValue) => boolean, what: string): GgufScalar | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    if (!ok(v)) throw new UserError(`${this.path}: metadata "${key}" must be ${what}, it is ${describe(v)}`);
    return v.value as GgufScalar;
  }
  string(key: string): string | undefined {
    return this.scalar(key, (v) => v.type === "string", "a string") as string | undefined;
  }
  number(key: string): number | undefined {
    const v = this.scalar(
      key,
      (v) => v.type !== "array" && v.type !== "string" && v.type !== "bool",
      "a number",
    );
    if (typeof v === "bigint") throw new UserError(`${this.path}: metadata "${key}" is too large (${v})`);
    return v as number | undefined;
  }
  bool(key: string): boolean | undefined {
    return this.scalar(key, (v) => v.type === "bool", "a bool") as boolean | undefined;
  }
  array(key: string): GgufScalar[] | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    if (v.type !== "array") {
      throw new UserError(`${this.path}: metadata "${key}" must be an array, it is ${v.type}`);
    }
    return v.value;
  }
  private info(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new UserError(`${this.path}: no tensor "${name}"`);
    return t;
  }
  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    const bytes = await readAt(this.file, t.offset, t.bytes);
    if (bytes.length !== t.bytes) {
      throw new UserError(`${this.path}: truncated while reading tensor "${name}"`);
    }
    return bytes;
  }
  async read(name: string): Promise<Float32Array> {
    const t = this.info(name);
    const raw = await this.readRaw(name);
    try {
      return dequantize(t.type, raw, t.dims.reduce((a, b) => a * b, 1));
    } catch (e) {
      throw new UserError(`${this.path}: tensor "${name}": ${(e as Error).message}`);
    }
  }
  close(): void {
    this.file.close();
  }
}

function describe(v: GgufValue): string {
  return v.type === "array" ? `an array of ${v.itemType}` : `${v.type} ${JSON.stringify(String(v.value))}`;
}

// ---- writing ----

/** A tensor to write: stored bytes of `type`, or a function producing them when their turn comes. */
export interface GgufTensorToWrite {
  name: string;
  /** Dimensions innermost first (ggml's `ne`). */
  dims: readonly number[];
  /** A {@link GgmlType} value. */
  type: number;
  data: Uint8Array | (() => Promise<Uint8Array>);
}

/** Growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private utf8 = new TextEncoder();
  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // `this.reserve` runs first and may replace the buffer: the view is read only after it (in
  // `this.view.setX(this.reserve(n), …)` JavaScript would read the old view before the call).
  #at(n: number): [DataView, number] {
    const at = this.reserve(n);
    return [this.view, at];
  }
  u8 = (v: number) => this.#set(1, (d, at) => d.setUint8(at, v));
  i8 = (v: number) => this.#set(1, (d, at) => d.setInt8(at, v));
  u16 = (v: number) => this.#set(2, (d, at) => d.setUint16(at, v, true));
  i16 = (v: number) => this.#set(2, (d, at) => d.setInt16(at, v, true));
  u32 = (v: number) => this.#set(4, (d, at) => d.setUint32(at, v, true));
  i32 = (v: number) => this.#set(4, (d, at) => d.setInt32(at, v, true));
  f32 = (v: number) => this.#set(4, (d, at) => d.setFloat32(at, v, true));
  f64 = (v: number) => this.#set(8, (d, at) => d.setFloat64(at, v, true));
  u64 = (v: number | bigint) => this.#set(8, (d, at) => d.setBigUint64(at, BigInt(v), true));
  i64 = (v: number | bigint) => this.#set(8, (d, at) => d.setBigInt64(at, BigInt(v), true));
  #set(n: number, write: (d: DataView, at: number) => void): void {
    const [view, at] = this.#at(n);
    write(view, at);
  }
  string(s: string) {
    const b = this.utf8.encode(s);
    this.u64(b.length);
    const at = this.reserve(b.length); // before reading this.buf, which it may replace
    this.buf.set(b, at);
  }
  pad(alignment: number) {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n); // fresh bytes are zero
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeScalar(w: ByteWriter, type: GgufScalarType, v: GgufScalar, key: string): void {
  const num = () => {
    if (typeof v !== "number" && typeof v !== "bigint") {
      throw new UserError(`metadata "${key}": not a number`);
    }
    return v;
  };
  switch (type) {
    case "string":
      if (typeof v !== "string") throw new UserError(`metadata "${key}": not a string`);
      return w.string(v);
    case "bool":
      if (typeof v !== "boolean") throw new UserError(`metadata "${key}": not a bool`);
      return w.u8(v ? 1 : 0);
    case "uint64":
      return w.u64(num());
    case "int64":
      return w.i64(num());
  }
  const n = Number(num());
  switch (type) {
    case "uint8":
      return w.u8(n);
    case "int8":
      return w.i8(n);
    case "uint16":
      return w.u16(n);
    case "int16":
      return w.i16(n);
    case "uint32":
      return w.u32(n);
    case "int32":
      return w.i32(n);
    case "float32":
      return w.f32(n);
    case "float64":
      return w.f64(n);
  }
}

/**
 * Writes a GGUF v3 file atomically (a temporary file beside it, fsynced, renamed over `path`):
 * metadata in the given order, tensors in the given order, each aligned to 32 bytes.
 *
 * @example
 * ```ts
 * import { GgmlType, writeGguf } from "./gguf_file.ts";
 * const path = `${await Deno.makeTempDir()}/t.gguf`;
 * await writeGguf(path, [["general.name", { type: "string", value: "tiny" }]], [
 *   { name: "b", dims: [3], type: GgmlType.F32, data: new Uint8Array(12) },
 * ]);
 * ```
 */
export async function writeGguf(
  path: string,
  metadata: readonly (readonly [string, GgufValue])[],
  tensors: readonly GgufTensorToWrite[],
): Promise<void> {
  const w = new ByteWriter();
  w.u32(MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, v] of metadata) {
    w.string(key);
    w.u32(VALUE_TYPE[v.type]);
    if (v.type === "array") {
      w.u32(VALUE_TYPE[v.itemType]);
      w.u64(v.value.length);
      for (const item of v.value) writeScalar(w, v.itemType, item, key);
    } else {
      writeScalar(w, v.type, v.value, key);
    }
  }
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = tensorBytes(t.type, t.dims);
    sizes.push(bytes);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of [...t.dims]) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset += Math.ceil(bytes / DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
  }
  w.pad(DEFAULT_ALIGNMENT);
  const zeros = new Uint8Array(DEFAULT_ALIGNMENT);
  await writeAtomicStream(path, async (write) => {
    await write(w.bytes());
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i];
      const data = typeof t.data === "function" ? await t.data() : t.data;
      if (data.length !== sizes[i]) {
        throw new UserError(
          `${path}: tensor "${t.name}" has ${data.length} bytes, ${ggmlTypeName(t.type)} [${t.dims}] needs ${
            sizes[i]
          }`,
        );
      }
      await write(data);
      await write(
        zeros.subarray(0, (DEFAULT_ALIGNMENT - (sizes[i] % DEFAULT_ALIGNMENT)) % DEFAULT_ALIGNMENT),
      );
    }
  });
}
