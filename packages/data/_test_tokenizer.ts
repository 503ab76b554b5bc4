// A tiny tokenizer for tests: one id per UTF-8 byte (id = byte + 3), with unk 0, BOS 1, EOS 2. It
// implements the interface of `@tinyllama-ts/tokenizer` so that prepare can run with known ids.
import { UserError } from "@tinyllama-ts/cli";
import type { TokenizerLike } from "./_tokenize_batch.ts";

const encoder = new TextEncoder();

export class ByteTokenizer implements TokenizerLike {
  readonly vocabSize = 259;
  readonly unkId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    // A plain loop: the benchmark uses this tokenizer to show the pipeline's own cost.
    const bytes = encoder.encode(text);
    const ids = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) ids[i] = bytes[i] + 3;
    if (opts.bos) ids.unshift(this.bosId);
    if (opts.eos) ids.push(this.eosId);
    return ids;
  }
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder().decode(Uint8Array.from(Array.from(ids).filter((i) => i >= 3), (i) => i - 3));
  }
  idToPiece(id: number): string {
    return id < 3
      ? ["<unk>", "<s>", "</s>"][id]
      : `<0x${(id - 3).toString(16).toUpperCase().padStart(2, "0")}>`;
  }
}

/** The file content that marks a byte-tokenizer "model". */
export const BYTE_TOKENIZER_FILE = '{"type":"byte-tokenizer"}\n';

/** Loads the byte tokenizer from a file holding {@link BYTE_TOKENIZER_FILE}. */
export async function loadTokenizer(path: string): Promise<ByteTokenizer> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read tokenizer (${(e as Error).message})`);
  }
  if (text !== BYTE_TOKENIZER_FILE) throw new UserError(`${path}: not a byte-tokenizer file`);
  return new ByteTokenizer();
}

/** Writes a byte-tokenizer file into `dir` and returns its path. */
export async function writeByteTokenizer(dir: string): Promise<string> {
  const path = `${dir}/bytes.tokenizer`;
  await Deno.writeTextFile(path, BYTE_TOKENIZER_FILE);
  return path;
}

/** The module URL to pass as `tokenizerModule`. */
export const BYTE_TOKENIZER_MODULE: string = import.meta.url;
