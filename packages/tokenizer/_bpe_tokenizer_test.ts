// The engine against a naive, literal reading of SentencePiece's BPE (merge the best-scoring
// adjacent pair whose concatenation is a piece, leftmost on ties; unknown characters to bytes at the
// end), on random vocabularies built to hit ties, characters that only occur inside pieces, long
// runs (heap path) and short ones (scan path), with and without the chunk shortcut.
import assert from "node:assert/strict";
import { BpeTokenizer } from "./_bpe_tokenizer.ts";
import { PieceKind } from "./tokenizer.ts";

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Vocab {
  pieces: string[];
  kinds: Uint8Array;
  scores: Float32Array;
}

// <unk>, <s>, </s>, 256 byte pieces, then random pieces over a small alphabet (some characters never
// get a piece of their own), scores drawn from a few values so that ties are common.
function randomVocab(rand: () => number, alphabet: string[]): Vocab {
  const pieces = ["<unk>", "<s>", "</s>"];
  const kinds: number[] = [PieceKind.UNKNOWN, PieceKind.CONTROL, PieceKind.CONTROL];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    kinds.push(PieceKind.BYTE);
  }
  const seen = new Set(pieces);
  const add = (p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    pieces.push(p);
    kinds.push(PieceKind.NORMAL);
  };
  for (const c of alphabet) if (rand() < 0.8) add(c);
  for (let i = 0; i < 120; i++) {
    const len = 2 + Math.floor(rand() * 5);
    let p = rand() < 0.4 ? "\u2581" : "";
    while ([...p].length < len) p += alphabet[Math.floor(rand() * alphabet.length)];
    add(p);
  }
  add("\u2581");
  const scores = new Float32Array(pieces.length);
  for (let i = 259; i < pieces.length; i++) scores[i] = -Math.floor(rand() * 12);
  return { pieces, kinds: Uint8Array.from(kinds), scores };
}

function naiveEncode(v: Vocab, text: string): number[] {
  if (text.length === 0) return [];
  const mergeable = new Map<string, number>();
  const any = new Map<string, number>();
  v.pieces.forEach((p, id) => {
    any.set(p, id);
    if (v.kinds[id] === PieceKind.NORMAL) mergeable.set(p, id);
  });
  const syms = [..."\u2581" + text.replaceAll(" ", "\u2581")];
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const id = mergeable.get(syms[i] + syms[i + 1]);
      if (id !== undefined && v.scores[id] > bestScore) {
        best = i;
        bestScore = v.scores[id];
      }
    }
    if (best < 0) break;
    syms.splice(best, 2, syms[best] + syms[best + 1]);
  }
  const out: number[] = [];
  for (const s of syms) {
    const id = any.get(s);
    if (id !== undefined) out.push(id);
    else for (const b of new TextEncoder().encode(s)) out.push(3 + b);
  }
  return out;
}

function tokenizerFor(v: Vocab, chunking: boolean, cacheLimit?: number): BpeTokenizer {
  return new BpeTokenizer({
    pieces: v.pieces,
    kinds: v.kinds,
    mode: "scores",
    scores: v.scores,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    byteFallback: true,
    fuseUnk: true,
    addDummyPrefix: true,
    escapeWhitespaces: true,
    removeExtraWhitespaces: false,
    splitAtEverySpace: false,
    unkSurface: " \u2047 ",
  }, { chunking, cacheLimit });
}

Deno.test("random vocabularies: the engine equals a literal reading of SentencePiece's BPE", () => {
  const alphabet = ["a", "b", "c", "d", "é", "中", "🦙", " ", "\u2581", "\n"];
  let checked = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const rand = mulberry32(seed);
    const vocab = randomVocab(rand, alphabet);
    const tokenizers = [tokenizerFor(vocab, true), tokenizerFor(vocab, false), tokenizerFor(vocab, true, 3)];
    for (let i = 0; i < 60; i++) {
      // Mostly short texts (scan path), some long ones (heap path: more than 32 symbols).
      const len = rand() < 0.8 ? Math.floor(rand() * 20) : 33 + Math.floor(rand() * 200);
      let text = "";
      for (let j = 0; j < len; j++) text += alphabet[Math.floor(rand() * alphabet.length)];
      const want = naiveEncode(vocab, text);
      for (const tok of tokenizers) {
        assert.deepEqual(
          tok.encode(text),
          want,
          `seed ${seed} text ${JSON.stringify(text)} chunked ${tok.chunked}`,
        );
      }
      checked++;
    }
  }
  assert.equal(checked, 2400);
});

Deno.test("the chunk shortcut turns itself off for a vocabulary with ▁ inside a piece", () => {
  const rand = mulberry32(7);
  const vocab = randomVocab(rand, ["a", "b"]);
  vocab.pieces.push("a\u2581b");
  vocab.kinds = Uint8Array.from([...vocab.kinds, PieceKind.NORMAL]);
  vocab.scores = Float32Array.from([...vocab.scores, 5]);
  const tok = tokenizerFor(vocab, true);
  assert.equal(tok.chunked, false);
  assert.deepEqual(tok.encode("xa b"), naiveEncode(vocab, "xa b"));
  assert.ok(tok.encode("a b").includes(vocab.pieces.length - 1));
});

Deno.test("encode options, idToPiece and out-of-range ids", () => {
  const tok = tokenizerFor(randomVocab(mulberry32(3), ["a", "b"]), true);
  const ids = tok.encode("ab ba");
  assert.deepEqual(tok.encode("ab ba", { bos: true }), [1, ...ids]);
  assert.deepEqual(tok.encode("ab ba", { eos: true }), [...ids, 2]);
  assert.deepEqual(tok.encode("", { bos: true, eos: true }), [1, 2]);
  assert.equal(tok.idToPiece(1), "<s>");
  assert.throws(() => tok.idToPiece(tok.vocabSize), RangeError);
  assert.throws(() => tok.decode([5, -1]), RangeError);
  assert.throws(() => tok.decode([1.5]), RangeError);
  assert.equal(tok.decode(new Int32Array(ids)), "ab ba");
});
