/**
 * The optimizer's file in a checkpoint, `optimizer.safetensors`: AdamW's moments `m.<name>` and
 * `v.<name>` per parameter, and the step count in the metadata. The optimizer only exposes its moments
 * and step ({@link Optimizer.moments}); the file I/O is the checkpoint's business, here.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { Backend, Tensor } from "@tinyllama-ts/backend";
import { openSafetensors, type TensorToWrite, writeSafetensors } from "@tinyllama-ts/checkpoint";
import type { Optimizer } from "@tinyllama-ts/optim";

/** The `format` metadata of an optimizer state file. */
const STATE_FORMAT = "tinyllama-ts-adamw";

/**
 * Writes `optimizer`'s moments and step count to `path` as safetensors, atomically (each moment read
 * from the backend when it is written).
 *
 * @example
 * ```ts ignore
 * await saveOptimizerState(optimizer, `${dir}/optimizer.safetensors`);
 * ```
 */
export async function saveOptimizerState(optimizer: Optimizer, path: string): Promise<void> {
  const be = optimizer.backend;
  const tensors: TensorToWrite[] = [];
  for (const which of ["m", "v"] as const) {
    for (const mo of optimizer.moments) {
      tensors.push({ name: `${which}.${mo.name}`, shape: mo.shape, data: () => readF32(be, mo[which]) });
    }
  }
  await writeSafetensors(path, tensors, {
    metadata: { format: STATE_FORMAT, step: String(optimizer.stepCount) },
  });
}

/**
 * Restores a {@link saveOptimizerState} file into `optimizer`. Every parameter's moments must be there
 * with its shape, and nothing else; a truncated or foreign file is a one-line {@link UserError} naming
 * `path`, and leaves the optimizer as it was (everything is checked before the first write).
 *
 * @example
 * ```ts ignore
 * await loadOptimizerState(optimizer, `${checkpoint}/optimizer.safetensors`);
 * ```
 */
export async function loadOptimizerState(optimizer: Optimizer, path: string): Promise<void> {
  const st = await openSafetensors(path);
  try {
    const meta = st.metadata;
    const step = Number(meta.step);
    if (meta.format !== STATE_FORMAT || !Number.isSafeInteger(step) || step < 0) {
      throw new UserError(`${path}: not an optimizer state (metadata ${JSON.stringify(meta)})`);
    }
    const expected = new Set<string>();
    for (const which of ["m", "v"]) {
      for (const mo of optimizer.moments) {
        const name = `${which}.${mo.name}`;
        expected.add(name);
        if (!st.has(name)) throw new UserError(`${path}: missing tensor "${name}"`);
        const info = st.info(name);
        if (info.dtype !== "F32") {
          throw new UserError(`${path}: tensor "${name}" is ${info.dtype}, expected F32`);
        }
        if (info.shape.length !== mo.shape.length || info.shape.some((d, j) => d !== mo.shape[j])) {
          throw new UserError(
            `${path}: tensor "${name}" has shape [${info.shape}], the model needs [${mo.shape}]`,
          );
        }
      }
    }
    for (const name of st.names()) {
      if (!expected.has(name)) throw new UserError(`${path}: unexpected tensor "${name}"`);
    }
    for (const which of ["m", "v"] as const) {
      for (const mo of optimizer.moments) {
        optimizer.backend.write(mo[which], await st.read(`${which}.${mo.name}`));
      }
    }
    optimizer.restoreStepCount(step);
  } finally {
    st.close();
  }
}

async function readF32(be: Backend, t: Tensor): Promise<Float32Array> {
  const data = await be.read(t);
  if (!(data instanceof Float32Array)) throw new Error("expected an f32 tensor");
  // Copy: a backend may hand out a view of its memory.
  return new Float32Array(data);
}
