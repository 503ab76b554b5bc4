/**
 * Input files: regular files only (a FIFO or a device can block or never end), and a line reader
 * that stays linear on a line of any length and reports invalid UTF-8 on the line that holds it.
 *
 * @module
 */
import { oneLine, UserError } from "./errors.ts";

/** What a non-regular, non-directory file is, for messages: `"a FIFO"`, `"a device"`, `"a socket"`. */
export function specialKind(info: Deno.FileInfo): string {
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/**
 * Checks that `path` is a readable regular file (symlinks followed) and returns its info; a missing
 * path, a directory, a FIFO or a device is a {@link UserError} naming `flag` and the path.
 *
 * @example
 * ```ts
 * import { checkInputFile } from "@tinyllama-ts/cli";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * console.log((await checkInputFile("--input", `${dir}/a.txt`)).size); // 2
 * ```
 */
export async function checkInputFile(flag: string, path: string): Promise<Deno.FileInfo> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${flag} ${path}: no such file`);
    throw new UserError(`${flag} ${path}: cannot read (${oneLine(e)})`);
  }
  if (info.isDirectory) throw new UserError(`${flag} ${path}: is a directory, not a file`);
  if (!info.isFile) throw new UserError(`${flag} ${path}: ${specialKind(info)}, not a regular file`);
  return info;
}

const NEWLINE = 0x0a;

/**
 * Bytes held back across the chunks of a stream until a boundary arrives, then joined once (a line
 * longer than many chunks is copied once, not once per chunk). Held bytes are copied: a stream may
 * reuse its buffers.
 *
 * @example
 * ```ts
 * import { HeldBytes } from "@tinyllama-ts/cli";
 * const held = new HeldBytes();
 * held.hold(new Uint8Array([1, 2]));
 * console.log(held.length, held.take(new Uint8Array([3]))); // 2 Uint8Array [1, 2, 3]
 * ```
 */
export class HeldBytes {
  #parts: Uint8Array[] = [];
  #length = 0;

  /** Bytes held now. */
  get length(): number {
    return this.#length;
  }

  /** Holds a copy of `bytes`. */
  hold(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#parts.push(bytes.slice());
    this.#length += bytes.length;
  }

  /** The held bytes followed by `last`, in a new array; nothing is held afterwards. */
  take(last: Uint8Array): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.#length + last.length);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    out.set(last, at);
    this.#parts = [];
    this.#length = 0;
    return out;
  }
}

/**
 * The lines of a byte stream with their 1-based numbers, each decoded on its own (strict UTF-8; a
 * trailing `\r` dropped; a UTF-8 BOM at the start dropped). Newlines are searched only in the bytes
 * that arrive, and a long line's chunks are joined once, so one line of hundreds of megabytes costs
 * one pass. Invalid UTF-8 is a {@link UserError} `NAME:LINE: not valid UTF-8`.
 *
 * @example
 * ```ts
 * import { readLines } from "@tinyllama-ts/cli";
 * const stream = ReadableStream.from([new TextEncoder().encode("a\nb")]);
 * for await (const [line, n] of readLines(stream, "x.txt")) console.log(n, line); // 1 "a", 2 "b"
 * ```
 */
export async function* readLines(
  chunks: AsyncIterable<Uint8Array>,
  name: string,
): AsyncGenerator<[string, number]> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const held = new HeldBytes();
  let lineNo = 0;
  const decode = (bytes: Uint8Array): string => {
    let start = 0;
    if (lineNo === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    let end = bytes.length;
    if (end > start && bytes[end - 1] === 0x0d) end--;
    try {
      return decoder.decode(bytes.subarray(start, end));
    } catch {
      throw new UserError(`${name}:${lineNo}: not valid UTF-8`);
    }
  };
  // A line within one chunk is decoded where it lies; only one spanning chunks is joined.
  const join = (last: Uint8Array): Uint8Array => held.length === 0 ? last : held.take(last);
  for await (const chunk of chunks) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(NEWLINE, start)) >= 0) {
      lineNo++;
      yield [decode(join(chunk.subarray(start, nl))), lineNo];
      start = nl + 1;
    }
    held.hold(chunk.subarray(start));
  }
  if (held.length > 0) {
    lineNo++;
    yield [decode(join(new Uint8Array(0))), lineNo];
  }
}
