// Models trained by sentencepiece itself with different options (make_fixtures.py), the ids
// sentencepiece gives under each, and what happens with models this package must refuse.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import type { BpeTokenizer } from "./_bpe_tokenizer.ts";
import { FIXTURES, Mismatches, readGzipJson, sameIds, show } from "./_testing.ts";
import {
  decodeModelProto,
  encodeModelProto,
  type ModelProto,
  parseSentencePieceModel,
  tokenizerFromModelProto,
} from "./sentencepiece_model.ts";
import { PieceKind } from "./tokenizer.ts";

const texts = (await readGzipJson<{ texts: string[] }>("llama2_cases.json.gz")).texts;
const spm = await readGzipJson<{ text_stride: number; ids: Record<string, number[][]> }>("spm_cases.json.gz");
const subset = texts.filter((_, i) => i % spm.text_stride === 0);

function assertUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `not a UserError: ${e}`);
    assert.match((e as Error).message, pattern);
    assert.ok(!(e as Error).message.includes("\n"), "one line");
    return true;
  });
}

for (const name of ["spm_bpe_bytefallback", "spm_bpe_unk", "spm_bpe_user", "spm_bpe_unused"]) {
  Deno.test(`${name}.model (trained by sentencepiece): 0 mismatches on ${subset.length} texts`, async () => {
    const bytes = await Deno.readFile(`${FIXTURES}${name}.model`);
    const tok = parseSentencePieceModel(bytes, `${name}.model`) as BpeTokenizer;
    const expected = spm.ids[name];
    assert.equal(expected.length, subset.length);
    const bad = new Mismatches();
    for (let i = 0; i < subset.length; i++) {
      const got = tok.encode(subset[i]);
      if (!sameIds(got, expected[i])) bad.add(() => `${show(subset[i])}: got ${got} want ${expected[i]}`);
    }
    assert.equal(bad.count, 0, `mismatches: ${bad}`);
    // The shortcut is on exactly where it is exact.
    assert.equal(tok.chunked, name === "spm_bpe_bytefallback" || name === "spm_bpe_unk");
  });
}

Deno.test("the variants exercise what they are meant to", async () => {
  const kinds = async (name: string) =>
    decodeModelProto(await Deno.readFile(`${FIXTURES}${name}.model`)).pieces.map((p) => p.type);
  assert.ok((await kinds("spm_bpe_unused")).filter((k) => k === PieceKind.UNUSED).length > 20);
  assert.ok((await kinds("spm_bpe_user")).includes(PieceKind.USER_DEFINED));
  const unk = spm.ids["spm_bpe_unk"].flat().filter((id) => id === 0).length;
  assert.ok(unk > 100, `only ${unk} <unk> in the no-byte-fallback model`);
  const user = decodeModelProto(await Deno.readFile(`${FIXTURES}spm_bpe_user.model`));
  assert.equal(user.normalizerSpec.addDummyPrefix, false);
  const unkModel = decodeModelProto(await Deno.readFile(`${FIXTURES}spm_bpe_unk.model`));
  assert.equal(unkModel.normalizerSpec.removeExtraWhitespaces ?? true, true);
});

Deno.test("encodeModelProto keeps every field decodeModelProto reads from sentencepiece's files", async () => {
  for (const name of ["spm_bpe_bytefallback", "spm_bpe_unk", "spm_bpe_user", "tiny"]) {
    const bytes = await Deno.readFile(`${FIXTURES}${name}.model`);
    const proto = decodeModelProto(bytes);
    const again = decodeModelProto(encodeModelProto(proto));
    assert.deepEqual(again, proto, name);
  }
});

Deno.test("a unigram model is refused with a one-line error", async () => {
  const bytes = await Deno.readFile(`${FIXTURES}spm_unigram.model`);
  assertUserError(
    () => parseSentencePieceModel(bytes, "spm_unigram.model"),
    /^spm_unigram\.model: UNIGRAM model; only BPE/,
  );
});

