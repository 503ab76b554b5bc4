// The trainer: its output loads in sentencepiece and encodes there as it does here (tiny_cases,
// made by make_fixtures.py from the committed tiny.model), and it has the shape the issue asks for.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { codeSample, sotuAddresses, tinyModelBytes } from "./_sample_corpus.ts";
import { FIXTURES, Mismatches, readGzipJson, sameIds, sha256Hex, show } from "./_testing.ts";
import { decodeModelProto, parseSentencePieceModel } from "./sentencepiece_model.ts";
import { PieceKind } from "./tokenizer.ts";
import { trainBpeTokenizer } from "./train.ts";

const tinyBytes = await Deno.readFile(`${FIXTURES}tiny.model`);

Deno.test("tiny.model is what the recipe trains today (training is deterministic)", async () => {
  const again = await tinyModelBytes();
  assert.equal(await sha256Hex(again), await sha256Hex(tinyBytes));
});

Deno.test("sentencepiece loads our tiny.model and gives the same ids as we do", async () => {
  const fx = await readGzipJson<{
    model_sha256: string;
    text_stride: number;
    ids: number[][];
    pieces: string[];
    bos: number;
    eos: number;
    unk: number;
  }>("tiny_cases.json.gz");
  assert.equal(fx.model_sha256, await sha256Hex(tinyBytes), "the fixture was made from this tiny.model");
  const texts = (await readGzipJson<{ texts: string[] }>("llama2_cases.json.gz")).texts
    .filter((_, i) => i % fx.text_stride === 0);
  const tok = parseSentencePieceModel(tinyBytes, "tiny.model");
  assert.deepEqual([tok.bosId, tok.eosId, tok.unkId], [fx.bos, fx.eos, fx.unk]);
  assert.deepEqual(Array.from({ length: tok.vocabSize }, (_, i) => tok.idToPiece(i)), fx.pieces);
  const bad = new Mismatches();
  for (let i = 0; i < texts.length; i++) {
    const got = tok.encode(texts[i]);
    if (!sameIds(got, fx.ids[i])) bad.add(() => `${show(texts[i])}: got ${got} want ${fx.ids[i]}`);
  }
  assert.ok(texts.length >= 2000);
  assert.equal(bad.count, 0, `mismatches: ${bad}`);
});

const corpus = (await sotuAddresses()).slice(-40, -20);

