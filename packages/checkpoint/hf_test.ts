// Hugging Face checkpoints: config.json conversion, loading transformers' files in every dtype and
// layout (losses against PyTorch), the round trip through transformers of checkpoints OUR writer made
// (tests/fixtures/model/roundtrip.ts + check_roundtrip.py), and bad checkpoints.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { configFromHf, configToHf, loadHfCheckpoint, saveHfCheckpoint } from "./hf.ts";
import { PRESETS } from "@tinyllama-ts/model";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { encode, openSafetensors, writeSafetensors } from "./safetensors.ts";
import { BACKENDS, copyFixture, expected, FIXTURES, rawSafetensors, relError } from "../../tests/_harness.ts";
import { ROUNDTRIP_VARIANTS, writeRoundtrip } from "../../tests/fixtures/model/roundtrip.ts";

const userError = (re: RegExp) => (e: unknown) => {
  assert.ok(isUserError(e), `not a UserError: ${e}`);
  assert.match((e as Error).message, re);
  assert.ok(!(e as Error).message.includes("\n"), "one line");
  return true;
};

Deno.test("hf: config.json of transformers 5 and 4 (rope_parameters or rope_theta) to ModelConfig", async () => {
  const json = JSON.parse(await Deno.readTextFile(`${FIXTURES}gqa_b/config.json`));
  assert.ok(json.rope_parameters && json.rope_theta === undefined); // transformers 5 layout
  const { config, extras } = configFromHf(json, "config.json", "gqa_b");
  assert.deepEqual(config, {
    name: "gqa_b",
    vocab_size: 96,
    n_embd: 32,
    n_layer: 2,
    n_head: 4,
    n_query_groups: 2,
    intermediate_size: 48,
    block_size: 64,
    norm_eps: 1e-6,
    rope_base: 500,
  });
  assert.deepEqual(extras, { bosTokenId: 1, eosTokenId: 2, tiedEmbeddings: false, dtype: "float32" });
  // transformers 4: top-level rope_theta, torch_dtype, no num_key_value_heads (multi-head attention).
  const v4 = {
    ...json,
    rope_theta: 1234,
    torch_dtype: "bfloat16",
    rope_parameters: undefined,
    dtype: undefined,
  };
  delete v4.num_key_value_heads;
  const c4 = configFromHf(v4);
  assert.equal(c4.config.rope_base, 1234);
  assert.equal(c4.config.n_query_groups, 4);
  assert.equal(c4.extras.dtype, "bfloat16");
  // TinyLlama's published config.json.
  const tiny = configFromHf(
    {
      architectures: ["LlamaForCausalLM"],
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: "silu",
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 5632,
      max_position_embeddings: 2048,
      model_type: "llama",
      num_attention_heads: 32,
      num_hidden_layers: 22,
      num_key_value_heads: 4,
      pretraining_tp: 1,
      rms_norm_eps: 1e-05,
      rope_scaling: null,
      rope_theta: 10000.0,
      tie_word_embeddings: false,
      torch_dtype: "bfloat16",
      transformers_version: "4.35.0",
      use_cache: true,
      vocab_size: 32000,
    },
    "config.json",
    "tinyllama-1.1b",
  ).config;
  assert.deepEqual(tiny, PRESETS["tinyllama-1.1b"]);
  // And back: configToHf is read as the same config.
  assert.deepEqual(configFromHf(configToHf(tiny), "x", "tinyllama-1.1b").config, tiny);
});

