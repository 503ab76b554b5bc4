import { UserError } from "@tinyllama-ts/cli";
import { Gunzip } from "fflate";
import { Decompress as ZstdDecompress } from "fzstd";
import type { InputFile } from "./input_files.ts";
import { readParquetTexts } from "./_parquet.ts";
import { oneLine } from "./_one_line.ts";

/** Why a line or row was not taken as a document. */
export type SkipReason = "missing_field" | "invalid_json" | "empty" | "blank_line";

/** One item read from an input: a document's text, or a counted reason for skipping one. */
export type DocumentItem = { text: string } | { skip: SkipReason };

const READ_CHUNK = 1 << 20;

/**
 * Reads the documents of one input file in order. `.txt`: the whole file is one document. `.jsonl`
 * (plain, gzip or zstd): one JSON object a line, text in field `text` (SlimPajama) or else `content`
 * (Starcoderdata). `.parquet`: column `content` or else `text`. A line or row that is not a document is
 * yielded as a skip with its reason, never dropped silently: `invalid_json`, `missing_field` (no
 * string `text`/`content`), `empty` (only whitespace), `blank_line`. A corrupt or unreadable file is a
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
  switch (file.format) {
    case "txt": {
      const bytes = await readWhole(file.path);
      onBytes(bytes.length);
      const text = new TextDecoder().decode(bytes);
      yield text.trim() === "" ? { skip: "empty" } : { text };
      return;
    }
    case "parquet":
      yield* readParquetTexts(file.path, onBytes);
      return;
    case "jsonl":
      yield* jsonlDocuments(fileChunks(file.path, onBytes));
      return;
    case "jsonl.gz":
      yield* jsonlDocuments(decompress(fileChunks(file.path, onBytes), file.path, "gzip"));
      return;
    case "jsonl.zst":
      yield* jsonlDocuments(decompress(fileChunks(file.path, onBytes), file.path, "zstd"));
      return;
  }
}

async function readWhole(path: string): Promise<Uint8Array> {
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

async function* jsonlDocuments(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<DocumentItem> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of chunks) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    rest = lines.pop()!;
    for (const line of lines) yield parseLine(line);
  }
  rest += decoder.decode();
  if (rest !== "" && rest !== "\r") yield parseLine(rest);
}

function parseLine(line: string): DocumentItem {
  if (line.trim() === "") return { skip: "blank_line" };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { skip: "invalid_json" };
  }
  if (typeof value !== "object" || value === null) return { skip: "missing_field" };
  const obj = value as Record<string, unknown>;
  const text = typeof obj.text === "string"
    ? obj.text
    : typeof obj.content === "string"
    ? obj.content
    : undefined;
  if (text === undefined) return { skip: "missing_field" };
  return text.trim() === "" ? { skip: "empty" } : { text };
}
