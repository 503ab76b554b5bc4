// GGUF in and out, against llama.cpp's own tools (tests/fixtures/gguf/make_fixtures.py): dequantization
// bit-equal to gguf-py for every type we read, Q8_0 quantization byte-equal to gguf-py's, our q8_0 export
// byte-equal to the converter's file of the same checkpoint, imports of converter-written files giving
// transformers' loss and greedy ids, round trips, and one-line errors for bad files.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { generate } from "@tinyllama-ts/model";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import { loadHfCheckpoint } from "./hf.ts";
import { readGgufConfig, saveGguf } from "./gguf.ts";
import { type GgufValue, openGguf, writeGguf } from "@tinyllama-ts/gguf";
import { GgmlType, quantizeQ8_0 } from "@tinyllama-ts/gguf";
import { readGgufVocab } from "@tinyllama-ts/gguf";
import { ggufVocabFromTokenizerFile } from "./gguf_tokenizer_files.ts";
import { openSafetensors } from "./safetensors.ts";
import { expected, FIXTURES, relError } from "../../tests/_harness.ts";

const GGUF = new URL("../../tests/fixtures/gguf/", import.meta.url).pathname;

const userError = (re: RegExp) => (e: unknown) => {
  assert.ok(isUserError(e), `not a UserError: ${e}`);
  assert.match((e as Error).message, re);
  assert.ok(!(e as Error).message.includes("\n"), "one line");
  return true;
};

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function assertBitEqual(a: Float32Array, b: Float32Array, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  const x = bits(a), y = bits(b);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) assert.fail(`${what}: value ${i} is ${a[i]}, gguf-py has ${b[i]}`);
  }
}

Deno.test("gguf: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K dequantize bit-equal to gguf-py", async () => {
  const file = await openGguf(`${GGUF}quants.gguf`);
  const want = await openSafetensors(`${GGUF}quants_expected.safetensors`);
  try {
    for (const type of ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K"]) {
      assert.equal(file.tensor(type)!.type, GgmlType[type as keyof typeof GgmlType]);
      assertBitEqual(await file.read(type), await want.read(type), type);
    }
  } finally {
    file.close();
    want.close();
  }
});

Deno.test("gguf: Q8_0 quantization is byte-equal to gguf-py's (ties round away from zero, zero blocks)", async () => {
  const file = await openGguf(`${GGUF}quants.gguf`);
  const want = await openSafetensors(`${GGUF}quants_expected.safetensors`);
  try {
    const input = await want.read("q8_0_input");
    assert.deepEqual(quantizeQ8_0(input), await file.readRaw("q8_0_of_input"));
  } finally {
    file.close();
    want.close();
  }
});

Deno.test("gguf: the q8_0 export equals llama.cpp's converter's file of the same checkpoint", async () => {
  const { model, extras, tokenizerPath } = await loadHfCheckpoint(`${FIXTURES}gqa_a`, new ReferenceBackend());
  const path = `${await Deno.makeTempDir()}/gqa_a.gguf`;
  await saveGguf(model, path, {
    type: "q8_0",
    vocab: await ggufVocabFromTokenizerFile(tokenizerPath!, extras),
  });
  const ours = await openGguf(path), theirs = await openGguf(`${GGUF}gqa_a_q8_0.gguf`);
  try {
    // The converter writes tensors in the safetensors file's (sorted) order, we in the model's: llama.cpp
    // finds them by name.
    assert.deepEqual(ours.tensors.map((t) => t.name).sort(), theirs.tensors.map((t) => t.name).sort());
    for (const t of theirs.tensors) {
      const o = ours.tensor(t.name)!;
      assert.equal(o.type, t.type, `${t.name}: type`);
      assert.deepEqual(o.dims, t.dims, `${t.name}: dims`);
      assert.deepEqual(await ours.readRaw(t.name), await theirs.readRaw(t.name), `${t.name}: bytes`);
    }
    assert.deepEqual(
      [...new Set(theirs.tensors.map((t) => t.type))].sort(),
      [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0],
    );
    // Every key the converter writes, with its value and type (the name aside).
    for (const [key, value] of theirs.metadata) {
      if (key === "general.name") continue;
      assert.deepEqual(ours.metadata.get(key), value, key);
    }
  } finally {
    ours.close();
    theirs.close();
    model.destroy();
  }
});