Deno.test("hf: unsupported or broken config.json keys are one-line errors naming the key", () => {
  const base = configToHf(PRESETS["micro-4l-4k"]);
  const bad = (patch: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => configFromHf({ ...base, ...patch }, "ckpt/config.json"), userError(re));
  bad({ model_type: "mistral" }, /ckpt\/config\.json: key "model_type": expected "llama", got "mistral"/);
  bad({ architectures: ["GPT2LMHeadModel"] }, /key "architectures"/);
  bad({ hidden_act: "gelu" }, /key "hidden_act": only "silu" is supported, got "gelu"/);
  bad({ attention_bias: true }, /key "attention_bias"/);
  bad({ rope_scaling: { type: "linear", factor: 2 } }, /key "rope_scaling"/);
  bad({ rope_parameters: { rope_type: "llama3", rope_theta: 5e5 } }, /rope_type": only "default"/);
  bad({ hidden_size: undefined }, /missing key "hidden_size"/);
  bad({ num_hidden_layers: 2.5 }, /key "num_hidden_layers" must be a positive integer, got 2\.5/);
  bad({ head_dim: 64 }, /key "head_dim" \(64\) must equal hidden_size \/ num_attention_heads \(32\)/);
  bad(
    { num_key_value_heads: 3 },
    /key "n_query_groups": n_head \(4\) is not divisible by n_query_groups \(3\)/,
  );
  assert.throws(() => configFromHf([1, 2]), userError(/not a JSON object/));
});

for (const backend of BACKENDS) {
  backend.test(`hf ${backend.name}: transformers' BF16, F16 and sharded checkpoints give PyTorch's losses`, async () => {
    const exp = await expected("gqa_b");
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    const cases: [string, number][] = [["gqa_b_bf16", exp.loss_bf16!], ["gqa_b_f16", exp.loss_f16!], [
      "gqa_b_sharded",
      exp.loss,
    ]];
    for (const [dir, want] of cases) {
      const be = await backend.create();
      const { model, extras } = await loadHfCheckpoint(`${FIXTURES}${dir}`, be);
      const { loss } = await model.forward(ids, targets, { batch: 2, grad: false });
      assert.ok(Math.abs(loss! - want) < 1e-4, `${dir}: ${loss} vs ${want}`);
      if (dir !== "gqa_b_sharded") assert.ok(Math.abs(loss! - exp.loss) > 1e-4, `${dir}: rounding visible`);
      assert.equal(
        extras.dtype,
        { gqa_b_bf16: "bfloat16", gqa_b_f16: "float16", gqa_b_sharded: "float32" }[dir],
      );
      be.destroy();
    }
  });
}

Deno.test("hf: a tied checkpoint (no lm_head.weight) loads with the head copied from the embedding", async () => {
  const { model, extras } = await loadHfCheckpoint(`${FIXTURES}mqa_tied`, new ReferenceBackend());
  assert.equal(extras.tiedEmbeddings, true);
  const st = await openSafetensors(`${FIXTURES}mqa_tied`);
  assert.equal(st.has("lm_head.weight"), false);
  assert.deepEqual(await model.readParam("lm_head.weight"), await st.read("model.embed_tokens.weight"));
  st.close();
  // Saved untied: both tensors, tie_word_embeddings false.
  const dir = await Deno.makeTempDir();
  await saveHfCheckpoint(model, dir);
  assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).tie_word_embeddings, false);
  const again = await openSafetensors(dir);
  assert.deepEqual(await again.read("lm_head.weight"), await again.read("model.embed_tokens.weight"));
  again.close();
});

Deno.test("hf: our writer still makes the checkpoints transformers loaded, byte for byte", async () => {
  const root = await Deno.makeTempDir();
  const written = await writeRoundtrip(root);
  for (const [variant, files] of Object.entries(written)) {
    const committed = [...Deno.readDirSync(`${FIXTURES}roundtrip/${variant}`)].map((e) => e.name).sort();
    assert.deepEqual([...files].sort(), committed, variant);
    for (const f of files) {
      const ours = await Deno.readFile(`${root}/${variant}/${f}`);
      assert.deepEqual(ours, await Deno.readFile(`${FIXTURES}roundtrip/${variant}/${f}`), `${variant}/${f}`);
    }
  }
  assert.deepEqual(Object.keys(written), Object.keys(ROUNDTRIP_VARIANTS));
  assert.ok(written.bf16_sharded.includes("model.safetensors.index.json"));
  assert.ok(written.f32.includes("tokenizer.model"));
});

Deno.test("hf: transformers loaded our checkpoints cleanly and its logits match ours", async () => {
  const check = JSON.parse(await Deno.readTextFile(`${FIXTURES}roundtrip/transformers_check.json`));
  const logits = await openSafetensors(`${FIXTURES}roundtrip/transformers_logits.safetensors`);
  const exp = await expected("gqa_a");
  const ids = new Int32Array(exp.input_ids.flat());
  for (const variant of Object.keys(ROUNDTRIP_VARIANTS)) {
    const c = check[variant];
    assert.equal(c.class, "LlamaForCausalLM");
    assert.deepEqual([c.missing_keys, c.unexpected_keys, c.mismatched_keys], [[], [], []], variant);
    assert.equal(c.weights_equal, true, variant);
    assert.equal(c.loaded_dtype, variant === "f32" ? "torch.float32" : "torch.bfloat16");
    assert.deepEqual([c.rope_theta, c.rms_norm_eps, c.num_key_value_heads], [10000, 1e-5, 2]);
    // Our model on what we wrote (read back by our reader) against transformers on the same files.
    const { model } = await loadHfCheckpoint(`${FIXTURES}roundtrip/${variant}`, new ReferenceBackend());
    const ours = await model.forward(ids, null, { batch: 2, logits: true });
    const err = relError(ours.logits!, await logits.read(variant));
    assert.ok(err < 1e-5, `${variant}: logits error ${err}`);
  }
  logits.close();
  // The F32 round trip is lossless; the BF16 one is PyTorch's rounding of every tensor.
  const original = await openSafetensors(`${FIXTURES}gqa_a`);
  const f32 = await openSafetensors(`${FIXTURES}roundtrip/f32`);
  const bf16 = await openSafetensors(`${FIXTURES}roundtrip/bf16_sharded`);
  for (const name of original.names()) {
    const x = await original.read(name);
    assert.deepEqual(await f32.read(name), x, name);
    assert.deepEqual(await bf16.readRaw(name), encode(x, "BF16"), name);
  }
  for (const s of [original, f32, bf16]) s.close();
});

