// The parallel part of prepare: everything done per record. A batch arrives as raw pieces of input files;
// here they are decoded and parsed into documents, which are tokenized, hashed for the train/validation
// split and keyed for dedup. Runs in each worker (see _prepare_worker.ts), or on the main thread with
// --workers 0. The main thread is left only reading, dedup decisions (in document order) and packing.
import { type DedupMode, exactDedupKey, hashString32, minhashSignature, NUM_PERM } from "./dedup.ts";
import { type ExcludeRule, parsePiece, type Piece, SKIP_REASONS } from "./_piece.ts";

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
  /** Records per piece of the batch. */
  records: Uint32Array<ArrayBuffer>;
  /**
   * Per record: 0 for a document, 1 + the index of its reason in SKIP_REASONS for a skipped record, or
   * 1 + SKIP_REASONS.length + k for a record dropped by exclude rule k.
   */
  skips: Uint8Array<ArrayBuffer>;
  // The rest is per document: the records whose skip code is 0, in order.
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

const SKIP_CODE = new Map(SKIP_REASONS.map((r, i) => [r, i + 1]));

export function processBatch(
  tok: TokenizerLike,
  id: number,
  pieces: Piece[],
  dedup: DedupMode,
  excludes: readonly ExcludeRule[] = [],
): BatchResult {
  const records = new Uint32Array(pieces.length);
  const codes: number[] = [];
  const texts: string[] = [];
  pieces.forEach((p, i) => {
    const items = parsePiece(p, excludes);
    records[i] = items.length;
    for (const item of items) {
      if ("skip" in item) codes.push(SKIP_CODE.get(item.skip)!);
      else if ("excluded" in item) codes.push(1 + SKIP_REASONS.length + item.excluded);
      else {
        codes.push(0);
        texts.push(item.text);
      }
    }
  });
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
  const skips = Uint8Array.from(codes);
  const result: BatchResult = { id, records, skips, ids, lengths, textBytes, splitHashes };
  if (dedup !== "none") result.exactKeys = texts.map(exactDedupKey);
  if (dedup === "minhash") {
    const sigs = new Uint32Array(texts.length * NUM_PERM);
    texts.forEach((t, i) => sigs.set(minhashSignature(t), i * NUM_PERM));
    result.signatures = sigs;
  }
  return result;
}

const encoder = new TextEncoder();
// Room for the UTF-8 of SLICE UTF-16 units (3 bytes each at most), reused: only the length is wanted.
const SLICE = 1 << 16;
const scratch = new Uint8Array(3 * SLICE);

/**
 * UTF-8 length of a string; a lone surrogate counts as U+FFFD, 3 bytes, as TextEncoder encodes it. Native
 * encodeInto into a reused buffer, a slice at a time, is about ten times faster than a JS loop.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length;) {
    let end = Math.min(s.length, i + SLICE);
    // A pair split between slices would count as two lone surrogates: move its high half to the next.
    const c = s.charCodeAt(end - 1);
    if (end < s.length && c >= 0xd800 && c <= 0xdbff) end--;
    n += encoder.encodeInto(end - i === s.length ? s : s.substring(i, end), scratch).written;
    i = end;
  }
  return n;
}
