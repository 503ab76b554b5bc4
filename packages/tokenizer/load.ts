/**
 * Loading a tokenizer from disk, whichever format it is in.
 *
 * @module
 */

import { UserError } from "@tinyllama-ts/cli";
import { parseHfTokenizerJson } from "./hf_tokenizer_json.ts";
import { parseSentencePieceModel } from "./sentencepiece_model.ts";
import { loadGgufTokenizer } from "./gguf_tokenizer.ts";
import type { Tokenizer } from "./tokenizer.ts";

/**
 * Reads a SentencePiece `tokenizer.model`, a Hugging Face `tokenizer.json`, a directory holding
 * either (`tokenizer.model` preferred), or the tokenizer embedded in a `.gguf` model file. The format
 * is told by the content, not the name (a GGUF file by its magic). Throws a
 * {@link UserError} naming the path and the problem: missing, unreadable, neither format, truncated,
 * unsupported model type.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "@tinyllama-ts/tokenizer";
 * const tok = await loadTokenizer("tests/fixtures/tokenizer/tiny.model");
 * tok.encode("Once upon a time", { bos: true });
 * ```
 */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  const file = await resolveTokenizerFile(path);
  if (await isGguf(file)) return await loadGgufTokenizer(file);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as Error).message})`);
  }
  return parseTokenizerBytes(bytes, file);
}

/**
 * Parses tokenizer file contents, telling JSON from protobuf by the first non-blank byte.
 *
 * @example
 * ```ts
 * import { parseTokenizerBytes } from "@tinyllama-ts/tokenizer";
 * const tok = parseTokenizerBytes(await Deno.readFile("tests/fixtures/tokenizer/tiny.model"), "tiny.model");
 * ```
 */
export function parseTokenizerBytes(bytes: Uint8Array, name: string): Tokenizer {
  let i = 0;
  while (
    i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  ) i++;
  if (i === bytes.length) throw new UserError(`${name}: empty file, not a tokenizer`);
  if (bytes[i] === 0x7b /* { */) {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new UserError(`${name}: starts like JSON but is not valid UTF-8`);
    }
    return parseHfTokenizerJson(text, name);
  }
  return parseSentencePieceModel(bytes, name);
}

async function resolveTokenizerFile(path: string): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${path}: no such file or directory`);
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  if (!info.isDirectory) return path;
  for (const name of ["tokenizer.model", "tokenizer.json"]) {
    const candidate = `${path.replace(/\/+$/, "")}/${name}`;
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch {
      // Not there; try the next name.
    }
  }
  throw new UserError(`${path}: directory holds neither tokenizer.model nor tokenizer.json`);
}

/** Whether the file starts with GGUF's magic (read without loading a multi-gigabyte model). */
async function isGguf(file: string): Promise<boolean> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(file, { read: true });
  } catch {
    return false; // reading it again reports the problem
  }
  try {
    const head = new Uint8Array(4);
    let got = 0;
    while (got < 4) {
      const r = await f.read(head.subarray(got));
      if (r === null) return false;
      got += r;
    }
    return new TextDecoder().decode(head) === "GGUF";
  } finally {
    f.close();
  }
}