Deno.test("hf: bad checkpoints are one-line errors naming the file and tensor", async () => {
  const load = (dir: string) => loadHfCheckpoint(dir, new ReferenceBackend());
  await assert.rejects(() => load(`${FIXTURES}nope`), userError(/nope\/config\.json: not found/));

  // config.json whose shapes disagree with the tensors.
  let dir = await copyFixture("gqa_a");
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...cfg, intermediate_size: 64 }));
  await assert.rejects(
    () => load(dir),
    userError(
      /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[48,32\], .*config\.json implies \[64,32\]/,
    ),
  );
  await Deno.writeTextFile(`${dir}/config.json`, "{not json");
  await assert.rejects(() => load(dir), userError(/config\.json: not valid JSON/));

  // A missing tensor, an extra tensor, an unsupported dtype.
  const st = await openSafetensors(`${FIXTURES}gqa_a`);
  const tensors = await Promise.all(
    st.names().map(async (name) => ({
      name,
      shape: st.info(name).shape,
      data: await st.read(name),
    })),
  );
  st.close();
  dir = await copyFixture("gqa_a");
  await writeSafetensors(
    `${dir}/model.safetensors`,
    tensors.filter((t) => t.name !== "model.layers.1.mlp.up_proj.weight"),
  );
  await assert.rejects(() => load(dir), userError(/missing tensor "model\.layers\.1\.mlp\.up_proj\.weight"/));
  await writeSafetensors(`${dir}/model.safetensors`, [...tensors, {
    name: "model.layers.0.self_attn.q_proj.bias",
    shape: [32],
    data: new Float32Array(32),
  }]);
  await assert.rejects(
    () => load(dir),
    userError(/unexpected tensor "model\.layers\.0\.self_attn\.q_proj\.bias"/),
  );
  const f32 = (t: { data: Float32Array }) => new Uint8Array(t.data.buffer);
  await Deno.writeFile(
    `${dir}/model.safetensors`,
    rawSafetensors(
      tensors.map((t) => [t.name, t.name === "model.norm.weight" ? "I32" : "F32", t.shape, f32(t)]),
    ),
  );
  await assert.rejects(() => load(dir), userError(/tensor "model\.norm\.weight" has unsupported dtype I32/));

  // A truncated file.
  const bytes = await Deno.readFile(`${FIXTURES}gqa_a/model.safetensors`);
  await Deno.writeFile(`${dir}/model.safetensors`, bytes.subarray(0, 5000));
  await assert.rejects(() => load(dir), userError(/model\.safetensors: truncated/));
});

Deno.test("hf: save writes config.json as transformers does and copies the tokenizer", async () => {
  const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_b`, new ReferenceBackend());
  const dir = `${await Deno.makeTempDir()}/nested/out`;
  const files = await saveHfCheckpoint(model, dir, {
    dtype: "float16",
    tokenizerFrom: `${FIXTURES}gqa_a`,
    bosTokenId: 5,
    eosTokenId: null,
  });
  assert.deepEqual(files, ["model.safetensors", "config.json", "tokenizer.model"]);
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  // transformers' own config.json of this model (from save_pretrained) has the same values.
  const theirs = JSON.parse(await Deno.readTextFile(`${FIXTURES}gqa_b/config.json`));
  for (const key of Object.keys(theirs)) {
    if (["transformers_version", "pad_token_id", "dtype", "bos_token_id", "eos_token_id"].includes(key)) {
      continue;
    }
    assert.deepEqual(cfg[key], theirs[key], key);
  }
  assert.deepEqual([cfg.dtype, cfg.torch_dtype, cfg.bos_token_id, cfg.eos_token_id], [
    "float16",
    "float16",
    5,
    null,
  ]);
  assert.deepEqual(Object.keys(cfg), Object.keys(cfg).sort());
  assert.deepEqual(
    await Deno.readFile(`${dir}/tokenizer.model`),
    await Deno.readFile(`${FIXTURES}gqa_a/tokenizer.model`),
  );
  const { tokenizerPath } = await loadHfCheckpoint(dir, new ReferenceBackend());
  assert.equal(tokenizerPath, `${dir}/tokenizer.model`);
  assert.equal((await openSafetensors(dir)).info("lm_head.weight").dtype, "F16");
});

Deno.test("hf: a model holding bf16 weights saves (finiteness checked) and loads back the same values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const be = new ReferenceBackend();
    const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_a`, be, { weightDtype: "bf16" });
    assert.equal(model.weightDtype, "bf16");
    // Saved as f32 (bf16 widens exactly; the norms stay f32); the finiteness check reads the bf16 ones back.
    await saveHfCheckpoint(model, `${dir}/out`);
    const again = await loadHfCheckpoint(`${dir}/out`, be, { weightDtype: "bf16" });
    assert.equal(again.model.weightDtype, "bf16");
    for (let i = 0; i < model.names.length; i++) {
      assert.deepEqual(await again.model.readParam(i), await model.readParam(i), model.names[i]);
    }
    be.destroy();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
