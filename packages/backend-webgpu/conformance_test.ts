// The conformance suite on the WebGPU backend, twice: as the adapter allows, and with storage bindings
// capped at 16 KiB, so that the windowed paths (tensors larger than one binding, as TinyLlama's
// embedding on lavapipe) run too. Without an adapter the tests are skipped visibly (they fail under
// TINYLLAMA_REQUIRE_WEBGPU=1).
import { conformanceSuite } from "@tinyllama-ts/backend/conformance";
import { createWebGpuBackend } from "./webgpu_backend.ts";
import { gpuTestRegistrar, tryWebGpu } from "./_webgpu/test_gpu.ts";

// Whether there is an adapter must be known before the tests are registered; each test opens its own.
const probe = await tryWebGpu();
if (typeof probe !== "string") probe.destroy();
const gpuTest = gpuTestRegistrar<null>(typeof probe === "string" ? probe : null);
const test = (name: string, fn: () => Promise<void>) => gpuTest(name, fn);

conformanceSuite("webgpu", () => createWebGpuBackend(), { test });
const maxBindingBytes = 16384;
conformanceSuite("webgpu windowed", () => createWebGpuBackend({ maxBindingBytes }), {
  test,
  layout: "loose",
  maxBindingBytes,
  largeMatmul: false,
});
