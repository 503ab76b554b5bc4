/**
 * TinyLlama-1.1B's block at its real width (hidden 2048, 32 heads in 4 query groups, FFN 5632), two
 * layers and a 4096-entry vocabulary, against transformers (`fixtures/tinyllama_shape/make_fixture.py`):
 * the weights are a hash the fixture script and {@link tinyllamaShapeWeight} compute alike (exact in
 * bf16), written here as a BF16 Hugging Face checkpoint and loaded as the CLIs load it (bf16 weights).
 * The loss, the logits and the greedy continuation match the float64 reference within float32
 * rounding, and the bf16 model computes exactly what the f32 model of the same values computes.
 */
import assert from "node:assert/strict";
import { optIn } from "@tinyllama-ts/cli";
import { fmix32 } from "@tinyllama-ts/random";
import { type Backend, ReferenceBackend } from "@tinyllama-ts/backend";
import {
  configFromHf,
  configToHf,
  loadHfCheckpoint,
  openSafetensors,
  writeSafetensorsCheckpoint,
} from "@tinyllama-ts/checkpoint";
import { generate, Model, paramSpecs, resolveConfig } from "@tinyllama-ts/model";
import { BACKENDS } from "./_harness.ts";

const HERE = new URL("./fixtures/tinyllama_shape/", import.meta.url).pathname;

interface Fixture {
  config: Record<string, unknown>;
  seed: number;
  input_ids: number[];
  targets: number[];
  loss: number;
  loss_transformers_fp32: number;
  max_abs_logit_error_transformers_fp32: number;
  prompt_ids: number[];
  greedy_ids: number[];
}

const fixture: Fixture = JSON.parse(await Deno.readTextFile(`${HERE}expected.json`));
const { config } = configFromHf(
  { ...fixture.config, model_type: "llama" },
  "expected.json",
  "tinyllama-shape",
);

/**
 * Tensor `index` (checkpoint order) of `size` values, as make_fixture.py's `weight`: MurmurHash3's
 * finaliser of a counter; matrices k·2⁻¹¹ (|k| ≤ 127), norms 1 + k·2⁻⁷ (|k| ≤ 63).
 */
function tinyllamaShapeWeight(index: number, name: string, size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  const base = (Math.imul(index + 1, 0x85ebca77) + seed) >>> 0;
  const norm = name.endsWith("norm.weight");
  for (let i = 0; i < size; i++) {
    const h = fmix32((Math.imul(i, 0x9e3779b1) + base) >>> 0);
    out[i] = norm ? 1 + ((h % 127) - 63) / 128 : ((h % 255) - 127) / 2048;
  }
  return out;
}

/** The fixture's model as a BF16 checkpoint in a fresh directory. */
async function writeCheckpoint(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tinyllama-shape-" });
  const specs = paramSpecs(config);
  await writeSafetensorsCheckpoint(
    dir,
    specs.map((s, i) => ({
      name: s.name,
      shape: s.shape,
      data: () =>
        Promise.resolve(tinyllamaShapeWeight(i, s.name, s.shape.reduce((a, b) => a * b), fixture.seed)),
    })),
    { dtype: "BF16" },
  );
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(configToHf(config, { dtype: "bfloat16" })));
  return dir;
}

let checkpoint: Promise<string> | null = null;
const expectedLogits = await (async () => {
  const st = await openSafetensors(`${HERE}logits.safetensors`);
  try {
    return await st.read("logits");
  } finally {
    st.close();
  }
})();

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.deepStrictEqual(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function logitsAndLoss(be: Backend, weightDtype: "auto" | "f32") {
  checkpoint ??= writeCheckpoint();
  const { model } = await loadHfCheckpoint(await checkpoint, be, { weightDtype });
  try {
    const r = await model.forward(Int32Array.from(fixture.input_ids), Int32Array.from(fixture.targets), {
      logits: true,
      grad: false,
    });
    return { model, logits: r.logits!, loss: r.loss! };
  } catch (e) {
    model.destroy();
    throw e;
  }
}

for (const b of BACKENDS) {
  if (b.name === "reference") continue; // 105M parameters in f64 loops: minutes, and the wasm test covers it
  const name = `tinyllama shape (${b.name}): a BF16 checkpoint loads as bf16 and matches transformers`;
  if (b.name === "webgpu" && !optIn("TINYLLAMA_SLOW_TESTS")) {
    // 1 to 3.5 minutes on lavapipe (software Vulkan) here; TINYLLAMA_SLOW_TESTS=1 runs it.
    Deno.test({ name: `${name} (TINYLLAMA_SLOW_TESTS=1 runs it)`, ignore: true, fn() {} });
    continue;
  }
  b.test(name, async () => {
    const be = await b.create();
    try {
      const { model, logits, loss } = await logitsAndLoss(be, "auto");
      try {
        assert.deepStrictEqual(model.weightDtype, "bf16");
        assert.deepStrictEqual(model.params[model.indexOf("lm_head.weight")].dtype, "bf16");
        assert.deepStrictEqual(model.params[model.indexOf("model.norm.weight")].dtype, "f32");
        // float32 rounding: transformers in fp32 is off the float64 reference by about as much.
        const err = maxAbsDiff(logits, expectedLogits);
        assert(err < 10 * fixture.max_abs_logit_error_transformers_fp32, `max |logit error| ${err}`);
        assert(Math.abs(loss - fixture.loss) < 1e-5 * fixture.loss, `loss ${loss} vs ${fixture.loss}`);
        const ids = await generate(model, fixture.prompt_ids, {
          maxNewTokens: fixture.greedy_ids.length,
          temperature: 0,
        });
        assert.deepStrictEqual(ids, fixture.greedy_ids);
      } finally {
        model.destroy();
      }
      // The same checkpoint held in f32: bf16 weights are widened exactly, so the forward is the same.
      const f32 = await logitsAndLoss(be, "f32");
      try {
        assert.deepStrictEqual(f32.model.weightDtype, "f32");
        if (b.name === "wasm") {
          assert.deepStrictEqual(f32.logits, logits);
        } else {
          assert(maxAbsDiff(f32.logits, logits) === 0, "bf16 and f32 weights give other logits");
        }
      } finally {
        f32.model.destroy();
      }
    } finally {
      be.destroy();
    }
  });
}

Deno.test("tinyllama shape: a bf16 model does not train", async () => {
  const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"), {
    weightDtype: "bf16",
  });
  model.init(1);
  const ids = new Int32Array([1, 2, 3, 4]);
  let message = "";
  try {
    await model.forward(ids, ids);
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.includes("training needs f32 weights"), message);
  const r = await model.forward(ids, ids, { grad: false });
  assert(Number.isFinite(r.loss!));
});
