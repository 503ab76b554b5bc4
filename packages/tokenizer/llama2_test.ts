// Llama 2 exactness: our encoder on a tokenizer.model and on tokenizer.json rebuilt from
// llama-tokenizer-js's data, against ids from Python's sentencepiece and Hugging Face tokenizers
// (tests/fixtures/tokenizer/make_fixtures.py) and against llama-tokenizer-js itself.
import assert from "node:assert/strict";
import { BpeTokenizer } from "./_bpe_tokenizer.ts";
import { llama2ModelBytes, llama2TokenizerJson, llamaTokenizerJs } from "./_llama2_reference.ts";
import { Mismatches, readGzipJson, sameIds, sha256Hex, show } from "./_testing.ts";
import { parseHfTokenizerJson } from "./hf_tokenizer_json.ts";
import { parseSentencePieceModel } from "./sentencepiece_model.ts";
import type { Tokenizer } from "./tokenizer.ts";

interface Cases {
  model_sha256: string;
  texts: string[];
  sp: number[][];
  hf_diff: Record<string, Record<string, number[]>>;
  hf_stride: Record<string, number>;
}
const cases = await readGzipJson<Cases>("llama2_cases.json.gz");
const decodeCases = (await readGzipJson<{ cases: [number[], string][] }>("llama2_decode.json.gz")).cases;
const modelBytes = llama2ModelBytes();
const spModel = parseSentencePieceModel(modelBytes, "llama2.model");

function checkAll(tok: Tokenizer, expected: (i: number) => number[] | undefined): Mismatches {
  const bad = new Mismatches();
  for (let i = 0; i < cases.texts.length; i++) {
    const want = expected(i);
    if (want === undefined) continue;
    const got = tok.encode(cases.texts[i]);
    if (!sameIds(got, want)) bad.add(() => `#${i} ${show(cases.texts[i])}: got ${got} want ${want}`);
  }
  return bad;
}

Deno.test("the rebuilt tokenizer.model is byte for byte the one the fixture script built", async () => {
  assert.equal(await sha256Hex(modelBytes), cases.model_sha256);
  assert.equal(spModel.vocabSize, 32000);
  assert.deepEqual([spModel.unkId, spModel.bosId, spModel.eosId], [0, 1, 2]);
});

Deno.test("the fixture is as varied as the issue asks", () => {
  const t = cases.texts;
  assert.ok(t.length >= 5000, `${t.length} texts`);
  const has = (re: RegExp) => t.filter((s) => re.test(s)).length;
  assert.ok(has(/\p{Script=Han}/u) >= 100, "CJK");
  assert.ok(has(/\p{Script=Devanagari}/u) >= 50, "Devanagari");
  assert.ok(has(/\p{Script=Arabic}/u) >= 50, "Arabic");
  assert.ok(has(/\u200d/u) >= 50, "ZWJ sequences");
  assert.ok(has(/\p{Extended_Pictographic}/u) >= 200, "emoji");
  assert.ok(has(/ {4,}/) >= 100 && has(/\t/) >= 100 && has(/\r\n/) >= 50, "whitespace runs, tabs, CRLF");
  assert.ok(has(/[\p{Cc}--[\t\n\r ]]/v) >= 100, "control characters");
  assert.ok(t.includes(""), "empty string");
  assert.ok(has(/[a-z]{500,}/) >= 20, "very long words");
  assert.ok(has(/<s>|<\/s>|<unk>/) >= 50, "special-piece spellings");
});

Deno.test("tokenizer.model: 0 mismatches against sentencepiece's Llama 2 ids", () => {
  const bad = checkAll(spModel, (i) => cases.sp[i]);
  assert.equal(bad.count, 0, `mismatches: ${bad}`);
});

Deno.test("tokenizer.model: the chunk-and-cache shortcut changes nothing", () => {
  const whole = new BpeTokenizer((spModel as BpeTokenizer).spec, { chunking: false });
  assert.ok((spModel as BpeTokenizer).chunked && !whole.chunked);
  const bad = checkAll(whole, (i) => cases.sp[i]);
  assert.equal(bad.count, 0, `mismatches without chunking: ${bad}`);
  // A tiny cache that keeps starting over must not change results either.
  const churn = new BpeTokenizer((spModel as BpeTokenizer).spec, { cacheLimit: 7 });
  assert.equal(checkAll(churn, (i) => cases.sp[i]).count, 0);
});