Deno.test("a trained vocabulary has Llama 2's layout and SentencePiece's piece rules", () => {
  const tok = trainBpeTokenizer(corpus, { vocabSize: 1000 });
  const pieces = tok.model.pieces;
  assert.equal(tok.vocabSize, 1000);
  assert.equal(pieces.length, 1000);
  assert.deepEqual(pieces.slice(0, 3).map((p) => [p.piece, p.type]), [
    ["<unk>", PieceKind.UNKNOWN],
    ["<s>", PieceKind.CONTROL],
    ["</s>", PieceKind.CONTROL],
  ]);
  for (let b = 0; b < 256; b++) {
    assert.equal(pieces[3 + b].piece, `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    assert.equal(pieces[3 + b].type, PieceKind.BYTE);
  }
  assert.equal(new Set(pieces.map((p) => p.piece)).size, 1000, "pieces are unique");
  const normal = pieces.slice(259);
  for (let i = 1; i < normal.length; i++) assert.ok(normal[i].score < normal[i - 1].score, "scores fall");
  for (const { piece } of normal) {
    const chars = [...piece];
    assert.ok(chars.length <= 16, piece);
    assert.ok(!chars.slice(1).includes("\u2581"), `▁ only at the start: ${piece}`);
    if (chars.length > 1) assert.ok(!/\p{Nd}/u.test(piece), `digits stay alone: ${piece}`);
    const body = piece.replace(/^\u2581/, "");
    assert.ok(!(/\p{L}/u.test(body) && /[\p{P}\p{S}]/u.test(body)), `no letters with punctuation: ${piece}`);
  }
  assert.equal(tok.model.trainerSpec.byteFallback, true);
  assert.equal(tok.model.normalizerSpec.removeExtraWhitespaces, false);
  // The pieces do their job: the corpus takes far fewer tokens than characters, and comes back whole.
  const text = corpus[0];
  const ids = tok.encode(text);
  assert.ok(ids.length < text.length / 2.5, `${ids.length} tokens for ${text.length} characters`);
  assert.equal(tok.decode(ids), text);
});

Deno.test("on code, runs of spaces become pieces of their own (Llama 2's rule), unless turned off", async () => {
  const code = (await codeSample()).split("\n").slice(0, 4000);
  const tok = trainBpeTokenizer(code, { vocabSize: 800 });
  const pieces = tok.model.pieces.slice(259).map((p) => p.piece);
  assert.ok(pieces.includes("\u2581".repeat(4)) && pieces.includes("\u2581".repeat(8)), "indentation pieces");
  for (const p of pieces) {
    assert.ok(/^\u2581+$/.test(p) || !p.slice(1).includes("\u2581"), `▁ inside ${JSON.stringify(p)}`);
  }
  const indented = "        return value;";
  assert.ok(tok.encode(indented).length <= 6, `${tok.encode(indented).map((id) => tok.idToPiece(id))}`);
  assert.equal(tok.decode(tok.encode(indented)), indented);
  const plain = trainBpeTokenizer(code, { vocabSize: 800, allowWhitespaceOnlyPieces: false });
  assert.ok(!plain.model.pieces.some((p) => p.piece.startsWith("\u2581\u2581")));
  assert.equal(plain.model.trainerSpec.allowWhitespaceOnlyPieces, false);
});

Deno.test("the trained tokenizer and its serialized model encode alike; training is deterministic", () => {
  const a = trainBpeTokenizer(corpus.slice(0, 5), { vocabSize: 600 });
  const b = trainBpeTokenizer(corpus.slice(0, 5), { vocabSize: 600 });
  assert.deepEqual(a.toModelBytes(), b.toModelBytes());
  const reloaded = parseSentencePieceModel(a.toModelBytes());
  for (const t of [...corpus.slice(5, 7), "Ünïcödé 🦙 text\twith\r\nodd  spaces", ""]) {
    assert.deepEqual(reloaded.encode(t), a.encode(t));
  }
  assert.deepEqual(decodeModelProto(a.toModelBytes()).pieces, a.model.pieces);
});

Deno.test("characters beyond the coverage fall back to bytes; newlines never join pieces", () => {
  const texts = ["aaa bbb aaa bbb\nccc aaa", "aaa\nbbb ß", "x".repeat(50)];
  const tok = trainBpeTokenizer(texts, { vocabSize: 270, characterCoverage: 0.98 });
  const pieces = tok.model.pieces.map((p) => p.piece);
  assert.ok(!pieces.includes("ß"), "a character seen once is left to byte fallback at 98% coverage");
  assert.ok(pieces.every((p, i) => i < 259 || !p.includes("\n")));
  assert.deepEqual(tok.encode("ß").slice(1), [3 + 0xc3, 3 + 0x9f]);
});

Deno.test("impossible vocabulary sizes are refused with one-line errors", () => {
  const refuse = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => isUserError(e) && re.test((e as Error).message));
  refuse(() => trainBpeTokenizer(["abc"], { vocabSize: 100 }), /between 260 and/);
  refuse(() => trainBpeTokenizer(["abc"], { vocabSize: 1.5 }), /must be an integer/);
  refuse(
    () => trainBpeTokenizer(["abcdefghij"], { vocabSize: 262 }),
    /too small: the corpus needs 11 characters/,
  );
  refuse(
    () => trainBpeTokenizer(["ab ab"], { vocabSize: 5000 }),
    /too large for this corpus: only 264 pieces/,
  );
});
