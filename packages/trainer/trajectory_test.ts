// The optimizer step against PyTorch: from the same random tiny Llama (GQA 4/2) and the same batches, 10
// steps of the trainer's step (our AdamW + global-norm clipping + TinyLlama's schedule over
// `paramSlots(model)`) give the per-step losses, gradient norms and final parameters that
// torch.optim.AdamW + clip_grad_norm_ gave (tests/fixtures/trainer/make_trajectory.py), with the global
// batch in one micro-batch and in two. The reference backend is held to PyTorch's float64 run at 1e-10,
// the WASM backend to the error PyTorch's own float32 run has (see tests/_trajectory.ts); WebGPU runs
// the same checks in tests/webgpu_model_test.ts.
import type { Backend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import { Float64ReadBackend } from "../../tests/_float64.ts";
import { assertTrajectory, runTrajectory, TRAJECTORY_CASES } from "../../tests/_trajectory.ts";

const BACKENDS: [string, () => Promise<Backend>, "f64" | "fp32"][] = [
  ["reference", () => Promise.resolve(new Float64ReadBackend()), "f64"],
  ["wasm", () => createBackend("wasm"), "fp32"],
];

for (const [name, make, kind] of BACKENDS) {
  for (const [caseName, c] of Object.entries(TRAJECTORY_CASES)) {
    Deno.test(`10 optimizer steps on ${name} follow torch.optim.AdamW + clip_grad_norm_ (${caseName})`, async () => {
      const be = await make();
      try {
        await assertTrajectory(await runTrajectory(be, c.micro_batch_size), caseName, kind);
      } finally {
        be.destroy();
      }
    });
  }
}
