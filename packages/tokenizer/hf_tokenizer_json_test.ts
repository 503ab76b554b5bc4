// tokenizer.json: the supported layouts on a small vocabulary, and one-line refusals for the rest.
// (Llama 2's real vocabulary against Hugging Face tokenizers is in llama2_test.ts.)
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { parseHfTokenizerJson } from "./hf_tokenizer_json.ts";

const S = "\u2581";
const LLAMA_NORMALIZER = {
  type: "Sequence",
  normalizers: [{ type: "Prepend", prepend: S }, { type: "Replace", pattern: { String: " " }, content: S }],
};
const bytes = Object.fromEntries(
  Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, 3 + b]),
);
const vocab = {
  "<unk>": 0,
  "<s>": 1,
  "</s>": 2,
  ...bytes,
  [S]: 259,
  a: 260,
  b: 261,
  [`${S}a`]: 262,
  ab: 263,
  [`${S}ab`]: 264,
};
const base = () => ({
  added_tokens: [
    { id: 0, content: "<unk>", special: true },
    { id: 1, content: "<s>", special: true },
    { id: 2, content: "</s>", special: true },
  ],
  normalizer: LLAMA_NORMALIZER as unknown,
  pre_tokenizer: null as unknown,
  model: {
    type: "BPE",
    unk_token: "<unk>",
    fuse_unk: true,
    byte_fallback: true,
    vocab: vocab as Record<string, number>,
    merges: [`${S} a`, "a b", `${S}a b`] as unknown[],
  } as Record<string, unknown>,
});
const parse = (j: unknown) => parseHfTokenizerJson(JSON.stringify(j), "t.json");

function refuse(j: unknown, re: RegExp) {
  assert.throws(() => parse(j), (e: unknown) => {
    assert.ok(isUserError(e), String(e));
    assert.match((e as Error).message, /^t\.json: /);
    assert.match((e as Error).message, re);
    return true;
  });
}

Deno.test("Llama 2's layout: prefix, merges by rank, byte fallback, specials never matched", () => {
  const tok = parse(base());
  assert.deepEqual(tok.encode("ab a"), [264, 262]);
  assert.deepEqual(tok.encode("b"), [259, 261]);
  assert.deepEqual(tok.encode("é"), [259, 3 + 0xc3, 3 + 0xa9]);
  assert.deepEqual([tok.bosId, tok.eosId, tok.unkId], [1, 2, 0]);
  assert.ok(tok.encode("<s>").every((id) => id > 2));
  assert.equal(tok.decode([1, 264, 262, 2]), "ab a");
});

Deno.test("merges only apply when listed (unlike a tokenizer.model, where any piece may form)", () => {
  const j = base();
  j.model.merges = [`${S} a`];
  assert.deepEqual(parse(j).encode("ab"), [262, 261]);
});

Deno.test("merges as [left, right] arrays, as newer files write them", () => {
  const j = base();
  j.model.merges = [[S, "a"], ["a", "b"], [`${S}a`, "b"]];
  assert.deepEqual(parse(j).encode("ab a"), [264, 262]);
});

Deno.test("Metaspace pre-tokenizer: no prefix before a leading space; split makes every ▁ a word start", () => {
  const j = base();
  j.normalizer = null;
  j.pre_tokenizer = { type: "Metaspace", replacement: S, prepend_scheme: "first", split: false };
  const tok = parse(j);
  assert.deepEqual(tok.encode(" ab"), [264]);
  assert.deepEqual(tok.encode("ab"), [264]);
  j.pre_tokenizer = { type: "Metaspace", replacement: S, prepend_scheme: "never", split: false };
  assert.deepEqual(parse(j).encode("ab"), [263]);
});

Deno.test("without byte fallback, unknown characters become one <unk> per run (fuse_unk)", () => {
  const j = base();
  j.model.byte_fallback = false;
  assert.deepEqual(parse(j).encode("aéé a"), [262, 0, 262]);
  j.model.fuse_unk = false;
  assert.deepEqual(parse(j).encode("aéé a"), [262, 0, 0, 262]);
});

Deno.test("other models and options are refused with one line naming the file", () => {
  refuse({ model: { type: "WordPiece", vocab: {} } }, /a WordPiece tokenizer; only BPE/);
  refuse({ model: { type: "Unigram", vocab: [] } }, /a Unigram tokenizer; only BPE/);
  refuse({ version: "1.0" }, /no "model" object/);
  refuse([1, 2], /no "model" object/);
  const edit = (f: (j: ReturnType<typeof base>) => void) => {
    const j = base();
    f(j);
    return j;
  };
  refuse(edit((j) => (j.model.dropout = 0.1)), /dropout/);
  refuse(edit((j) => (j.model.continuing_subword_prefix = "##")), /continuing_subword_prefix/);
  refuse(edit((j) => (j.model.ignore_merges = true)), /ignore_merges/);
  refuse(edit((j) => (j.model.merges = ["a c"])), /merge 0 "a c" is not two vocab tokens/);
  refuse(edit((j) => (j.model.merges = ["b a"])), /makes a token not in the vocab/);
  refuse(edit((j) => (j.model.vocab = { ...vocab, z: 300 })), /no token has id 265/);
  refuse(edit((j) => (j.model.unk_token = null)), /unk_token/);
  refuse(edit((j) => j.added_tokens.push({ id: 265, content: "<tool>", special: false })), /not special/);
  refuse(
    edit((j) => j.added_tokens.push({ id: 260, content: "<x>", special: true })),
    /id 260, which the vocab gives to "a"/,
  );
  refuse(edit((j) => (j.normalizer = { type: "NFKC" })), /normalizer "NFKC" is not supported/);
  refuse(edit((j) => (j.normalizer = { type: "Prepend", prepend: S })), /Prepend normalizer without Replace/);
  // A ByteLevel pre-tokenizer makes it a byte-level model, which byte fallback cannot be part of.
  refuse(
    edit((j) => (j.pre_tokenizer = { type: "ByteLevel" })),
    /byte_fallback with a ByteLevel pre-tokenizer is not supported/,
  );
  refuse(
    edit((j) => (j.pre_tokenizer = { type: "Metaspace", replacement: "_" })),
    /replacement "_" is not ▁/,
  );
  assert.throws(
    () => parseHfTokenizerJson("{ nope", "t.json"),
    /^UserError: t\.json: not valid JSON|t\.json: not valid JSON/,
  );
});

Deno.test("added special tokens beyond the vocabulary become control ids", () => {
  const j = base();
  j.added_tokens.push({ id: 265, content: "<|end|>", special: true });
  const tok = parse(j);
  assert.equal(tok.vocabSize, 266);
  assert.equal(tok.idToPiece(265), "<|end|>");
  assert.equal(tok.decode([264, 265]), "ab");
  assert.ok(!tok.encode("<|end|>").includes(265));
});
