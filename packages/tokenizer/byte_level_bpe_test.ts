import assert from "node:assert/strict";
import { UserError } from "@tinyllama-ts/cli";
import {
  BYTE_TO_CHAR,
  byteLevelBpeFromVocab,
  ByteLevelBpeTokenizer,
  byteLevelGgufFields,
  compileOnigurumaPattern,
  GPT2_PATTERN,
  LLAMA3_PATTERN,
  parseHfTokenizerJson,
  PreTokenizer,
  QWEN2_PATTERN,
  toByteLevel,
  type Tokenizer,
} from "@tinyllama-ts/tokenizer";
import {
  gpt2TokenizerJson,
  gpt2Vocab,
  llama3TokenizerJson,
  qwen3TokenizerJson,
} from "./_byte_level_reference.ts";
import { Mismatches, readGzipJson, sameIds, show } from "./_testing.ts";

interface Cases {
  tokenizers_version: string;
  texts: string[];
  ids: Record<"llama3" | "qwen3" | "gpt2" | "smollm", number[][]>;
}
const cases = await readGzipJson<Cases>("byte_level_cases.json.gz");

function checkAll(tok: Tokenizer, expected: number[][], roundTrip: (t: string) => boolean): void {
  const bad = new Mismatches();
  const badDecode = new Mismatches();
  cases.texts.forEach((text, i) => {
    const ids = tok.encode(text);
    if (!sameIds(ids, expected[i])) {
      bad.add(() => `${show(text)}: ours ${JSON.stringify(ids)} vs HF ${JSON.stringify(expected[i])}`);
    }
    if (roundTrip(text) && tok.decode(ids) !== text) {
      badDecode.add(() => `${show(text)} → ${show(tok.decode(ids))}`);
    }
  });
  assert.deepEqual(
    bad.toString(),
    "0",
    `texts whose ids differ from HF tokenizers ${cases.tokenizers_version}`,
  );
  assert.deepEqual(badDecode.toString(), "0", "texts that do not decode back");
}

// Special tokens vanish in decode, so texts holding one do not round-trip.
const noSpecial = (specials: string[]) => (t: string) => !specials.some((s) => t.includes(s));

Deno.test("Llama 3 tokenizer.json: ids equal HF tokenizers (Split, ByteLevel, ignore_merges)", async () => {
  const tok = parseHfTokenizerJson(await llama3TokenizerJson(), "llama3.json");
  assert.deepEqual([tok.vocabSize, tok.bosId, tok.eosId], [128256, 128000, 128001]);
  checkAll(tok, cases.ids.llama3, (t) => !/<\|[a-z_0-9]+\|>/.test(t));
  assert.deepEqual(tok.encode("hi", { bos: true, eos: true }), [128000, 6151, 128001]);
});

Deno.test("Qwen 3 tokenizer.json: ids equal HF tokenizers (NFC, Split, added tokens)", async () => {
  const tok = parseHfTokenizerJson(await qwen3TokenizerJson(), "qwen3.json");
  assert.deepEqual([tok.vocabSize, tok.bosId, tok.eosId], [151669, -1, 151643]);
  checkAll(tok, cases.ids.qwen3, (t) => t === t.normalize("NFC") && !/<\|[a-z_]+\|>/.test(t));
});

Deno.test("GPT-2 and SmolLM layouts: ids equal HF tokenizers, from tokenizer.json and from GGUF fields", async () => {
  const vocab = await gpt2Vocab();
  const types = vocab.tokens.map((_, id) => id === 50256 ? 3 : 1);
  for (const [layout, pre] of [["gpt2", "gpt-2"], ["smollm", "smollm"]] as const) {
    const fromJson = parseHfTokenizerJson(await gpt2TokenizerJson(layout), `${layout}.json`);
    assert.deepEqual([fromJson.vocabSize, fromJson.bosId, fromJson.eosId], [50257, -1, 50256]);
    checkAll(fromJson, cases.ids[layout], noSpecial(["<|endoftext|>"]));
    const fromGguf = byteLevelBpeFromVocab({ ...vocab, tokenTypes: types, pre, bosId: 50256, eosId: 50256 });
    checkAll(fromGguf, cases.ids[layout], noSpecial(["<|endoftext|>"]));
  }
});

Deno.test("GGUF llama-bpe and qwen2: the same ids as the model's tokenizer.json", async () => {
  for (
    const [json, pre, key] of [[llama3TokenizerJson, "llama-bpe", "llama3"], [
      qwen3TokenizerJson,
      "qwen2",
      "qwen3",
    ]] as const
  ) {
    const root = JSON.parse(await json());
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(root.model.vocab as Record<string, number>)) tokens[id] = t;
    const types = tokens.map(() => 1);
    for (const a of root.added_tokens) {
      tokens[a.id] = a.content;
      types[a.id] = a.special ? 3 : 4;
    }
    const merges = (root.model.merges as (string | string[])[]).map((m) =>
      typeof m === "string" ? m : m.join(" ")
    );
    const tok = byteLevelBpeFromVocab({ tokens, merges, tokenTypes: types, pre });
    checkAll(tok, cases.ids[key], () => false);
    // And back: the tokenizer.json-loaded model gives the same GGUF fields.
    const fields = byteLevelGgufFields(parseHfTokenizerJson(JSON.stringify(root)) as ByteLevelBpeTokenizer);
    assert.equal(fields.pre, pre);
    assert.deepEqual(fields.tokens, tokens);
    assert.deepEqual(fields.merges, merges);
    assert.deepEqual(fields.tokenTypes, types);
  }
});

