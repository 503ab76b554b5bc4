// The parallel part of prepare: tokenizing a batch of documents and computing their dedup keys and split
// hashes. Runs in each worker (see _prepare_worker.ts), or on the main thread with --workers 0.
import { type DedupMode, exactDedupKey, hashString32, minhashSignature, NUM_PERM } from "./dedup.ts";

/** The tokenizer interface prepare needs (a structural subset of `@tinyllama-ts/tokenizer`'s). */
export interface TokenizerLike {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
}

/** A module that can load a tokenizer from a path (`@tinyllama-ts/tokenizer` by default). */
export interface TokenizerModule {
  loadTokenizer(path: string): Promise<TokenizerLike>;
}

export interface BatchResult {
  id: number;
  /** Every document's ids followed by its EOS, back to back. */
  ids: Int32Array<ArrayBuffer>;
  /** Tokens per document (EOS included). */
  lengths: Int32Array<ArrayBuffer>;
  /** UTF-8 bytes per document. */
  textBytes: Float64Array<ArrayBuffer>;
  /** Per document, a 32-bit hash of its raw text; decides the train/validation split. */
  splitHashes: Uint32Array<ArrayBuffer>;
  exactKeys?: string[];
  /** NUM_PERM values per document, back to back. */
  signatures?: Uint32Array<ArrayBuffer>;
}

export function tokenizeBatch(
  tok: TokenizerLike,
  id: number,
  texts: string[],
  dedup: DedupMode,
): BatchResult {
  const perDoc: number[][] = [];
  const lengths = new Int32Array(texts.length);
  const textBytes = new Float64Array(texts.length);
  const splitHashes = new Uint32Array(texts.length);
  let total = 0;
  texts.forEach((text, i) => {
    const ids = tok.encode(text, { bos: false, eos: false });
    ids.push(tok.eosId); // TinyLlama: bos=False, eos=True
    perDoc.push(ids);
    lengths[i] = ids.length;
    total += ids.length;
    textBytes[i] = utf8Length(text);
    splitHashes[i] = hashString32(text, 0x5bd1e995);
  });
  const ids = new Int32Array(total);
  let off = 0;
  for (const d of perDoc) {
    ids.set(d, off);
    off += d.length;
  }
  const result: BatchResult = { id, ids, lengths, textBytes, splitHashes };
  if (dedup !== "none") result.exactKeys = texts.map(exactDedupKey);
  if (dedup === "minhash") {
    const sigs = new Uint32Array(texts.length * NUM_PERM);
    texts.forEach((t, i) => sigs.set(minhashSignature(t), i * NUM_PERM));
    result.signatures = sigs;
  }
  return result;
}

/** UTF-8 length of a string without encoding it (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
