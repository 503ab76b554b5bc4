/**
 * Just enough of the protobuf wire format to read and write SentencePiece's `ModelProto`: varints,
 * 32-bit floats and length-delimited fields. Unknown fields are skipped, as protobuf requires.
 *
 * @module
 */

/** Wire types of the protobuf encoding. */
export const WIRE_VARINT = 0;
/** 64-bit fixed field. */
export const WIRE_FIXED64 = 1;
/** Length-delimited field (strings, bytes, nested messages). */
export const WIRE_LEN = 2;
/** 32-bit fixed field (floats). */
export const WIRE_FIXED32 = 5;

/** Thrown for bytes that are not a well-formed protobuf message; the message says where and why. */
export class ProtobufError extends Error {
  override name = "ProtobufError";
}

/**
 * A cursor over one protobuf message: `next()` steps to each field in turn.
 *
 * @example
 * ```ts
 * import { ProtoReader } from "./_protobuf.ts";
 * const r = new ProtoReader(new Uint8Array([0x08, 0x96, 0x01]));
 * r.next(); // true: field 1, varint
 * r.varint(); // 150
 * ```
 */
export class ProtoReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #pos: number;
  readonly #end: number;
  /** Field number of the current field. */
  field = 0;
  /** Wire type of the current field. */
  wire = 0;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#pos = start;
    this.#end = end;
  }

  /** Reads the next field's key; false at the end of the message. */
  next(): boolean {
    if (this.#pos >= this.#end) return false;
    const at = this.#pos;
    const key = this.#readVarint32();
    this.field = key >>> 3;
    this.wire = key & 7;
    if (this.field === 0) throw new ProtobufError(`field number 0 at byte ${at}`);
    if (
      this.wire !== WIRE_VARINT && this.wire !== WIRE_FIXED64 && this.wire !== WIRE_LEN &&
      this.wire !== WIRE_FIXED32
    ) {
      throw new ProtobufError(`unsupported wire type ${this.wire} at byte ${at}`);
    }
    return true;
  }

  /** The current varint field as a signed 32-bit integer (how int32, enum and bool fields are read). */
  varint(): number {
    this.#expect(WIRE_VARINT);
    return this.#readVarint32() | 0;
  }

  /** The current fixed32 field as a float. */
  float(): number {
    this.#expect(WIRE_FIXED32);
    this.#need(4);
    const v = this.#view.getFloat32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  /** The current length-delimited field as a subarray (no copy). */
  bytes(): Uint8Array {
    this.#expect(WIRE_LEN);
    const len = this.#readVarint32();
    this.#need(len);
    const out = this.#bytes.subarray(this.#pos, this.#pos + len);
    this.#pos += len;
    return out;
  }

  /** Skips the current field, whatever its type. */
  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT:
        this.#readVarint32();
        break;
      case WIRE_FIXED64:
        this.#need(8);
        this.#pos += 8;
        break;
      case WIRE_LEN:
        this.bytes();
        break;
      case WIRE_FIXED32:
        this.#need(4);
        this.#pos += 4;
        break;
    }
  }

  #expect(wire: number): void {
    if (this.wire !== wire) {
      throw new ProtobufError(`field ${this.field} has wire type ${this.wire}, expected ${wire}`);
    }
  }

  #need(n: number): void {
    if (n > this.#end - this.#pos) {
      throw new ProtobufError(`truncated: field ${this.field} needs ${n} bytes at byte ${this.#pos}`);
    }
  }

  // Reads a varint of up to 10 bytes and keeps its low 32 bits (int32 -1 is written as 10 bytes).
  #readVarint32(): number {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.#pos >= this.#end) throw new ProtobufError(`truncated varint at byte ${this.#pos}`);
      const b = this.#bytes[this.#pos++];
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
    }
    throw new ProtobufError(`varint longer than 10 bytes at byte ${this.#pos}`);
  }
}

/**
 * Builds a protobuf message field by field.
 *
 * @example
 * ```ts
 * import { ProtoWriter } from "./_protobuf.ts";
 * const w = new ProtoWriter();
 * w.int32(1, 150);
 * w.finish(); // Uint8Array [0x08, 0x96, 0x01]
 * ```
 */
export class ProtoWriter {
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(1024);
  #len = 0;
  static readonly #encoder = new TextEncoder();

  /** An int32, enum or bool field (negative values take 10 bytes, as protobuf specifies). */
  int32(field: number, value: number): this {
    this.#key(field, WIRE_VARINT);
    if (value < 0) {
      // Sign-extended to 64 bits: the low 32 bits, then ones.
      this.#varint(value >>> 0, 0xffffffff);
    } else {
      this.#varint(value >>> 0, 0);
    }
    return this;
  }

  /** A bool field. */
  bool(field: number, value: boolean): this {
    return this.int32(field, value ? 1 : 0);
  }

  /** A float field. */
  float(field: number, value: number): this {
    this.#key(field, WIRE_FIXED32);
    this.#grow(4);
    new DataView(this.#buf.buffer).setFloat32(this.#len, value, true);
    this.#len += 4;
    return this;
  }

  /** A string field, UTF-8 encoded. */
  string(field: number, value: string): this {
    return this.bytes(field, ProtoWriter.#encoder.encode(value));
  }

  /** A bytes or nested-message field. */
  bytes(field: number, value: Uint8Array): this {
    this.#key(field, WIRE_LEN);
    this.#varint(value.length, 0);
    this.#grow(value.length);
    this.#buf.set(value, this.#len);
    this.#len += value.length;
    return this;
  }

  /** The message written so far. */
  finish(): Uint8Array<ArrayBuffer> {
    return this.#buf.slice(0, this.#len);
  }

  #key(field: number, wire: number): void {
    this.#varint(((field << 3) | wire) >>> 0, 0);
  }

  // Writes the 64-bit value hi:lo as a varint.
  #varint(lo: number, hi: number): void {
    this.#grow(10);
    while (hi !== 0 || lo > 0x7f) {
      this.#buf[this.#len++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | ((hi & 0x7f) << 25)) >>> 0;
      hi = hi >>> 7;
    }
    this.#buf[this.#len++] = lo;
  }

  #grow(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
}