Deno.test("pre-tokenizer regexes match Oniguruma's \\s, not JavaScript's", () => {
  const re = compileOnigurumaPattern(GPT2_PATTERN);
  assert.deepEqual("a\u0085b".match(re), ["a", "\u0085", "b"]);
  assert.deepEqual("a\ufeffb".match(re), ["a", "\ufeff", "b"]); // U+FEFF is no space to Oniguruma
  assert.deepEqual("x  1".match(compileOnigurumaPattern(LLAMA3_PATTERN)), ["x", " ", " ", "1"]);
  assert.deepEqual("12345".match(compileOnigurumaPattern(LLAMA3_PATTERN)), ["123", "45"]);
  assert.deepEqual("12345".match(compileOnigurumaPattern(QWEN2_PATTERN)), ["1", "2", "3", "4", "5"]);
  assert.throws(() => compileOnigurumaPattern("[\\S]"), /\\S inside a character class/);
});

Deno.test("ByteLevel add_prefix_space adds a space to each piece that lacks one", () => {
  const words: string[] = [];
  new PreTokenizer([{ type: "digits", individual: false }, {
    type: "byte_level",
    addPrefixSpace: true,
    useRegex: true,
  }])
    .split("ab12 c", (w) => words.push(w));
  assert.deepEqual(words, [" ab", " 12", " c"]);
});

Deno.test("byte-level spelling and a hand-built model", () => {
  assert.deepEqual(BYTE_TO_CHAR.length, 256);
  assert.deepEqual(new Set(BYTE_TO_CHAR).size, 256);
  assert.deepEqual(toByteLevel(" é\n"), "ĠÃ©Ċ");
  const tokens = [...BYTE_TO_CHAR, "Ġa", "Ġaa", "<|end|>"];
  const tok = new ByteLevelBpeTokenizer({
    tokens,
    merges: [["Ġ", "a"], ["Ġa", "a"]],
    added: [{ id: 258, content: "<|end|>", special: true, normalized: false }],
    normalizer: "none",
    preTokenizer: [{ type: "byte_level", addPrefixSpace: false, useRegex: true }],
    ignoreMerges: false,
    bosId: -1,
    eosId: 258,
  });
  assert.deepEqual(tok.encode(" aaa a<|end|>"), [257, 0x61, 256, 258]);
  assert.deepEqual(tok.decode([257, 0x61, 256, 258]), " aaa a");
  assert.deepEqual(tok.idToPiece(257), "Ġaa");
  assert.throws(() => tok.decode([259]), RangeError);
  // A word longer than the linear-scan limit goes through the heap path: same merges.
  const long = " a".repeat(40);
  assert.deepEqual(tok.encode(long), new Array(40).fill(256));
});

Deno.test("malformed byte-level inputs are one-line errors", () => {
  const bad = (json: object, msg: string) =>
    assert.throws(
      () => parseHfTokenizerJson(JSON.stringify(json), "t.json"),
      (e: unknown) => e instanceof UserError && e.message.startsWith("t.json: ") && e.message.includes(msg),
    );
  const vocab = Object.fromEntries(BYTE_TO_CHAR.map((c, i) => [c, i]));
  const base = { model: { type: "BPE", vocab, merges: [] }, pre_tokenizer: { type: "ByteLevel" } };
  bad({ ...base, normalizer: { type: "Lowercase" } }, "normalizer");
  bad({
    ...base,
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "ByteLevel" }, { type: "Digits" }] },
  }, "after ByteLevel");
  bad({
    ...base,
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Whitespace" }, { type: "ByteLevel" }] },
  }, "Whitespace");
  bad({ ...base, model: { ...base.model, merges: ["Ġ zz"] } }, "merge 0 (Ġ zz) is not two tokens");
  bad({ ...base, model: { ...base.model, merges: ["Ġ a b"] } }, "merge 0");
  bad({ ...base, model: { ...base.model, vocab: { a: 0 } } }, "no token for byte");
  bad({ ...base, added_tokens: [{ id: 256, content: "<x>", lstrip: true }] }, "lstrip");
  assert.throws(
    () => byteLevelBpeFromVocab({ tokens: [...BYTE_TO_CHAR], merges: [], pre: "deepseek-llm" }),
    (e: unknown) => e instanceof UserError && e.message.includes('tokenizer.ggml.pre "deepseek-llm" is not'),
  );
});

Deno.test("GGUF fields are refused for a pre-tokenizer no tokenizer.ggml.pre value names", () => {
  const tok = new ByteLevelBpeTokenizer({
    tokens: [...BYTE_TO_CHAR],
    merges: [],
    added: [],
    normalizer: "none",
    preTokenizer: [{ type: "digits", individual: false }, {
      type: "byte_level",
      addPrefixSpace: false,
      useRegex: true,
    }],
    ignoreMerges: false,
    bosId: -1,
    eosId: -1,
  });
  assert.throws(
    () => byteLevelGgufFields(tok),
    (e: unknown) => e instanceof UserError && /no tokenizer\.ggml\.pre/.test(e.message),
  );
});