Deno.test("truncated, garbage and empty files are refused with the file named", async () => {
  const bytes = await Deno.readFile(`${FIXTURES}spm_bpe_bytefallback.model`);
  for (const cut of [1, 2, 7, 100, bytes.length - 1]) {
    assertUserError(
      () => parseSentencePieceModel(bytes.subarray(0, cut), "cut.model"),
      /^cut\.model: not a SentencePiece model \(/,
    );
  }
  // Cut exactly after a piece: every field is whole, but the specs are missing.
  let end = 0;
  for (let i = 0; i < 50; i++) end += 2 + bytes[end + 1];
  assertUserError(
    () => parseSentencePieceModel(bytes.subarray(0, end), "cut.model"),
    /^cut\.model: truncated or not/,
  );
  const text = new TextEncoder().encode("hello, this is a text file\n");
  assertUserError(() => parseSentencePieceModel(text, "notes.txt"), /^notes\.txt: not a SentencePiece model/);
  assertUserError(() => parseSentencePieceModel(new Uint8Array(0), "empty.model"), /no pieces/);
});

Deno.test("models sentencepiece would not load are refused", async () => {
  const base = decodeModelProto(await Deno.readFile(`${FIXTURES}spm_bpe_bytefallback.model`));
  const variant = (edit: (m: ModelProto) => void) => {
    const m = structuredClone(base);
    edit(m);
    return () => tokenizerFromModelProto(m, "x.model");
  };
  assertUserError(
    variant((m) => (m.normalizerSpec.precompiledCharsmap = new Uint8Array([1, 2, 3, 4, 5]))),
    /character map/,
  );
  assertUserError(
    variant((m) => (m.trainerSpec.treatWhitespaceAsSuffix = true)),
    /treat_whitespace_as_suffix/,
  );
  assertUserError(variant((m) => (m.pieces[300].piece = m.pieces[301].piece)), /appears twice/);
  assertUserError(variant((m) => (m.pieces[0].type = PieceKind.NORMAL)), /no unknown piece/);
  assertUserError(variant((m) => (m.pieces[10].type = PieceKind.NORMAL)), /byte piece <0x07> is missing/);
  assertUserError(variant((m) => (m.pieces[400].piece = "")), /piece 400 is empty/);
  assertUserError(variant((m) => (m.trainerSpec.modelType = undefined)), /UNIGRAM model/);
});

Deno.test("proto2 defaults apply to absent fields", () => {
  const model: ModelProto = {
    pieces: [
      { piece: "<unk>", score: 0, type: PieceKind.UNKNOWN },
      { piece: "\u2581", score: -3, type: PieceKind.NORMAL },
      { piece: "a", score: -4, type: PieceKind.NORMAL },
      { piece: "\u2581a", score: -1, type: PieceKind.NORMAL },
    ],
    trainerSpec: { modelType: 2 },
    normalizerSpec: {},
  };
  const tok = tokenizerFromModelProto(model);
  // remove_extra_whitespaces defaults to true, add_dummy_prefix to true; byte_fallback to false.
  assert.deepEqual(tok.encode("  a   a  "), [3, 3]);
  assert.deepEqual(tok.encode("ab"), [3, 0]);
  assert.deepEqual(tok.encode("bb"), [1, 0], "consecutive unknowns fuse into one <unk>");
  assert.equal(tok.decode([3, 0, 3]), "a \u2047  a");
  assert.equal(tok.bosId, -1);
  assert.throws(() => tok.encode("a", { bos: true }), /no BOS/);
});

Deno.test("a piece that is U+FEFF survives parsing (it is not a byte-order mark here)", () => {
  const model: ModelProto = {
    pieces: [
      { piece: "<unk>", score: 0, type: PieceKind.UNKNOWN },
      { piece: "\ufeff", score: 0, type: PieceKind.NORMAL },
    ],
    trainerSpec: { modelType: 2 },
    normalizerSpec: { addDummyPrefix: false },
  };
  const tok = parseSentencePieceModel(encodeModelProto(model));
  assert.equal(tok.idToPiece(1), "\ufeff");
  assert.deepEqual(tok.encode("\ufeff"), [1]);
});
