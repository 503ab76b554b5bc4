/**
 * The BPE encoder and decoder behind every loader: SentencePiece's algorithm (repeatedly merge the
 * best-ranked adjacent pair, leftmost first) over a flat pair table, with byte fallback, unknown
 * handling and SentencePiece's decoding rules.
 *
 * Speed comes from two exact shortcuts. When no piece has the space symbol `▁` after another
 * character (true of Llama 2 and of every model this package trains), no merge can cross the start
 * of a `▁`-run, so the text splits into chunks `▁*[^▁]*` that encode independently; and natural text
 * repeats its chunks, so their ids are cached.
 *
 * @module
 */

import { ChunkCache, HASH_MUL, HASH_SEED } from "./_chunk_cache.ts";
import { KeyHeap } from "./_key_heap.ts";
import { PairTable } from "./_pair_table.ts";
import { PieceIndex } from "./_piece_index.ts";
import { decodeUtf8Lenient, pushUtf8 } from "./_utf8.ts";
import { BYTE_PIECE, PieceKind, type Tokenizer } from "./tokenizer.ts";

const SPACE_SYMBOL = "\u2581";
const NO_RANK = 0x7fffffff;
const DEAD = -0x80000000;
// Chunks up to this many UTF-16 units are cached; longer ones are rare and would bloat the cache.
const MAX_CACHED_CHUNK = 48;
// Chunks up to this many symbols merge by linear scans; longer ones use a heap.
const MAX_SCAN_SYMBOLS = 32;
const TWO_POW_32 = 4294967296;

/** Everything the engine needs to know about a model, whichever file it came from. */
export interface BpeModelSpec {
  /** Piece strings by id, spaces spelled `▁`. */
  pieces: string[];
  /** {@link PieceKind} of each piece. */
  kinds: Uint8Array;
  /**
   * How merges are chosen. `scores`: SentencePiece — any two adjacent symbols whose concatenation is
   * a piece merge, best score first (`scores` required); characters outside the vocabulary take part
   * in merges and fall back to bytes only at the end. `merges`: Hugging Face BPE — only the listed
   * pairs merge, earliest first; characters outside the vocabulary become byte pieces up front.
   */
  mode: "scores" | "merges";
  /** Piece scores (mode `scores`). */
  scores?: Float32Array;
  /** Merge list as [left id, right id] in rank order (mode `merges`). */
  merges?: [number, number][];
  unkId: number;
  bosId: number;
  eosId: number;
  /** Text outside the vocabulary becomes `<0xNN>` pieces instead of `<unk>`. */
  byteFallback: boolean;
  /** Consecutive `<unk>` collapse into one. */
  fuseUnk: boolean;
  /** Prepend `▁` to non-empty text. */
  addDummyPrefix: boolean;
  /** ...unless the text already starts with one (Hugging Face Metaspace; SentencePiece always adds it). */
  dummyPrefixUnlessSpace?: boolean;
  /** Spaces become `▁` (otherwise they stay spaces). */
  escapeWhitespaces: boolean;
  /** Strip leading/trailing spaces and collapse runs (SentencePiece's `remove_extra_whitespaces`). */
  removeExtraWhitespaces: boolean;
  /** Split the text before every `▁` and encode the parts separately (Hugging Face Metaspace `split`). */
  splitAtEverySpace: boolean;
  /** What `decode` prints for `<unk>`. */
  unkSurface: string;
}

/**
 * A {@link Tokenizer} over a {@link BpeModelSpec}.
 *
 * @example
 * ```ts
 * import { BpeTokenizer } from "./_bpe_tokenizer.ts";
 * import { PieceKind } from "./tokenizer.ts";
 * const pieces = ["<unk>", "▁", "a", "b", "▁a", "ab", "▁ab"];
 * const tok = new BpeTokenizer({
 *   pieces, kinds: new Uint8Array([PieceKind.UNKNOWN, 1, 1, 1, 1, 1, 1]), mode: "scores",
 *   scores: new Float32Array([0, -5, -6, -7, -1, -2, -3]), unkId: 0, bosId: -1, eosId: -1,
 *   byteFallback: false, fuseUnk: true, addDummyPrefix: true, escapeWhitespaces: true,
 *   removeExtraWhitespaces: false, splitAtEverySpace: false, unkSurface: " \u2047 ",
 * });
 * tok.encode("ab"); // [6]
 * ```
 */
