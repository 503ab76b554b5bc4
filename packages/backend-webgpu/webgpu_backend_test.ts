// What only the WebGPU backend has: a device with capped bindings really cuts tensors into windows,
// ops queue into one submission, and a missing adapter says how to get one. Every op's values and
// contract are checked by the conformance suite (conformance_test.ts), on both devices.
import assert from "node:assert/strict";
import { Random } from "@tinyllama-ts/random";
import { UserError } from "@tinyllama-ts/cli";
import { createWebGpuBackend, type WebGpuBackend } from "./webgpu_backend.ts";
import { gpuTestRegistrar, tryWebGpu } from "./_webgpu/test_gpu.ts";

const gpu = await tryWebGpu();
const windowed = typeof gpu === "string" ? gpu : await tryWebGpu({ maxBindingBytes: 16384 });
const gpuTest = gpuTestRegistrar(
  typeof gpu === "string" || typeof windowed === "string" ? String(gpu) : { gpu, windowed },
);

const rng = new Random(7);

gpuTest("webgpu: the capped device really cuts large tensors into several windows", async (g) => {
  const n = 130, k = 70, m = 257;
  const dispatches = async (be: WebGpuBackend) => {
    const [x, w, out] = [n * k, m * k, n * m].map((size) => be.alloc(size));
    await be.read(out);
    const before = be.counters.dispatches;
    be.matmulForward(out, x, w, n, k, m);
    be.zero(out);
    await be.read(out, 0, 1);
    for (const t of [x, w, out]) be.free(t);
    return be.counters.dispatches - before;
  };
  assert.equal(await dispatches(g.gpu), 2);
  // out (33410 elements) and w (17990) exceed 4088-element windows: matmul blocks of ≤ 15 output rows
  // and ≤ 58 columns of w; zero in 9 windows.
  assert.ok((await dispatches(g.windowed)) >= 9 + 9 * 5, "the windowed device did not split");
});

gpuTest("webgpu: ops queue into one submission; pipelines are created once", async ({ gpu }) => {
  const x = gpu.alloc(64), w = gpu.alloc(64), out = gpu.alloc(64);
  gpu.write(x, rng.floats(64));
  gpu.write(w, rng.floats(64));
  // The first call of each op creates its pipeline (specialised by its constants); later calls reuse it.
  gpu.matmulForward(out, x, w, 8, 8, 8);
  gpu.add(out, out, x, 64);
  await gpu.read(out);
  const before = gpu.counters;
  for (let i = 0; i < 10; i++) {
    gpu.matmulForward(out, x, w, 8, 8, 8);
    gpu.add(out, out, x, 64);
  }
  await gpu.read(out);
  const after = gpu.counters;
  assert.equal(after.dispatches - before.dispatches, 20);
  assert.equal(after.submits - before.submits, 1);
  assert.equal(after.pipelines, before.pipelines);
  assert.equal(after.blockingReads - before.blockingReads, 1, "one read back to the host");
  gpu.free(x);
  gpu.free(w);
  gpu.free(out);
});

Deno.test("webgpu: no adapter is a one-line UserError that says how to get one", async () => {
  const gpuApi = navigator.gpu;
  const hadOwn = Object.hasOwn(gpuApi, "requestAdapter");
  const original = gpuApi.requestAdapter;
  Object.defineProperty(gpuApi, "requestAdapter", { value: () => Promise.resolve(null), configurable: true });
  try {
    await assert.rejects(
      createWebGpuBackend(),
      (e) => e instanceof UserError && /mesa-vulkan-drivers/.test(e.message) && !e.message.includes("\n"),
    );
  } finally {
    if (hadOwn) {
      Object.defineProperty(gpuApi, "requestAdapter", {
        value: original,
        configurable: true,
        writable: true,
      });
    } else delete (gpuApi as unknown as Record<string, unknown>).requestAdapter;
  }
});
