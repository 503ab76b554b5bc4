import assert from "node:assert/strict";
import { paramSpecs, PRESETS } from "@tinyllama-ts/model";
import { fp32PeakFlops, trainingFlopsPerToken } from "./mfu.ts";

Deno.test("trainingFlopsPerToken is lit-gpt's estimate: 6N plus attention", () => {
  const c = PRESETS["tinyllama-1.1b"];
  const n = paramSpecs(c).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  assert.equal(n, 1_100_048_384);
  // 3 · (2·N + 4 · 22 layers · 2048 · 2048 positions)
  assert.equal(trainingFlopsPerToken(c, n, 2048), 3 * (2 * n + 4 * 22 * 2048 * 2048));
  assert.ok(Math.abs(trainingFlopsPerToken(c, n, 2048) / 7.70e9 - 1) < 0.01);
});

Deno.test("fp32PeakFlops knows data-centre GPUs by adapter name and no CPU", () => {
  assert.equal(fp32PeakFlops("NVIDIA H100 80GB HBM3"), 67e12);
  assert.equal(fp32PeakFlops("NVIDIA H100 PCIe"), 51e12);
  assert.equal(fp32PeakFlops("NVIDIA A100-SXM4-40GB"), 19.5e12);
  assert.equal(fp32PeakFlops("llvmpipe (LLVM 15.0.6, 256 bits)"), undefined);
  assert.equal(fp32PeakFlops(undefined), undefined);
});
