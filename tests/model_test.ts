// The model against PyTorch/transformers (fixtures of tests/fixtures/model/make_fixtures.py, computed in
// float64 throughout): loss, logits and every parameter gradient of random tiny Llamas — GQA (gqa_a,
// gqa_b), multi-query with tied embeddings (mqa_tied), and 2048 positions of RoPE (rope_2048) — on every
// backend; then properties that need no reference (gradient accumulation, the inference path, the KV
// cache, initialisation).
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { type Backend, ReferenceBackend } from "@tinyllama-ts/backend";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { Model, type ModelConfig, paramSpecs, PRESETS } from "@tinyllama-ts/model";
import { BACKENDS, expected, FIXTURES, relError, type TestBackend } from "./_harness.ts";
import { Float64ReadBackend, readF64 } from "./_float64.ts";

/**
 * The f64 reference against float64 PyTorch: the two differ only in the order of their float64
 * operations, a relative error of a few 2^-53 per reduction (about 1e-14 measured), so 1e-10 leaves
 * room for nothing but rounding.
 */
const F64_TOL = 1e-10;

/**
 * An fp32 backend against float64 PyTorch, for a model whose longest reduction sums `k` terms. Each
 * fp32 op rounds its result (unit roundoff u = 2^-24), and the rounding errors of a K-term sum add up
 * like a random walk, to about sqrt(K)·u of the sum of its terms' magnitudes (K·u is the worst-case
 * bound, which independent round-to-nearest errors do not approach). The longest reductions of a
 * forward and backward are the weight gradients' and attention's sums over positions, and the head's
 * over the vocabulary. The ~30 chained ops of a 2-layer forward and backward compound those errors:
 * measured (max |Δ| / max |ref| over every logit and gradient tensor) they stay below 3.5·sqrt(K)·u on
 * WASM and WebGPU, for K = 96 (1.7e-6) as for K = 2048 (9.5e-6). 8·sqrt(K)·u leaves twice that, and is
 * still below what float32 RoPE angles (as transformers computes them) cost at 2048 positions: 2.4e-5
 * in the logits, 2.9e-5 in the gradients, so a backend whose cos/sin table rounds the angles to f32
 * fails rope_2048.
 */
function fp32Tolerance(k: number): number {
  return 8 * Math.sqrt(k) * 2 ** -24;
}

/** The longest reduction of a forward and backward over `tokens` positions (see {@link fp32Tolerance}). */
function longestReduction(c: ModelConfig, tokens: number): number {
  return Math.max(tokens, c.vocab_size, c.n_embd, c.intermediate_size);
}

/** A fresh backend to compare with float64 PyTorch. */
async function openBackend(backend: TestBackend): Promise<Backend> {
  // The reference reads back unrounded, so that the loss and logits keep float64 too.
  return backend.name === "reference" ? new Float64ReadBackend() : await backend.create();
}

/** The tolerance of that comparison for `tokens` positions of model `c`. */
function tolerance(backend: TestBackend, c: ModelConfig, tokens: number): number {
  return backend.name === "reference" ? F64_TOL : fp32Tolerance(longestReduction(c, tokens));
}

/**
 * Our gradients by PyTorch's names: a tied checkpoint has one embedding tensor in PyTorch, whose
 * gradient is the sum of our embedding's and our (untied copy of the) head's.
 */
async function gradsByTorchName(model: Model, tied: boolean): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  for (let i = 0; i < model.names.length; i++) {
    out.set(model.names[i], Float64Array.from(await model.readGrad(i)));
  }
  if (tied) {
    const embed = out.get("model.embed_tokens.weight")!, head = out.get("lm_head.weight")!;
    for (let j = 0; j < embed.length; j++) embed[j] += head[j];
    out.delete("lm_head.weight");
  }
  return out;
}

/** Every gradient of `model` within `tol` of the fixture's (`ref`, by PyTorch's names). */
async function assertGradients(model: Model, ref: Map<string, Float64Array>, tied: boolean, tol: number) {
  const ours = await gradsByTorchName(model, tied);
  assert.deepEqual([...ref.keys()].filter((n) => n !== "logits").sort(), [...ours.keys()].sort());
  for (const [name, grad] of ours) {
    const err = relError(grad, ref.get(name)!);
    assert.ok(err < tol, `${name}: gradient error ${err} (tolerance ${tol})`);
  }
}

const CASES: [string, string][] = [
  ["gqa_a", "GQA 4/2"],
  ["gqa_b", "GQA 4/2, rope_theta 500, eps 1e-6"],
  ["mqa_tied", "one KV head, tied embeddings"],
  ["rope_2048", "2048 positions of RoPE"],
];