for (const name of ["gqa_a_q8_0", "gqa_b_bf16", "gqa_b_q4_1", "mqa_tied_q4_0", "kq"]) {
  const what = name === "kq"
    ? "kq.gguf (llama.cpp's quantizer, Q4_K_M: Q4_K and Q6_K)"
    : `${name}.gguf (llama.cpp's converter)`;
  Deno.test(`gguf: ${what} loads to transformers' loss and greedy ids`, async () => {
    const doc = JSON.parse(await Deno.readTextFile(`${GGUF}expected.json`))[name];
    const exp = doc.case ? await expected(doc.case) : doc;
    // loadHfCheckpoint takes a .gguf wherever it takes a checkpoint directory.
    const { model, config, extras } = await loadHfCheckpoint(`${GGUF}${name}.gguf`, new ReferenceBackend());
    if (doc.case) {
      const hf = await loadHfCheckpoint(`${FIXTURES}${doc.case}`, new ReferenceBackend());
      assert.deepEqual({ ...config, name: "" }, { ...hf.config, name: "" });
      hf.model.destroy();
    } else {
      const file = await openGguf(`${GGUF}${name}.gguf`);
      const types = [...new Set(file.tensors.map((t) => t.type))].sort((a, b) => a - b);
      file.close();
      assert.deepEqual(types, [GgmlType.F32, GgmlType.Q4_K, GgmlType.Q6_K]);
    }
    assert.equal(extras.tiedEmbeddings, name.startsWith("mqa_tied"));
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    const { loss } = await model.forward(ids, targets, { batch: exp.input_ids.length, grad: false });
    assert.ok(Math.abs(loss! - doc.loss) < 1e-5, `${loss} vs transformers ${doc.loss}`);
    if (doc.case && !name.endsWith("bf16")) {
      assert.ok(Math.abs(doc.loss - exp.loss) > 1e-4, "quantization is visible");
    }
    const greedy = await generate(model, exp.prompt_ids, {
      maxNewTokens: doc.greedy_ids.length,
      temperature: 0,
    });
    assert.deepEqual(greedy, doc.greedy_ids);
    model.destroy();
  });
}

Deno.test("gguf: rope base, epsilon, head counts and tying come from the metadata", async () => {
  const b = await readGgufConfig(`${GGUF}gqa_b_bf16.gguf`);
  assert.equal(b.rope_base, 500);
  assert.equal(b.norm_eps, 1e-6); // stored as f32, read back as the decimal it was
  assert.equal(b.n_query_groups, 2);
  const m = await readGgufConfig(`${GGUF}mqa_tied_q4_0.gguf`);
  assert.equal(m.n_query_groups, 1);
  assert.equal(m.norm_eps, 1e-5);
});

Deno.test("gguf: f32 export round-trips bit for bit; f16 is the f16 rounding; a tied model stays tied", async () => {
  const dir = await Deno.makeTempDir();
  for (const [fixture, type] of [["gqa_b", "f32"], ["gqa_b", "f16"], ["mqa_tied", "f32"]] as const) {
    const { model } = await loadHfCheckpoint(`${FIXTURES}${fixture}`, new ReferenceBackend());
    const path = `${dir}/${fixture}_${type}.gguf`;
    await saveGguf(model, path, { type });
    const back = await loadHfCheckpoint(path, new ReferenceBackend());
    assert.equal(back.extras.tiedEmbeddings, fixture === "mqa_tied");
    assert.equal(back.tokenizerPath, null);
    for (let i = 0; i < model.names.length; i++) {
      const want = await model.readParam(i);
      const got = await back.model.readParam(i);
      const rounded = type === "f16" && model.shapes[i].length === 2
        ? Float32Array.from(Float16Array.from(want))
        : want;
      assertBitEqual(got, rounded, `${fixture} ${type} ${model.names[i]}`);
    }
    model.destroy();
    back.model.destroy();
  }
});

