/**
 * The backend contract of tinyllama-ts: the {@link Backend} interface every compute backend implements
 * (the WASM core, WebGPU, and the plain f64 {@link ReferenceBackend} that the tests trust), the argument
 * checks every backend makes before an op runs (`contract`), and, under `./conformance`, the one suite
 * of tests that every backend passes.
 *
 * @example
 * ```ts
 * import { type Backend, ReferenceBackend } from "@tinyllama-ts/backend";
 * const backend: Backend = new ReferenceBackend();
 * const x = backend.alloc(3);
 * backend.write(x, new Float32Array([1, 2, 3]));
 * console.log(backend.info.name, await backend.read(x));
 * ```
 * @module
 */
export type {
  AdamWParams,
  AttentionShape,
  Backend,
  BackendInfo,
  DType,
  RopeShape,
  Tensor,
} from "./backend.ts";
export { ReferenceBackend } from "./reference.ts";
export { bf16ToF32, f32ToBf16 } from "./bf16.ts";
export * as contract from "./contract.ts";