export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;

  readonly #spec: BpeModelSpec;
  readonly #kinds: Uint8Array;
  readonly #pairs: PairTable;
  // Symbol id of each BMP character; -(cp + 1) for a character that is no symbol.
  readonly #bmp = new Int32Array(0x10000);
  readonly #astral = new Map<number, number>();
  // Characters that are no mergeable piece but occur inside pieces get ids from vocabSize up.
  readonly #extChar: number[] = [];
  // Id to emit for such a character (a reserved piece spelled as that character), or -1.
  readonly #extEmit: number[] = [];
  // Id of the <0xNN> piece for each byte, or -1.
  readonly #byteIds = new Int32Array(256).fill(-1);
  // Byte value of each byte piece, or -1.
  readonly #byteOf: Int16Array;
  // Ids of the user-defined pieces, longest first (matched before anything else).
  readonly #userDefined: number[] = [];
  readonly #hasUnused: boolean;
  readonly #chunked: boolean;
  readonly #space: string;
  readonly #spaceCode: number;
  readonly #cache: ChunkCache;

  // Scratch buffers, grown on demand.
  #sym = new Int32Array(256);
  #rank = new Int32Array(256);
  #merged = new Int32Array(256);
  #prev = new Int32Array(256);
  #next = new Int32Array(256);
  readonly #heap = new KeyHeap();
  #revMerge = new Map<number, [number, number]>();

  // Decoding tables: text of each piece with ▁ as space, and the same without one leading space.
  readonly #surface: string[];
  readonly #surfaceAtStart: string[];

  /**
   * @param opts.cacheLimit chunks cached before the cache starts over (default 131072).
   * @param opts.chunking set false to encode every text whole, without the chunk shortcut (tests
   *   compare both paths).
   */
  constructor(spec: BpeModelSpec, opts: { cacheLimit?: number; chunking?: boolean } = {}) {
    this.#spec = spec;
    const n = spec.pieces.length;
    // Heap keys pack rank * 2^32 + position into a double, exact while rank < 2^21.
    if (n >= 1 << 21) throw new Error(`too many pieces (${n})`);
    this.vocabSize = n;
    this.bosId = spec.bosId;
    this.eosId = spec.eosId;
    this.unkId = spec.unkId;
    this.#kinds = spec.kinds;
    this.#cache = new ChunkCache(opts.cacheLimit ?? 1 << 17);
    this.#space = spec.escapeWhitespaces ? SPACE_SYMBOL : " ";
    this.#spaceCode = this.#space.charCodeAt(0);
    this.#byteOf = new Int16Array(n).fill(-1);

    const index = new Map<string, number>();
    for (let id = 0; id < n; id++) {
      const k = spec.kinds[id];
      const p = spec.pieces[id];
      if (!index.has(p)) index.set(p, id);
      if (k === PieceKind.BYTE) {
        const m = BYTE_PIECE.exec(p);
        if (m) {
          const b = parseInt(m[1], 16);
          this.#byteOf[id] = b;
          if (this.#byteIds[b] < 0) this.#byteIds[b] = id;
        }
      }
      if (k === PieceKind.USER_DEFINED && p.length > 0) this.#userDefined.push(id);
    }
    this.#hasUnused = spec.kinds.includes(PieceKind.UNUSED);
    this.#userDefined.sort((a, b) => spec.pieces[b].length - spec.pieces[a].length);

    for (let c = 0; c < 0x10000; c++) this.#bmp[c] = -(c + 1);
    this.#pairs = spec.mode === "scores" ? this.#buildScorePairs() : this.#buildMergePairs(index);

    // Chunking is exact when no merge result has the space symbol after another character and no
    // piece is kept whole or split back (those act on the whole text).
    let chunkable = (opts.chunking ?? true) && this.#userDefined.length === 0 && !this.#hasUnused;
    if (chunkable) {
      for (let id = 0; id < n && chunkable; id++) {
        const k = spec.kinds[id];
        if (k !== PieceKind.NORMAL && k !== PieceKind.UNUSED && k !== PieceKind.USER_DEFINED) continue;
        const p = spec.pieces[id];
        for (let i = 1; i < p.length; i++) {
          if (p.charCodeAt(i) === this.#spaceCode && p.charCodeAt(i - 1) !== this.#spaceCode) {
            chunkable = false;
            break;
          }
        }
      }
    }
    this.#chunked = chunkable;

    this.#surface = spec.pieces.map((p) => p.replaceAll(SPACE_SYMBOL, " "));
    this.#surfaceAtStart = spec.pieces.map((p, id) =>
      p.startsWith(SPACE_SYMBOL) ? this.#surface[id].slice(1) : this.#surface[id]
    );
  }

  /** Whether the exact chunk-and-cache fast path is on for this model (for tests and benchmarks). */
  get chunked(): boolean {
    return this.#chunked;
  }

  /** The model this tokenizer was built from. */
  get spec(): Readonly<BpeModelSpec> {
    return this.#spec;
  }

  idToPiece(id: number): string {
    this.#checkId(id);
    return this.#spec.pieces[id];
  }

  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.bos) {
      if (this.bosId < 0) throw new Error("this tokenizer has no BOS piece");
      out.push(this.bosId);
    }
    if (this.#chunked) {
      this.#encodeChunked(text, out);
    } else {
      const norm = this.#normalize(text);
      if (norm.length === 0) {
        // nothing to encode
      } else if (this.#spec.splitAtEverySpace) {
        this.#encodeSplitAtEverySpace(norm, out);
      } else {
        this.#encodeRange(norm, 0, norm.length, out);
      }
    }
    // Consecutive <unk> fuse into one across chunks too (within a chunk #emit already fuses).
    if (this.#spec.fuseUnk && !this.#spec.byteFallback) fuseRuns(out, this.unkId);
    if (opts.eos) {
      if (this.eosId < 0) throw new Error("this tokenizer has no EOS piece");
      out.push(this.eosId);
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    const kinds = this.#kinds;
    const stripLeading = this.#spec.addDummyPrefix || this.#spec.removeExtraWhitespaces;
    let text = "";
    const bytes: number[] = [];
    let atStart = true; // SentencePiece's is_bos_ws
    let startSpaceSeen = false; // SentencePiece's bos_ws_seen
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.#checkId(id);
      const kind = kinds[id];
      if (kind === PieceKind.BYTE) {
        bytes.push(this.#byteOf[id] < 0 ? 0 : this.#byteOf[id]);
        continue;
      }
      if (bytes.length > 0) {
        text += decodeUtf8Lenient(bytes, bytes.length);
        bytes.length = 0;
      }
      if (startSpaceSeen || text.length > 0) atStart = false;
      startSpaceSeen = false;
      if (kind === PieceKind.CONTROL) continue;
      if (kind === PieceKind.UNKNOWN) {
        text += this.#spec.unkSurface;
        continue;
      }
      if (atStart && stripLeading && this.#spec.pieces[id].startsWith(SPACE_SYMBOL)) {
        text += this.#surfaceAtStart[id];
        startSpaceSeen = !this.#spec.removeExtraWhitespaces;
      } else {
        text += this.#surface[id];
      }
    }
    if (bytes.length > 0) text += decodeUtf8Lenient(bytes, bytes.length);
    return text;
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }

  // SentencePiece's normalizer without a character map: whitespace handling and the dummy prefix.
  #normalize(text: string): string {
    const spec = this.#spec;
    if (text.length === 0) return "";
    let t = text;
    if (spec.removeExtraWhitespaces) {
      t = t.replace(/^ +/, "").replace(/ {2,}/g, " ");
      if (t.length === 0) return "";
    }
    if (spec.escapeWhitespaces) t = t.replaceAll(" ", SPACE_SYMBOL);
    if (spec.addDummyPrefix && !(spec.dummyPrefixUnlessSpace && t.startsWith(this.#space))) {
      t = this.#space + t;
    }
    if (spec.removeExtraWhitespaces) {
      let end = t.length;
      while (end > 0 && t.charCodeAt(end - 1) === this.#spaceCode) end--;
      t = t.slice(0, end);
    }
    return t;
  }

  // The fast path, on the raw text: one pass finds the chunks (a run of spaces and what follows it
  // up to the next space; with splitAtEverySpace, each space starts a chunk) and hashes them for the
  // cache; spaces become ▁ only in chunks that miss. The dummy prefix is virtual: it joins the first
  // chunk, which is looked up by a string of its own.
  #encodeChunked(text: string, out: number[]): void {
    const spec = this.#spec;
    const escape = spec.escapeWhitespaces;
    let t = text;
    if (spec.removeExtraWhitespaces) {
      t = t.replace(/^ +/, "").replace(/ {2,}/g, " ");
      let end = t.length;
      while (end > 0 && (t.charCodeAt(end - 1) === 0x20 || (escape && t.charCodeAt(end - 1) === 0x2581))) {
        end--;
      }
      t = t.slice(0, end);
    }
    const n = t.length;
    if (n === 0) return;
    const c0 = t.charCodeAt(0);
    const startsWithSpace = c0 === 0x20 || (escape && c0 === 0x2581);
    let prefix = spec.addDummyPrefix && !(spec.dummyPrefixUnlessSpace && startsWithSpace);
    const split = spec.splitAtEverySpace;
    if (prefix && split && startsWithSpace) {
      // The prefix is a word of its own.
      this.#encodeKey(" ", out);
      prefix = false;
    }
    const cache = this.#cache;
    let start = 0;
    let h = HASH_SEED;
    let prevSpace = prefix;
    for (let i = 0; i < n; i++) {
      const c = t.charCodeAt(i);
      const space = c === 0x20 || (escape && c === 0x2581);
      if (space && i > start && (split || !prevSpace)) {
        if (prefix) {
          this.#encodeKey(" " + t.slice(start, i), out);
          prefix = false;
        } else if (i - start > MAX_CACHED_CHUNK || !cache.emit(t, start, i, h, out)) {
          this.#encodeMiss(t, start, i, h, out);
        }
        start = i;
        h = HASH_SEED;
      }
      h = Math.imul(h ^ c, HASH_MUL);
      prevSpace = space;
    }
    if (prefix) this.#encodeKey(" " + t.slice(start, n), out);
    else if (n - start > MAX_CACHED_CHUNK || !cache.emit(t, start, n, h, out)) {
      this.#encodeMiss(t, start, n, h, out);
    }
  }

  // A chunk given as its own string (spaces not yet escaped), through the cache.
  #encodeKey(key: string, out: number[]): void {
    let h = HASH_SEED;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), HASH_MUL);
    if (key.length > MAX_CACHED_CHUNK || !this.#cache.emit(key, 0, key.length, h, out)) {
      this.#encodeMiss(key, 0, key.length, h, out);
    }
  }

  // Encodes raw[start, end) by BPE and caches the result if the chunk is short enough.
  #encodeMiss(raw: string, start: number, end: number, hash: number, out: number[]): void {
    const chunk = raw.slice(start, end);
    const norm = this.#spec.escapeWhitespaces ? chunk.replaceAll(" ", SPACE_SYMBOL) : chunk;
    if (end - start > MAX_CACHED_CHUNK) {
      this.#encodeRange(norm, 0, norm.length, out);
      return;
    }
    const ids: number[] = [];
    this.#encodeRange(norm, 0, norm.length, ids);
    this.#cache.set(hash, chunk, ids);
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  // Hugging Face Metaspace with split, without the fast path: every ▁ starts a word.
  #encodeSplitAtEverySpace(norm: string, out: number[]): void {
    let start = 0;
    let p = norm.indexOf(this.#space, 1);
    while (p !== -1) {
      this.#encodeRange(norm, start, p, out);
      start = p;
      p = norm.indexOf(this.#space, p + 1);
    }
    this.#encodeRange(norm, start, norm.length, out);
  }

  // Encodes norm[start, end) with no shortcut and appends the ids to out.
  #encodeRange(norm: string, start: number, end: number, out: number[]): void {
    const n = this.#toSymbols(norm, start, end);
    if (n === 0) return;
    this.#revMerge.clear();
    if (n <= MAX_SCAN_SYMBOLS) {
      const m = this.#mergeByScan(n);
      for (let i = 0; i < m; i++) this.#emit(this.#sym[i], out);
    } else {
      this.#mergeByHeap(n);
      for (let i = 0; i !== -1; i = this.#next[i]) this.#emit(this.#sym[i], out);
    }
  }

  // Fills #sym with the initial symbols of norm[start, end) and returns their count.
  #toSymbols(norm: string, start: number, end: number): number {
    this.#ensure(end - start + 1);
    const mergesMode = this.#spec.mode === "merges";
    const users = this.#userDefined;
    let n = 0;
    let i = start;
    while (i < end) {
      if (users.length > 0) {
        const u = this.#matchUserDefined(norm, i, end);
        if (u >= 0) {
          this.#sym[n++] = u;
          i += this.#spec.pieces[u].length;
          continue;
        }
      }
      let cp = norm.charCodeAt(i++);
      let s: number;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        const lo = i < end ? norm.charCodeAt(i) : 0;
        if (cp <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
          cp = ((cp - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
          i++;
          s = this.#astral.get(cp) ?? -(cp + 1);
        } else {
          // A lone surrogate is not text; read it as U+FFFD, as SentencePiece reads malformed UTF-8.
          s = this.#bmp[0xfffd];
        }
      } else {
        s = this.#bmp[cp];
      }
      if (s < 0 && mergesMode) {
        n = this.#pushUnknownAsBytes(-s - 1, n);
      } else {
        this.#sym[n++] = s;
      }
    }
    return n;
  }

  // Hugging Face BPE: a character outside the vocabulary becomes its byte pieces before merging.
  #pushUnknownAsBytes(cp: number, n: number): number {
    const bytes: number[] = [];
    pushUtf8(cp, bytes);
    if (this.#spec.byteFallback && bytes.every((b) => this.#byteIds[b] >= 0)) {
      this.#ensure(n + bytes.length + 1);
      for (const b of bytes) this.#sym[n++] = this.#byteIds[b];
    } else {
      this.#sym[n++] = this.unkId;
    }
    return n;
  }

  #matchUserDefined(norm: string, i: number, end: number): number {
    for (const id of this.#userDefined) {
      const u = this.#spec.pieces[id];
      if (u.length <= end - i && norm.startsWith(u, i)) return id;
    }
    return -1;
  }

  // Linear-scan BPE for short symbol runs; returns the final count, symbols left in #sym.
  #mergeByScan(n: number): number {
    const sym = this.#sym, rank = this.#rank, merged = this.#merged;
    for (let i = 0; i + 1 < n; i++) this.#lookupInto(i, sym[i], sym[i + 1]);
    for (;;) {
      let best = NO_RANK;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        if (rank[i] < best) {
          best = rank[i];
          at = i;
        }
      }
      if (at < 0) return n;
      sym[at] = merged[at];
      for (let j = at + 1; j + 1 < n; j++) {
        sym[j] = sym[j + 1];
        rank[j] = rank[j + 1];
        merged[j] = merged[j + 1];
      }
      n--;
      if (at > 0) this.#lookupInto(at - 1, sym[at - 1], sym[at]);
      if (at + 1 < n) this.#lookupInto(at, sym[at], sym[at + 1]);
      else rank[at] = NO_RANK;
    }
  }

  #lookupInto(i: number, left: number, right: number): void {
    const slot = this.#pairs.find(left, right);
    if (slot < 0) {
      this.#rank[i] = NO_RANK;
    } else {
      this.#rank[i] = this.#pairs.rank(slot);
      const m = this.#pairs.merged(slot);
      this.#merged[i] = m;
      if (this.#hasUnused && this.#kinds[m] === PieceKind.UNUSED) this.#revMerge.set(m, [left, right]);
    }
  }

  // Heap-driven BPE for long symbol runs; the result is the list from 0 through #next.
  #mergeByHeap(n: number): void {
    const sym = this.#sym, prev = this.#prev, next = this.#next;
    const pairs = this.#pairs;
    const heap = this.#heap;
    heap.clear();
    const push = (pos: number) => {
      const right = next[pos];
      if (right < 0) return;
      const slot = pairs.find(sym[pos], sym[right]);
      if (slot < 0) return;
      const m = pairs.merged(slot);
      if (this.#hasUnused && this.#kinds[m] === PieceKind.UNUSED) {
        this.#revMerge.set(m, [sym[pos], sym[right]]);
      }
      heap.push(pairs.rank(slot) * TWO_POW_32 + pos);
    };
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const pos = key % TWO_POW_32;
      const rank = (key - pos) / TWO_POW_32;
      if (sym[pos] === DEAD) continue;
      const right = next[pos];
      if (right < 0) continue;
      const slot = pairs.find(sym[pos], sym[right]);
      if (slot < 0 || pairs.rank(slot) !== rank) continue;
      sym[pos] = pairs.merged(slot);
      sym[right] = DEAD;
      const after = next[right];
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      if (prev[pos] >= 0) push(prev[pos]);
      push(pos);
    }
  }

  // Appends the ids of one final symbol: the piece itself, its parts if it is an unused piece, or
  // its bytes (or <unk>) if it is a character outside the vocabulary.
  #emit(s: number, out: number[]): void {
    if (s >= 0 && s < this.vocabSize) {
      if (this.#hasUnused && this.#kinds[s] === PieceKind.UNUSED) {
        const parts = this.#revMerge.get(s);
        if (parts !== undefined) {
          this.#emit(parts[0], out);
          this.#emit(parts[1], out);
          return;
        }
      }
      if (s !== this.unkId || !this.#spec.fuseUnk || out[out.length - 1] !== s) out.push(s);
      return;
    }
    let cp: number;
    if (s >= this.vocabSize) {
      const e = s - this.vocabSize;
      if (this.#extEmit[e] >= 0) {
        out.push(this.#extEmit[e]);
        return;
      }
      cp = this.#extChar[e];
    } else {
      cp = -s - 1;
    }
    if (this.#spec.byteFallback) {
      const bytes: number[] = [];
      pushUtf8(cp, bytes);
      for (const b of bytes) out.push(this.#byteIds[b] >= 0 ? this.#byteIds[b] : this.unkId);
    } else if (!this.#spec.fuseUnk || out[out.length - 1] !== this.unkId) {
      out.push(this.unkId);
    }
  }

  #ensure(n: number): void {
    if (this.#sym.length >= n) return;
    let size = this.#sym.length;
    while (size < n) size *= 2;
    const grow = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.#sym = grow(this.#sym);
    this.#rank = grow(this.#rank);
    this.#merged = grow(this.#merged);
    this.#prev = new Int32Array(size);
    this.#next = new Int32Array(size);
  }

  #setCharSymbol(cp: number, id: number): void {
    if (cp < 0x10000) this.#bmp[cp] = id;
    else this.#astral.set(cp, id);
  }

  #charSymbol(cp: number): number {
    return cp < 0x10000 ? this.#bmp[cp] : (this.#astral.get(cp) ?? -(cp + 1));
  }

  // SentencePiece: a pair merges when its concatenation is a piece. Operands are normal or unused
  // pieces, or single characters (pieces or not); results may also be user-defined pieces.
  #buildScorePairs(): PairTable {
    const spec = this.#spec;
    const scores = spec.scores!;
    const kinds = spec.kinds;
    const n = spec.pieces.length;
    const isOperand = (k: number) => k === PieceKind.NORMAL || k === PieceKind.UNUSED;
    const isResult = (k: number) => isOperand(k) || k === PieceKind.USER_DEFINED;

    // Single characters that are pieces of any mergeable kind map to themselves.
    for (let id = 0; id < n; id++) {
      const p = spec.pieces[id];
      const cp = p.codePointAt(0)!;
      if (p.length > 0 && p.length === (cp > 0xffff ? 2 : 1) && isResult(kinds[id])) {
        if (this.#charSymbol(cp) < 0) this.#setCharSymbol(cp, id);
      }
    }
    // A single character spelled like a reserved piece (<unk>, control, byte) is emitted as that
    // piece, as SentencePiece's final lookup does.
    for (let id = 0; id < n; id++) {
      const p = spec.pieces[id];
      const cp = p.codePointAt(0);
      if (cp === undefined || p.length !== (cp > 0xffff ? 2 : 1) || isResult(kinds[id])) continue;
      if (this.#charSymbol(cp) < 0) this.#setCharSymbol(cp, this.#newExtChar(cp, id));
    }
    // Multi-character operands are found by range, without cutting substrings.
    const operands = new PieceIndex(spec.pieces, (id) => isOperand(kinds[id]) && spec.pieces[id].length > 1);
    const symbolOf = (p: string, start: number, end: number): number => {
      const cp = p.codePointAt(start)!;
      if (end - start === (cp > 0xffff ? 2 : 1)) {
        let id = this.#charSymbol(cp);
        if (id < 0) {
          id = this.#newExtChar(cp, -1);
          this.#setCharSymbol(cp, id);
        }
        return id >= n || isOperand(kinds[id]) ? id : -1;
      }
      return operands.find(p, start, end);
    };

    // Dense ranks: best score first, equal scores share a rank (ties go to the leftmost pair).
    const resultIds: number[] = [];
    let splitCount = 0;
    for (let id = 0; id < n; id++) {
      const p = spec.pieces[id];
      if (!isResult(kinds[id]) || p.length < 2 || (p.length === 2 && p.codePointAt(0)! > 0xffff)) continue;
      resultIds.push(id);
      splitCount += p.length - 1;
    }
    const distinct = [...new Set(resultIds.map((id) => scores[id]))].sort((a, b) => b - a);
    const rankOfScore = new Map(distinct.map((s, r) => [s, r]));

    const table = new PairTable(splitCount);
    for (const id of resultIds) {
      const p = spec.pieces[id];
      const rank = rankOfScore.get(scores[id])!;
      for (let k = 1; k < p.length; k++) {
        const c = p.charCodeAt(k);
        if (c >= 0xdc00 && c <= 0xdfff) continue; // inside a surrogate pair
        const left = symbolOf(p, 0, k);
        if (left < 0) continue;
        const right = symbolOf(p, k, p.length);
        if (right < 0) continue;
        table.set(left, right, id, rank);
      }
    }
    return table;
  }

  #newExtChar(cp: number, emitId: number): number {
    this.#extChar.push(cp);
    this.#extEmit.push(emitId);
    return this.vocabSize + this.#extChar.length - 1;
  }

  // Hugging Face BPE: only listed merges apply, ranked by position in the list (a later duplicate
  // of a pair replaces the earlier one, as the reference's hash map does).
  #buildMergePairs(index: Map<string, number>): PairTable {
    const spec = this.#spec;
    const n = spec.pieces.length;
    for (let id = 0; id < n; id++) {
      const p = spec.pieces[id];
      const cp = p.codePointAt(0);
      if (cp === undefined || p.length !== (cp > 0xffff ? 2 : 1)) continue;
      if (this.#charSymbol(cp) < 0 && index.get(p) === id) this.#setCharSymbol(cp, id);
    }
    const merges = spec.merges!;
    // Heap keys pack rank * 2^32 + position into a double, exact while rank < 2^21.
    if (merges.length >= 1 << 21) throw new Error(`too many merges (${merges.length})`);
    const table = new PairTable(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r];
      const m = index.get(spec.pieces[a] + spec.pieces[b]);
      if (m === undefined) throw new Error(`merge ${r} (${spec.pieces[a]} ${spec.pieces[b]}) makes no piece`);
      table.set(a, b, m, r);
    }
    return table;
  }
}

// Collapses each run of `id` in `ids` to one, in place.
function fuseRuns(ids: number[], id: number): void {
  let w = 0;
  for (let r = 0; r < ids.length; r++) {
    if (ids[r] === id && w > 0 && ids[w - 1] === id) continue;
    ids[w++] = ids[r];
  }
  ids.length = w;
}
