/**
 * The optimizer's file in a checkpoint, `optimizer.safetensors`: AdamW's moments `m.<name>` and
 * `v.<name>` per parameter, and the step count in the metadata. The optimizer only exposes its moments
 * and step ({@link Optimizer.moments}); the file I/O is the checkpoint's business, here. A sharded
 * optimizer (`distributed.ts`) writes and reads the same format through {@link writeOptimizerState} and
 * {@link readOptimizerState}.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { Backend, Tensor } from "@tinyllama-ts/backend";
import { openSafetensors, type TensorToWrite, writeSafetensors } from "@tinyllama-ts/checkpoint";
import type { Optimizer } from "@tinyllama-ts/optim";

/** The `format` metadata of an optimizer state file. */
const STATE_FORMAT = "tinyllama-ts-adamw";

/** One parameter's moments to write: the whole tensors (or how to read them when they are written). */
export interface MomentsToWrite {
  name: string;
  shape: readonly number[];
  m: Float32Array | (() => Promise<Float32Array>);
  v: Float32Array | (() => Promise<Float32Array>);
}

/**
 * Writes an optimizer state file from whole moments, per parameter in slot order, and the step count:
 * what {@link saveOptimizerState} writes for the plain optimizer, and a sharded optimizer's rank 0 for the
 * moments it gathered (so both write one format).
 *
 * @example
 * ```ts ignore
 * await writeOptimizerState(path, [{ name: "w", shape: [2], m: new Float32Array(2), v: new Float32Array(2) }], 0);
 * ```
 */
export async function writeOptimizerState(
  path: string,
  moments: readonly MomentsToWrite[],
  step: number,
): Promise<void> {
  const tensors: TensorToWrite[] = [];
  for (const which of ["m", "v"] as const) {
    for (const mo of moments) tensors.push({ name: `${which}.${mo.name}`, shape: mo.shape, data: mo[which] });
  }
  await writeSafetensors(path, tensors, { metadata: { format: STATE_FORMAT, step: String(step) } });
}

/**
 * Reads an optimizer state file for the parameters `slots` (names and shapes, in slot order): checks that
 * every parameter's moments are there with its shape and nothing else (a one-line {@link UserError}
 * naming `path` otherwise, before `restore` is called once), then hands each whole moment to `restore`
 * and returns the step count. A sharded optimizer's `restore` keeps its slice.
 *
 * @example
 * ```ts ignore
 * const step = await readOptimizerState(path, slots, (which, i, data) => be.write(tensors[which][i], data));
 * ```
 */
export async function readOptimizerState(
  path: string,
  slots: readonly { name: string; shape: readonly number[] }[],
  restore: (which: "m" | "v", index: number, data: Float32Array) => void,
): Promise<number> {
  const st = await openSafetensors(path);
  try {
    const meta = st.metadata;
    const step = Number(meta.step);
    if (meta.format !== STATE_FORMAT || !Number.isSafeInteger(step) || step < 0) {
      throw new UserError(`${path}: not an optimizer state (metadata ${JSON.stringify(meta)})`);
    }
    const expected = new Set<string>();
    for (const which of ["m", "v"]) {
      for (const mo of slots) {
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
      for (let i = 0; i < slots.length; i++) restore(which, i, await st.read(`${which}.${slots[i].name}`));
    }
    return step;
  } finally {
    st.close();
  }
}

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
  await writeOptimizerState(
    path,
    optimizer.moments.map((mo) => ({
      name: mo.name,
      shape: mo.shape,
      m: () => readF32(be, mo.m),
      v: () => readF32(be, mo.v),
    })),
    optimizer.stepCount,
  );
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
  const moments = optimizer.moments;
  const step = await readOptimizerState(
    path,
    moments,
    (which, i, data) => optimizer.backend.write(moments[i][which], data),
  );
  optimizer.restoreStepCount(step);
}

async function readF32(be: Backend, t: Tensor): Promise<Float32Array> {
  const data = await be.read(t);
  if (!(data instanceof Float32Array)) throw new Error("expected an f32 tensor");
  // Copy: a backend may hand out a view of its memory.
  return new Float32Array(data);
}