for (const backend of BACKENDS) {
  for (const [name, what] of CASES) {
    backend.test(`model ${backend.name}: ${name} (${what}) loss, logits and every gradient match PyTorch`, async () => {
      const exp = await expected(name);
      const { model, extras } = await loadHfCheckpoint(`${FIXTURES}${name}`, await openBackend(backend));
      const rows = exp.input_ids.length, T = exp.input_ids[0].length;
      const tol = tolerance(backend, model.config, rows * T);
      if (name === "mqa_tied") assert.ok(model.config.n_query_groups === 1 && extras.tiedEmbeddings);
      if (name === "rope_2048") assert.ok(T === 2048 && model.config.block_size === 2048);
      try {
        const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
        const r = await model.forward(ids, targets, { batch: rows, logits: true });
        assert.equal(r.tokens, exp.targets.flat().filter((t) => t >= 0).length);
        const lossErr = Math.abs(r.loss! - exp.loss) / exp.loss;
        assert.ok(lossErr < tol, `loss ${r.loss} vs ${exp.loss} (tolerance ${tol})`);
        const ref = await readF64(`${FIXTURES}${name}/grads.safetensors`);
        const logitsErr = relError(r.logits!, ref.get("logits")!);
        assert.ok(logitsErr < tol, `logits error ${logitsErr} (tolerance ${tol})`);
        // (Checked before the backward is queued: a failing test must not leave GPU work behind.)
        model.backward();
        await assertGradients(model, ref, extras.tiedEmbeddings, tol);
      } finally {
        model.backend.destroy();
      }
    });
  }

  backend.test(`model ${backend.name}: micro-batches with lossScale accumulate to PyTorch's gradient`, async () => {
    const exp = await expected("gqa_b");
    const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_b`, await openBackend(backend));
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    const T = exp.input_ids[0].length, tol = tolerance(backend, model.config, 2 * T);
    // Dirty the gradients first: zeroGrad must clear them.
    await model.forward(ids, targets, { batch: 2 });
    model.backward();
    model.zeroGrad();
    for (const g of model.grads) assert.ok((await model.backend.read(g)).every((x) => x === 0));
    // Each row is a micro-batch whose loss is its own mean; scaled by its share of the 29 targets,
    // the accumulated gradients are those of the full batch's mean.
    const counts = exp.targets.map((row) => row.filter((t) => t >= 0).length);
    const total = counts[0] + counts[1];
    let weighted = 0;
    for (let r = 0; r < 2; r++) {
      const rows = (a: Int32Array) => a.slice(r * T, (r + 1) * T);
      const out = await model.forward(rows(ids), rows(targets), { lossScale: counts[r] / total });
      assert.equal(out.tokens, counts[r]);
      weighted += out.loss! * counts[r] / total;
      model.backward();
    }
    try {
      assert.ok(Math.abs(weighted - exp.loss) / exp.loss < tol, `loss ${weighted} vs ${exp.loss}`);
      await assertGradients(model, await readF64(`${FIXTURES}gqa_b/grads.safetensors`), false, tol);
    } finally {
      model.backend.destroy();
    }
  });

  backend.test(`model ${backend.name}: the KV cache at positions 2040 to 2047 gives PyTorch's logits`, async () => {
    // RoPE with a position offset (the cached path) far from zero: prefill 2040 positions, then one
    // position at a time; each step's logits are PyTorch's at that position.
    const exp = await expected("rope_2048");
    const { model } = await loadHfCheckpoint(`${FIXTURES}rope_2048`, await openBackend(backend));
    const ids = exp.input_ids[0], T = ids.length, V = model.config.vocab_size, prefill = 2040;
    const tol = tolerance(backend, model.config, T);
    const want = (await readF64(`${FIXTURES}rope_2048/grads.safetensors`)).get("logits")!;
    const cache = model.createCache(1, T);
    try {
      let got = await model.forwardCached(Int32Array.from(ids.slice(0, prefill)), cache);
      for (let pos = prefill - 1; pos < T; pos++) {
        const err = relError(got, want.subarray(pos * V, (pos + 1) * V));
        assert.ok(err < tol, `position ${pos}: logits error ${err} (tolerance ${tol})`);
        if (pos + 1 < T) got = await model.forwardCached(Int32Array.of(ids[pos + 1]), cache);
      }
    } finally {
      model.freeCache(cache);
      model.backend.destroy();
    }
  });

  backend.test(`model ${backend.name}: inference path, KV cache and batch rows agree with the training path`, async () => {
    const exp = await expected("gqa_a");
    const { model } = await loadHfCheckpoint(`${FIXTURES}gqa_a`, await backend.create());
    const ids = new Int32Array(exp.input_ids.flat()), targets = new Int32Array(exp.targets.flat());
    const V = model.config.vocab_size, T = 16;
    const train = await model.forward(ids, targets, { batch: 2, logits: true });
    const infer = await model.forward(ids, targets, { batch: 2, logits: true, grad: false });
    assert.ok(Math.abs(train.loss! - infer.loss!) < 1e-6);
    assert.ok(relError(infer.logits!, train.logits!) < 1e-6);
    assert.throws(() => model.backward(), /needs a forward/);
    // Prefill 5 positions of both rows, then one position at a time: each step's logits are the full
    // forward's logits at that position.
    const cache = model.createCache(2, T);
    const rowSlice = (from: number, to: number) =>
      Int32Array.from([...ids.slice(from, to), ...ids.slice(T + from, T + to)]);
    let got = await model.forwardCached(rowSlice(0, 5), cache);
    for (let pos = 4; pos < T; pos++) {
      for (let r = 0; r < 2; r++) {
        const want = train.logits!.subarray((r * T + pos) * V, (r * T + pos + 1) * V);
        assert.ok(relError(got.subarray(r * V, (r + 1) * V), want) < 1e-5, `row ${r} position ${pos}`);
      }
      if (pos + 1 < T) got = await model.forwardCached(rowSlice(pos + 1, pos + 2), cache);
    }
    assert.equal(cache.length, T);
    await assert.rejects(() => model.forwardCached(rowSlice(0, 1), cache), /KV cache holds 16 positions/);
    model.freeCache(cache);
    model.backend.destroy();
  });
}

