// `deno task pretrain --init-from model.gguf`: continued pretraining from a quantized GGUF starts from its
// dequantized (f32 master) weights and the config in its metadata.
import assert from "node:assert/strict";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { loadHfCheckpoint, saveGguf } from "@tinyllama-ts/checkpoint";
import { openDataset } from "@tinyllama-ts/data";
import {
  DEFAULT_HPARAMS,
  parsePretrainFlags,
  readMetrics,
  type StepRecord,
  train,
  trainOptionsFromFlags,
} from "@tinyllama-ts/trainer";
import { makeTinyRun } from "../packages/trainer/_test_data.ts";

Deno.test("--init-from a q8_0 .gguf trains on from its dequantized weights", async () => {
  const tmp = await Deno.makeTempDir();
  const tiny = await makeTinyRun(tmp);
  const hf = new URL("./fixtures/trainer/tiny_gqa", import.meta.url).pathname;
  const gguf = `${tmp}/tiny.gguf`;
  const { model: source } = await loadHfCheckpoint(hf, new ReferenceBackend());
  await saveGguf(source, gguf, { type: "q8_0" });
  source.destroy();
  const out = `${tmp}/run`;
  const flags = parsePretrainFlags([
    ...[
      "--init-from",
      gguf,
      "--data",
      tiny.data,
      "--out",
      out,
      "--max-steps",
      "2",
      "--micro-batch-size",
      "4",
    ],
    ...["--global-batch-size", "4", "--warmup-steps", "0", "--lr", "1e-3"],
  ]);
  await train({ ...trainOptionsFromFlags(flags), log: () => {} });
  const sampler = openDataset([{ dir: tiny.data, weight: 1 }], { seqLen: 16, seed: DEFAULT_HPARAMS.seed });
  const batch = sampler.nextBatch(4);
  sampler.close();
  const { model } = await loadHfCheckpoint(gguf, new ReferenceBackend());
  const want = (await model.forward(batch.inputs, batch.targets, { batch: 4, grad: false })).loss!;
  model.destroy();
  const first = (await readMetrics(`${out}/metrics.jsonl`))[0] as StepRecord;
  assert.ok(Math.abs(first.loss! - want) < 1e-5, `${first.loss} vs ${want}`);
  await Deno.remove(tmp, { recursive: true });
});
