import { HeldBytes, oneLine, UserError } from "@tinyllama-ts/cli";
import { Gunzip } from "fflate";
import { Decompress as ZstdDecompress } from "fzstd";
import type { InputFile } from "./input_files.ts";
import { readParquetPieces } from "./_parquet.ts";
import { parsePiece, type Piece } from "./_piece.ts";

/** Why a line or row was not taken as a document. */
export type SkipReason = "missing_field" | "invalid_json" | "empty" | "blank_line" | "invalid_utf8";

/**
 * One item read from an input: a document's text, a counted reason for skipping one, or a record
 * dropped by the `excluded`-th `--exclude` rule.
 */
export type DocumentItem = { text: string } | { skip: SkipReason } | { excluded: number };

const READ_CHUNK = 1 << 20;

/**
 * Reads the documents of one input file in order. `.txt`: the whole file is one document. `.jsonl`
 * (plain, gzip or zstd): one JSON object a line, text in field `text` (SlimPajama) or else `content`
 * (Starcoderdata). `.parquet`: column `content` or else `text`. A line or row that is not a document is
 * yielded as a skip with its reason, never dropped silently: `invalid_json`, `missing_field` (no
 * string `text`/`content`), `empty` (only whitespace), `blank_line`, `invalid_utf8` (the line, or the
 * `.txt` file, is not valid UTF-8). A corrupt or unreadable file is a
 * {@link UserError} naming it. `onBytes` is told how many bytes of the file were consumed.
 *
 * @example
 * ```ts
 * import { readDocuments } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.jsonl`, '{"text":"hi"}\n{"meta":1}\nnot json\n');
 * for await (const d of readDocuments({ path: `${dir}/a.jsonl`, format: "jsonl", bytes: 0 })) console.log(d);
 * // { text: "hi" }, { skip: "missing_field" }, { skip: "invalid_json" }
 * ```
 */
export async function* readDocuments(
  file: InputFile,
  onBytes: (n: number) => void = () => {},
): AsyncGenerator<DocumentItem> {
  // The same two steps as prepare's, which parses the pieces in its workers.
  for await (const piece of readPieces(file, onBytes)) yield* parsePiece(piece);
}

/**
 * Bytes (or parquet UTF-16 units) per piece: small enough that workers share even one file evenly and
 * the last piece leaves little idle time, large enough that messages between threads stay few.
 */
export const PIECE_BYTES = 1 << 18;

/**
 * The raw pieces of one input file in order (see {@link Piece}), with as little work as possible: read,
 * decompress, cut at newlines. Text decoding and JSON parsing are left to {@link parsePiece}. Every
 * piece owns its buffer, so it can be transferred to a worker.
 */
export async function* readPieces(
  file: InputFile,
  onBytes: (n: number) => void = () => {},
): AsyncGenerator<Piece> {
  switch (file.format) {
    case "txt": {
      const bytes = await readWhole(file.path);
      onBytes(bytes.length);
      yield { kind: "whole", bytes: withoutBom(bytes) };
      return;
    }
    case "parquet":
      yield* readParquetPieces(file.path, onBytes, PIECE_BYTES);
      return;
    case "jsonl":
      yield* linePieces(fileChunks(file.path, onBytes));
      return;
    case "jsonl.gz":
      yield* linePieces(decompress(fileChunks(file.path, onBytes), file.path, "gzip"));
      return;
    case "jsonl.zst":
      yield* linePieces(decompress(fileChunks(file.path, onBytes), file.path, "zstd"));
      return;
  }
}

// TextDecoder drops one BOM at the start of a stream (and only there); the pieces are decoded with the
// BOM kept, so the reader drops it here.
function withoutBom(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.subarray(3)
    : bytes;
}

/** Cuts a byte stream into pieces of whole lines of about {@link PIECE_BYTES} (a longer line is one piece). */
async function* linePieces(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Piece> {
  // Bytes since the last cut (a decompressor may hand out views of buffers it reuses: HeldBytes copies).
  const held = new HeldBytes();
  let first = true;
  const cut = (last: Uint8Array, final: boolean): Piece => {
    const bytes = held.take(last);
    const piece: Piece = { kind: "lines", bytes: first ? withoutBom(bytes) : bytes, final };
    first = false;
    return piece;
  };
  for await (const chunk of chunks) {
    let start = 0;
    while (true) {
      // The first newline at or after the point where the piece would reach PIECE_BYTES.
      const from = start + Math.max(0, PIECE_BYTES - held.length - 1);
      if (from >= chunk.length) break;
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) break;
      yield cut(chunk.subarray(start, nl + 1), false);
      start = nl + 1;
    }
    held.hold(chunk.subarray(start));
  }
  if (held.length > 0) yield cut(new Uint8Array(0), true);
}

async function readWhole(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${oneLine(e)})`);
  }
}

async function* fileChunks(path: string, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    throw new UserError(`${path}: cannot read (${oneLine(e)})`);
  }
  try {
    while (true) {
      const buf = new Uint8Array(READ_CHUNK);
      const n = await f.read(buf);
      if (n === null) return;
      onBytes(n);
      yield buf.subarray(0, n);
    }
  } finally {
    f.close();
  }
}

/** Streams a decompressor over the chunks; any failure, truncation included, names the file. */
async function* decompress(
  chunks: AsyncGenerator<Uint8Array>,
  path: string,
  kind: "gzip" | "zstd",
): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  let ended = false;
  const ondata = (data: Uint8Array, final?: boolean) => {
    if (data.length > 0) out.push(data);
    if (final) ended = true;
  };
  const stream = kind === "gzip" ? new Gunzip(ondata) : new ZstdDecompress(ondata);
  let sawInput = false;
  const fail = (e: unknown): never => {
    throw new UserError(`${path}: corrupt ${kind} data (${oneLine(e)})`);
  };
  for await (const chunk of chunks) {
    sawInput ||= chunk.length > 0;
    try {
      stream.push(chunk, false);
    } catch (e) {
      fail(e);
    }
    yield* out.splice(0);
  }
  try {
    stream.push(new Uint8Array(0), true);
  } catch (e) {
    fail(e);
  }
  yield* out.splice(0);
  if (!sawInput) throw new UserError(`${path}: empty file, not ${kind} data`);
  if (!ended) throw new UserError(`${path}: corrupt ${kind} data (truncated)`);
}
