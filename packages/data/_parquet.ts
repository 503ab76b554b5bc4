// Parquet input (Starcoderdata's form): the `content` (else `text`) column, one row group at a time, so
// a large file is never held whole in memory. Decoding is hyparquet's, decompression
// hyparquet-compressors' (snappy, gzip, zstd, brotli, lz4).
import { oneLine, UserError } from "@tinyllama-ts/cli";
import { type AsyncBuffer, type FileMetaData, parquetMetadataAsync, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import type { Piece } from "./_piece.ts";

// Yields each row group's cells as `values` pieces of about `pieceSize` UTF-16 units; a cell that is not a
// string is null (a missing_field record).
export async function* readParquetPieces(
  path: string,
  onBytes: (n: number) => void,
  pieceSize: number,
): AsyncGenerator<Piece> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new UserError(`${path}: cannot read (${oneLine(e)})`);
  }
  const corrupt = (e: unknown) => new UserError(`${path}: corrupt parquet (${oneLine(e)})`);
  try {
    const buffer = fileBuffer(file, (await file.stat()).size);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (e) {
      throw corrupt(e);
    }
    const names = metadata.schema.slice(1).map((s) => s.name);
    const column = ["content", "text"].find((c) => names.includes(c));
    if (column === undefined) {
      throw new UserError(`${path}: no "content" or "text" column (columns: ${names.join(", ")})`);
    }
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let rows: unknown[][] = [];
      try {
        await parquetRead({
          file: buffer,
          metadata,
          columns: [column],
          rowStart,
          rowEnd,
          compressors,
          onComplete: (r) => rows = r,
        });
      } catch (e) {
        throw corrupt(e);
      }
      onBytes(Number(group.total_compressed_size ?? group.total_byte_size));
      let values: (string | null)[] = [];
      let size = 0;
      for (const [value] of rows) {
        const v = typeof value === "string" ? value : null;
        values.push(v);
        size += v === null ? 1 : v.length;
        if (size >= pieceSize) {
          yield { kind: "values", values };
          values = [];
          size = 0;
        }
      }
      if (values.length > 0) yield { kind: "values", values };
      rows = [];
      rowStart = rowEnd;
    }
  } finally {
    file.close();
  }
}

// Positioned reads over one open file; reads are serialised because they share the file's cursor.
function fileBuffer(file: Deno.FsFile, size: number): AsyncBuffer {
  let queue: Promise<unknown> = Promise.resolve();
  const readAt = async (start: number, end: number): Promise<ArrayBuffer> => {
    const buf = new Uint8Array(Math.max(0, end - start));
    await file.seek(start, Deno.SeekMode.Start);
    let got = 0;
    while (got < buf.length) {
      const n = await file.read(buf.subarray(got));
      if (n === null) throw new Error(`unexpected end of file at byte ${start + got}`);
      got += n;
    }
    return buf.buffer;
  };
  return {
    byteLength: size,
    slice(start: number, end = size): Promise<ArrayBuffer> {
      const result = queue.then(() => readAt(start, Math.min(end, size)));
      queue = result.catch(() => {});
      return result;
    },
  };
}