Deno.test("model: init is seeded, HF's std 0.02 or TinyLlama's scheme, norms at one", () => {
  const config = { ...PRESETS["micro-4l-4k"], n_layer: 2 };
  const be = new ReferenceBackend();
  const stats = (m: Model, i: number) => {
    const x = be.f64(m.params[i]);
    let s = 0, s2 = 0;
    for (const v of x) s += v, s2 += v * v;
    return { mean: s / x.length, std: Math.sqrt(s2 / x.length - (s / x.length) ** 2), first: x[0] };
  };
  const a = new Model(be, config), b = new Model(be, config), c = new Model(be, config);
  a.init(7);
  b.init(7);
  c.init(8);
  for (let i = 0; i < a.names.length; i++) {
    assert.deepEqual(be.f64(a.params[i]), be.f64(b.params[i]), a.names[i]);
    const st = stats(a, i);
    if (a.names[i].endsWith("norm.weight")) {
      assert.ok(be.f64(a.params[i]).every((v) => v === 1));
    } else {
      assert.notEqual(st.first, stats(c, i).first);
      assert.ok(Math.abs(st.std - 0.02) < 0.02 * 0.05, `${a.names[i]} std ${st.std}`);
      assert.ok(Math.abs(st.mean) < 0.02 * 0.05);
    }
  }
  const t = new Model(be, config);
  t.init(7, "tinyllama");
  const C = config.n_embd;
  for (let i = 0; i < t.names.length; i++) {
    if (t.names[i].endsWith("norm.weight")) continue;
    const residual = /(o_proj|down_proj)\.weight$/.test(t.names[i]);
    const want = residual ? 1 / Math.sqrt(C) / config.n_layer : Math.sqrt(2 / 5 / C);
    assert.ok(Math.abs(stats(t, i).std - want) < want * 0.05, `${t.names[i]}: ${stats(t, i).std} vs ${want}`);
  }
});

Deno.test("model: parameter layout is Hugging Face's names and shapes", () => {
  const specs = paramSpecs(PRESETS["tinyllama-1.1b"]);
  assert.equal(specs.length, 2 + 22 * 9 + 1);
  const total = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  assert.equal(total, 1_100_048_384); // TinyLlama-1.1B's published parameter count
  assert.deepEqual(specs.find((s) => s.name === "model.layers.21.self_attn.k_proj.weight")?.shape, [
    256,
    2048,
  ]);
  assert.deepEqual(specs.find((s) => s.name === "model.layers.0.mlp.down_proj.weight")?.shape, [2048, 5632]);
});

Deno.test("model: bad inputs are one-line user errors", async () => {
  const be = new ReferenceBackend();
  const model = new Model(be, { ...PRESETS["micro-4l-4k"], n_layer: 1, block_size: 8 });
  const err = (re: RegExp) => (e: unknown) => isUserError(e) && re.test((e as Error).message);
  await assert.rejects(
    () => model.forward(new Int32Array([1, 4096]), null),
    err(/input id 4096 at position 1/),
  );
  await assert.rejects(
    () => model.forward(new Int32Array(9), null),
    err(/sequence length 9 exceeds block_size 8/),
  );
  await assert.rejects(
    () => model.forward(new Int32Array(3), null, { batch: 2 }),
    err(/do not split into 2 rows/),
  );
  await assert.rejects(
    () => model.forward(new Int32Array(2), new Int32Array([0, 5000])),
    err(/target id 5000 at position 1/),
  );
  const r = await model.forward(new Int32Array(2), new Int32Array([-1, -100]));
  assert.ok(Number.isNaN(r.loss) && r.tokens === 0);
  assert.throws(() => model.createCache(1, 9), err(/exceed the model's block_size 8/));
});
