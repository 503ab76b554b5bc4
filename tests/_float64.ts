/**
 * What the float64 comparisons with PyTorch need: the F64 tensors the fixture scripts write, and the
 * reference backend read back without rounding to f32.
 *
 * @example
 * ```ts
 * import { Float64ReadBackend, readF64 } from "./_float64.ts";
 * const grads = await readF64("tests/fixtures/model/gqa_a/grads.safetensors");
 * const be = new Float64ReadBackend();
 * ```
 * @module
 */
import { ReferenceBackend, type Tensor } from "@tinyllama-ts/backend";
import { openSafetensors } from "@tinyllama-ts/checkpoint";

/** Every tensor of a safetensors file of F64 tensors, by name (another dtype is an error). */
export async function readF64(path: string): Promise<Map<string, Float64Array>> {
  const st = await openSafetensors(path);
  try {
    const out = new Map<string, Float64Array>();
    for (const name of st.names()) {
      const dtype = st.info(name).dtype;
      if (dtype !== "F64") throw new Error(`${path}: tensor "${name}" is ${dtype}, not F64`);
      const raw = await st.readRaw(name);
      // A fresh buffer: the raw bytes need not be 8-byte aligned. Safetensors is little-endian, as
      // every platform Deno runs on.
      out.set(name, new Float64Array(raw.slice().buffer));
    }
    return out;
  } finally {
    st.close();
  }
}

/**
 * The reference backend whose `read` returns its f64 storage unrounded, so that a model's loss (summed
 * from the per-position losses it reads), logits and gradients carry all 53 bits. The values come typed
 * as `Float32Array`, as the interface says; the callers only index them.
 */
export class Float64ReadBackend extends ReferenceBackend {
  override read(t: Tensor, offset = 0, length = t.size - offset): Promise<Float32Array | Int32Array> {
    if (t.dtype !== "f32") return super.read(t, offset, length);
    if (offset < 0 || length < 0 || offset + length > t.size) return super.read(t, offset, length);
    const part = this.f64(t).slice(offset, offset + length);
    return Promise.resolve(part as unknown as Float32Array);
  }
}