Deno.test("gguf: the embedded SentencePiece tokenizer encodes as the tokenizer.model it came from", async () => {
  const fromGguf = await loadTokenizer(`${GGUF}gqa_a_q8_0.gguf`);
  const original = await loadTokenizer(`${FIXTURES}gqa_a/tokenizer.model`);
  assert.equal(fromGguf.vocabSize, original.vocabSize);
  assert.equal(fromGguf.bosId, original.bosId);
  assert.equal(fromGguf.eosId, original.eosId);
  for (const text of ["the tiny llama", "hello world, this is a test", "Once upon a time ünïcödé 🦙", "x"]) {
    assert.deepEqual(fromGguf.encode(text, { bos: true }), original.encode(text, { bos: true }), text);
  }
  const { tokenizerPath } = await loadHfCheckpoint(`${GGUF}gqa_a_q8_0.gguf`, new ReferenceBackend());
  assert.equal(tokenizerPath, `${GGUF}gqa_a_q8_0.gguf`);
  await assert.rejects(loadTokenizer(`${GGUF}gqa_b_bf16.gguf`), userError(/embeds no tokenizer/));
});

Deno.test("gguf: the vocabulary fields round-trip through the metadata", async () => {
  const vocab = await ggufVocabFromTokenizerFile(`${FIXTURES}gqa_a/tokenizer.model`);
  const path = `${await Deno.makeTempDir()}/v.gguf`;
  const gpt2 = {
    model: "gpt2" as const,
    tokens: ["a", "b", "ab", "<|end|>"],
    types: [1, 1, 1, 3],
    merges: ["a b"],
    pre: "qwen2",
    eosId: 3,
  };
  for (const v of [vocab, gpt2]) {
    const { vocabMetadata } = await import("@tinyllama-ts/gguf");
    await writeGguf(path, vocabMetadata(v), []);
    const file = await openGguf(path);
    const back = readGgufVocab(file)!;
    file.close();
    for (const [k, want] of Object.entries(v)) {
      const got = (back as unknown as Record<string, unknown>)[k];
      if (k === "scores") assert.deepEqual(got, (want as number[]).map(Math.fround), k);
      else assert.deepEqual(got, want, k);
    }
  }
});

async function patched(name: string, edit: (bytes: Uint8Array) => Uint8Array): Promise<string> {
  const path = `${await Deno.makeTempDir()}/${name}`;
  await Deno.writeFile(path, edit(await Deno.readFile(`${GGUF}gqa_a_q8_0.gguf`)));
  return path;
}