for (const layout of ["legacy", "metaspace", "metaspace-split"] as const) {
  Deno.test(`tokenizer.json (${layout} layout): 0 mismatches against Hugging Face tokenizers`, () => {
    const tok = parseHfTokenizerJson(llama2TokenizerJson(layout), `llama2-${layout}.json`);
    const stride = cases.hf_stride[layout];
    const diff = cases.hf_diff[layout];
    const bad = checkAll(tok, (i) => i % stride === 0 ? (diff[String(i)] ?? cases.sp[i]) : undefined);
    assert.equal(bad.count, 0, `mismatches: ${bad}`);
    if (layout === "legacy") {
      assert.equal(Object.keys(diff).length, 0, "Llama 2's layout agrees with sentencepiece");
    } else assert.ok(Object.keys(diff).length > 100, "the later layouts do differ from sentencepiece");
  });
}

Deno.test("llama-tokenizer-js agrees with sentencepiece on every fixture text (so both oracles hold)", () => {
  const bad = new Mismatches();
  for (let i = 0; i < cases.texts.length; i++) {
    const got = llamaTokenizerJs.encode(cases.texts[i], false, true);
    if (!sameIds(got, cases.sp[i])) bad.add(() => `#${i} ${show(cases.texts[i])}`);
  }
  assert.equal(bad.count, 0, `llama-tokenizer-js mismatches: ${bad}`);
});

Deno.test("decode(encode(t)) == t; a literal ▁ comes back as a space, as in sentencepiece", () => {
  const json = parseHfTokenizerJson(llama2TokenizerJson("legacy"));
  const bad = new Mismatches();
  let literal = 0;
  for (const t of cases.texts) {
    const want = t.replaceAll("\u2581", " ");
    if (want !== t) literal++;
    for (const tok of [spModel, json]) {
      const back = tok.decode(tok.encode(t));
      if (back !== want) bad.add(() => `${show(t)} -> ${show(back)}`);
    }
  }
  assert.equal(bad.count, 0, `round-trip failures: ${bad}`);
  assert.ok(literal > 20);
});

Deno.test("decode matches sentencepiece: byte runs, invalid UTF-8, control and unknown ids, leading spaces", () => {
  const json = parseHfTokenizerJson(llama2TokenizerJson("legacy"));
  const bad = new Mismatches();
  for (const [ids, text] of decodeCases) {
    for (const tok of [spModel, json]) {
      const got = tok.decode(ids);
      if (got !== text) bad.add(() => `${JSON.stringify(ids)}: got ${show(got)} want ${show(text)}`);
    }
  }
  assert.equal(bad.count, 0, `decode mismatches: ${bad}`);
  assert.ok(decodeCases.length >= 800);
});

Deno.test("the cases from llama-tokenizer-js's own test suite", () => {
  const expect: [string, number[]][] = [
    ["grabbed", [2646, 1327, 287]],
    [" grabbed", [29871, 2646, 1327, 287]],
    ["           grabbed", [9651, 2646, 1327, 287]],
    ["\n", [29871, 13]],
    [" \n", [259, 13]],
    ["\ttabs\t\t\t\tout here", [29871, 12, 21175, 12, 12, 12, 12, 449, 1244]],
    ["ax\n####\nboo", [4853, 13, 4136, 13, 833, 29877]],
    ["镇", [29871, 30411]],
    ["🦙", [29871, 243, 162, 169, 156]],
    ["🦙Ꙋ", [29871, 243, 162, 169, 156, 237, 156, 141]],
    ["Ꙋ🦙", [29871, 237, 156, 141, 243, 162, 169, 156]],
    ["Hello world!", [15043, 3186, 29991]],
  ];
  for (const [text, ids] of expect) {
    assert.deepEqual(spModel.encode(text), ids, show(text));
    assert.deepEqual(spModel.encode(text, { bos: true, eos: true }), [1, ...ids, 2], show(text));
    assert.equal(spModel.decode([1, ...ids, 2]), text);
  }
});

Deno.test("plain text never produces <s>, </s> or <unk> from their spelling", () => {
  for (const tok of [spModel, parseHfTokenizerJson(llama2TokenizerJson("legacy"))]) {
    for (const text of ["<s>", "</s>", "<unk>", "a<s>b</s>c<unk>", "<0x0A>"]) {
      const ids = tok.encode(text);
      assert.ok(ids.every((id) => id > 2), `${text}: ${ids}`);
      assert.equal(tok.decode(ids), text);
    }
  }
});

Deno.test("a lone surrogate (not text; Python cannot even pass one) encodes as U+FFFD would", () => {
  for (const t of ["a\ud800b", "\udfff", "x \ud83d", "\ud83d\ud83d\ude00"]) {
    assert.deepEqual(spModel.encode(t), spModel.encode(t.toWellFormed()), show(t));
  }
});
