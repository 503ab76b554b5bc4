// The whole model on WebGPU through a training run: the 10-step trajectory of tests/fixtures/trainer
// (the trainer's step: accumulated micro-batches, AdamW + global-norm clipping, TinyLlama's schedule),
// with the global batch in one micro-batch and in two, against PyTorch's losses, gradient norms and
// final parameters, within the error PyTorch's own float32 run has (tests/_trajectory.ts). (Loss,
// logits and gradients against PyTorch, micro-batch accumulation and the KV cache run on WebGPU with
// every other backend in model_test.ts; the same trajectory on the reference and WASM backends in
// packages/trainer/trajectory_test.ts.)
import type { WebGpuBackend } from "@tinyllama-ts/backend-webgpu";
import { gpuTestRegistrar, tryWebGpu } from "../packages/backend-webgpu/_webgpu/test_gpu.ts";
import { assertTrajectory, runTrajectory, TRAJECTORY_CASES } from "./_trajectory.ts";

const gpu = await tryWebGpu();
const gpuTest = gpuTestRegistrar<WebGpuBackend>(gpu);

for (const [caseName, c] of Object.entries(TRAJECTORY_CASES)) {
  gpuTest(`model webgpu: 10 training steps follow PyTorch's trajectory (${caseName})`, async (be) => {
    await assertTrajectory(await runTrajectory(be, c.micro_batch_size), caseName, "fp32");
  });
}