Deno.test("gguf: truncated files, unknown tensor types and other architectures are one-line errors", async () => {
  const be = new ReferenceBackend();
  const cutData = await patched("cut.gguf", (b) => b.subarray(0, b.length - 100));
  await assert.rejects(
    loadHfCheckpoint(cutData, be),
    userError(/truncated \(tensor "[a-z_.0-9]+" \([A-Z0-9_]+\) ends at byte \d+, the file has \d+\)/),
  );
  const cutHeader = await patched("head.gguf", (b) => b.subarray(0, 2000));
  await assert.rejects(
    loadHfCheckpoint(cutHeader, be),
    userError(/truncated \(the header runs past the end/),
  );
  await assert.rejects(
    loadHfCheckpoint(
      await patched("x.gguf", (b) => new TextEncoder().encode("GGML" + "x".repeat(b.length))),
      be,
    ),
    userError(/not a GGUF file/),
  );
  // Tensor infos end with the type (u32) and offset (u64); make the first one IQ2_XXS (16).
  const iq = await patched("iq.gguf", (b) => {
    const copy = b.slice();
    const name = new TextEncoder().encode("token_embd.weight");
    let at = 0;
    for (let i = 0; i < copy.length; i++) {
      if (name.every((c, k) => copy[i + k] === c)) {
        at = i;
        break;
      }
    }
    const typeAt = at + name.length + 4 + 2 * 8;
    new DataView(copy.buffer).setUint32(typeAt, 16, true);
    return copy;
  });
  await assert.rejects(
    loadHfCheckpoint(iq, be),
    userError(/tensor "token_embd\.weight": tensor type IQ2_XXS \(16\) is not supported \(F32, F16, Q4_0/),
  );
  const other = `${await Deno.makeTempDir()}/qwen.gguf`;
  const md: [string, GgufValue][] = [["general.architecture", { type: "string", value: "qwen2" }]];
  await writeGguf(other, md, []);
  await assert.rejects(
    loadHfCheckpoint(other, be),
    userError(/architecture "qwen2" is not supported \(only llama\)/),
  );
  await assert.rejects(loadHfCheckpoint(`${GGUF}missing.gguf`, be), userError(/missing\.gguf: not found/));
});

// max |ours − llama.cpp| / max |llama.cpp| over the logits of a 16-token sequence, llama.cpp with an F32
// KV cache (llama-cpp-python 0.3.36, x86-64, one thread). Measured: f32 2.9e-7; f16 7.6e-4; q8_0 2.1e-2.
// Ours computes with the file's weights dequantized to f32; llama.cpp multiplies F16 weights by
// activations rounded to F16 and Q8_0 weights by activations quantized to Q8_0, hence the wider bounds.
const ORACLE_TOLERANCE = { f32: 1e-4, f16: 2e-3, q8_0: 4e-2 };

Deno.test("gguf: llama.cpp runs our export: same token ids, same logits (f32 within 1e-4, f16 2e-3, q8_0 4e-2)", async () => {
  const oracle = JSON.parse(await Deno.readTextFile(`${GGUF}oracle.json`));
  const logits = await openSafetensors(`${GGUF}oracle_logits.safetensors`);
  // gqa_b (rope base 500, epsilon 1e-6: llama.cpp must read both) with gqa_a's tokenizer.model.
  const dir = await Deno.makeTempDir();
  const ckptDir = `${dir}/gqa_b`;
  await Deno.mkdir(ckptDir);
  for (const f of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(`${FIXTURES}gqa_b/${f}`, `${ckptDir}/${f}`);
  }
  await Deno.copyFile(`${FIXTURES}gqa_a/tokenizer.model`, `${ckptDir}/tokenizer.model`);
  const { model: hfModel, extras, tokenizerPath } = await loadHfCheckpoint(ckptDir, new ReferenceBackend());
  const vocab = await ggufVocabFromTokenizerFile(tokenizerPath!, extras);
  try {
    const original = await loadTokenizer(tokenizerPath!);
    for (const type of ["f32", "f16", "q8_0"] as const) {
      const path = `${dir}/gqa_b_${type}.gguf`;
      await saveGguf(hfModel, path, { type, vocab });
      // The file llama.cpp ran is the file we write today.
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
      assert.equal(
        [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
        oracle.sha256[type],
        type,
      );
      const fromGguf = await loadTokenizer(path);
      oracle.texts.forEach((text: string, i: number) => {
        assert.deepEqual(original.encode(text, { bos: true }), oracle.ids[i], `tokenizer.model: ${text}`);
        assert.deepEqual(fromGguf.encode(text, { bos: true }), oracle.ids[i], `${type} gguf: ${text}`);
      });
      const { model } = await loadHfCheckpoint(path, new ReferenceBackend());
      const seq = new Int32Array(oracle.sequence);
      const ours = (await model.forward(seq, null, { logits: true })).logits!;
      const err = relError(ours, await logits.read(type));
      assert.ok(err < ORACLE_TOLERANCE[type], `${type}: ${err}`);
      model.destroy();
    }
  } finally {
    logits.close();
    hfModel.destroy();
  }
});

Deno.test("gguf: a SentencePiece-layout tokenizer.json exports scores that make llama.cpp's merging follow its merges", async () => {
  const { llama2TokenizerJson } = await import("../tokenizer/_llama2_reference.ts");
  const { parseHfTokenizerJson } = await import("@tinyllama-ts/tokenizer");
  const { tokenizerFromGgufVocab } = await import("../tokenizer/gguf_tokenizer.ts");
  const dir = await Deno.makeTempDir();
  const json = llama2TokenizerJson("legacy");
  await Deno.writeTextFile(`${dir}/tokenizer.json`, json);
  const vocab = await ggufVocabFromTokenizerFile(`${dir}/tokenizer.json`);
  assert.equal(vocab.model, "llama");
  assert.equal(vocab.tokens.length, 32000);
  assert.deepEqual([vocab.unkId, vocab.bosId, vocab.eosId], [0, 1, 2]);
  assert.deepEqual(vocab.types!.slice(0, 4), [2, 3, 3, 6]);
  const hf = parseHfTokenizerJson(json), fromGguf = tokenizerFromGgufVocab(vocab, "llama2");
  for (
    const text of [
      "Once upon a time, there was a tiny llama.",
      "function add(a, b) { return a + b; }\n",
      "Grüße aus München — 東京 🦙 ½",
      "unbelievably antidisestablishmentarianism",
    ]
  ) {
    assert.deepEqual(fromGguf.encode(text), hf.encode(text), text);
  }
});

Deno.test("gguf: byte-level BPE tokenizer.json exports as gpt2 with the pre-tokenizer's llama.cpp name", async () => {
  const dir = await Deno.makeTempDir();
  const byteLevel = (regex: boolean) => ({ type: "ByteLevel", add_prefix_space: false, use_regex: regex });
  const split = (regex: string) => ({ type: "Split", pattern: { Regex: regex }, behavior: "Isolated" });
  const llama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const qwen2 = llama3.replace("\\p{N}{1,3}", "\\p{N}");
  const cases: [unknown, string][] = [
    [byteLevel(true), "gpt-2"],
    [{ type: "Sequence", pretokenizers: [split(llama3), byteLevel(false)] }, "llama-bpe"],
    [{ type: "Sequence", pretokenizers: [split(qwen2), byteLevel(false)] }, "qwen2"],
    [
      { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, byteLevel(true)] },
      "smollm",
    ],
  ];
  for (const [pre, name] of cases) {
    const json = {
      model: { type: "BPE", vocab: { "a": 0, "b": 1, "ab": 2, "Ġa": 3 }, merges: [["a", "b"], "Ġ a"] },
      added_tokens: [{ id: 4, content: "<|end|>", special: true }, { id: 5, content: "<x>", special: false }],
      pre_tokenizer: pre,
      decoder: { type: "ByteLevel" },
    };
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
    const v = await ggufVocabFromTokenizerFile(`${dir}/tokenizer.json`, { eosTokenId: 4 });
    assert.deepEqual(
      { ...v },
      {
        model: "gpt2",
        tokens: ["a", "b", "ab", "Ġa", "<|end|>", "<x>"],
        types: [1, 1, 1, 1, 3, 4],
        merges: ["a b", "Ġ a"],
        pre: name,
        unkId: undefined,
        bosId: undefined,
        eosId: 4,
      },
      name,
    );
  }
  await Deno.writeTextFile(
    `${dir}/tokenizer.json`,
    JSON.stringify({
      model: { type: "BPE", vocab: { a: 0 }, merges: [] },
      pre_tokenizer: { type: "Sequence", pretokenizers: [split("\\s+"), byteLevel(false)] },
    }),
  );
  await assert.rejects(
    ggufVocabFromTokenizerFile(`${dir}/tokenizer.json`),
    userError(/pre-tokenizer \[Split, ByteLevel\] has no llama\.cpp name/),
  );
});

Deno.test("gguf: a byte-level tokenizer.json exports as the gpt2 vocabulary llama.cpp tokenized as HF tokenizers", async () => {
  // make_fixtures.py gpt2 asserted llama.cpp's ids on this very file equal to HF tokenizers'.
  const oracle = JSON.parse(await Deno.readTextFile(`${GGUF}oracle_gpt2.json`));
  const dir = await Deno.makeTempDir();
  const ckptDir = `${dir}/gqa_a`;
  await Deno.mkdir(ckptDir);
  for (const f of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(`${FIXTURES}gqa_a/${f}`, `${ckptDir}/${f}`);
  }
  await Deno.copyFile(`${GGUF}gpt2_tokenizer.json`, `${ckptDir}/tokenizer.json`);
  const { openHfCheckpoint } = await import("./hf.ts");
  const ckpt = await openHfCheckpoint(ckptDir);
  const vocab = await ggufVocabFromTokenizerFile(ckpt.tokenizerPath!, ckpt.extras);
  assert.equal(vocab.model, "gpt2");
  assert.equal(vocab.pre, "gpt-2");
  const path = `${dir}/gpt2.gguf`;
  await saveGguf(ckpt, path, { vocab });
  ckpt.close();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path)));
  assert.equal([...digest].map((b) => b.toString(16).padStart(2, "0")).join(""), oracle.sha256);
  await Deno.remove(dir, { recursive: true });
});
