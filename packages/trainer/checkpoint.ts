/**
 * Checkpoint directories of a run: `OUT/checkpoints/step-NNNNNNNN/` holding the model in Hugging Face
 * format (`config.json`, `model.safetensors`), the optimizer moments (`optimizer.safetensors`) and
 * `trainer_state.json`. A checkpoint is built under a temporary name, every file fsynced, and renamed
 * into place in one step, so a SIGKILL at any moment leaves either the whole checkpoint or none of it;
 * `trainer_state.json` also lists the other files' sizes, which catches a checkpoint damaged later.
 *
 * @module
 */
import { exists, fsyncDir, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import type { DataSpec, SamplerState } from "@tinyllama-ts/data";
import type { ModelConfig } from "@tinyllama-ts/model";
import type { Hparams } from "./hparams.ts";

/** `trainer_state.json`: everything besides the tensors that a run needs to continue exactly. */
export interface TrainerState {
  format: "tinyllama-ts/trainer-state";
  version: 1;
  /** Optimizer steps done; the run continues at this 0-based step. */
  step: number;
  /** Tokens trained on so far. */
  tokens: number;
  /** Wall-clock seconds of training so far (across resumptions). */
  elapsed: number;
  /** Non-finite steps in a row just before this checkpoint (the divergence guard continues). */
  nonFiniteStreak: number;
  /** The data sampler's position. */
  sampler: SamplerState;
  /**
   * The random state. The data order is counter-based (it is in `sampler`) and initialisation happens
   * once before step 0, so the seed is the whole of it.
   */
  rng: { seed: number };
  config: ModelConfig;
  hparams: Hparams & { seqLen: number };
  data: DataSpec[];
  tokenizer: string | null;
  initFrom: string | null;
  /** Byte sizes of the checkpoint's other files. */
  files: Record<string, number>;
}

/** The file of {@link TrainerState} in a checkpoint. */
export const TRAINER_STATE_FILE = "trainer_state.json";
/** The optimizer moments in a checkpoint. */
export const OPTIMIZER_FILE = "optimizer.safetensors";

/** `OUT/checkpoints`. */
export function checkpointsDir(out: string): string {
  return `${out}/checkpoints`;
}

/** The directory name of the checkpoint after `step` optimizer steps: `step-00000300`. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, "0")}`;
}

/**
 * Writes a checkpoint for `state.step` under `OUT/checkpoints/`: `writeTensors(dir)` fills a temporary
 * directory, then `trainer_state.json` is written with the files' sizes, the directory is renamed
 * into place and the parent fsynced. Older checkpoints beyond the newest `keep` are removed. Returns
 * the checkpoint's path.
 *
 * @example
 * ```ts ignore
 * const dir = await saveCheckpoint("runs/a", state, 2, async (tmp) => {
 *   await saveHfCheckpoint(model, tmp);
 *   await optimizer.saveState(`${tmp}/optimizer.safetensors`);
 * });
 * ```
 */
export async function saveCheckpoint(
  out: string,
  state: Omit<TrainerState, "files">,
  keep: number,
  writeTensors: (dir: string) => Promise<void>,
): Promise<string> {
  const parent = checkpointsDir(out);
  await Deno.mkdir(parent, { recursive: true });
  const name = checkpointName(state.step);
  const tmp = `${parent}/.tmp-${name}-${crypto.randomUUID().slice(0, 8)}`;
  const final = `${parent}/${name}`;
  await Deno.mkdir(tmp);
  try {
    await writeTensors(tmp);
    const files: Record<string, number> = {};
    for await (const e of Deno.readDir(tmp)) {
      if (e.isFile) files[e.name] = (await Deno.stat(`${tmp}/${e.name}`)).size;
    }
    const full: TrainerState = { ...state, files: sortKeys(files) };
    await writeFileAtomic(
      `${tmp}/${TRAINER_STATE_FILE}`,
      new TextEncoder().encode(JSON.stringify(full, null, 1) + "\n"),
    );
    await fsyncDir(tmp);
    // A checkpoint of this step can exist when a run resumed from an older one: set it aside first.
    const old = `${parent}/.old-${name}-${crypto.randomUUID().slice(0, 8)}`;
    const replaced = await exists(final);
    if (replaced) await Deno.rename(final, old);
    await Deno.rename(tmp, final);
    await fsyncDir(parent);
    if (replaced) await Deno.remove(old, { recursive: true });
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  const all = await listCheckpoints(out);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) {
    await Deno.remove(c.path, { recursive: true });
  }
  return final;
}

/** The checkpoint directories of a run, oldest first (whole or not: see {@link readCheckpoint}). */
export async function listCheckpoints(out: string): Promise<{ step: number; path: string }[]> {
  const list: { step: number; path: string }[] = [];
  try {
    for await (const e of Deno.readDir(checkpointsDir(out))) {
      const m = /^step-(\d{8})$/.exec(e.name);
      if (e.isDirectory && m) list.push({ step: Number(m[1]), path: `${checkpointsDir(out)}/${e.name}` });
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return list.sort((a, b) => a.step - b.step);
}

/** Removes what a killed run left half-written: temporary checkpoint directories. */
export async function removeTemporaries(out: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(checkpointsDir(out))) {
      if (e.name.startsWith(".tmp-") || e.name.startsWith(".old-")) {
        await Deno.remove(`${checkpointsDir(out)}/${e.name}`, { recursive: true });
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Reads and checks a checkpoint's `trainer_state.json`: it parses, has the fields a run needs, and every
 * file it lists is there with its size. Anything else is a one-line {@link UserError} naming the problem.
 */
export async function readCheckpoint(dir: string): Promise<TrainerState> {
  const path = `${dir}/${TRAINER_STATE_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(`${dir}: not a checkpoint (no ${TRAINER_STATE_FILE})`);
    }
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  let s: TrainerState;
  try {
    s = JSON.parse(text);
  } catch {
    throw new UserError(`${path}: not valid JSON (truncated?)`);
  }
  if (s?.format !== "tinyllama-ts/trainer-state" || s.version !== 1) {
    throw new UserError(`${path}: not a tinyllama-ts trainer state`);
  }
  const count = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
  if (
    !count(s.step) || !count(s.tokens) || typeof s.elapsed !== "number" || !count(s.nonFiniteStreak) ||
    typeof s.sampler !== "object" || typeof s.config !== "object" || typeof s.hparams !== "object" ||
    !Array.isArray(s.data) || typeof s.files !== "object" || s.files === null ||
    typeof s.rng?.seed !== "number"
  ) {
    throw new UserError(`${path}: missing or malformed fields`);
  }
  for (const [file, size] of Object.entries(s.files)) {
    let actual: number;
    try {
      actual = (await Deno.stat(`${dir}/${file}`)).size;
    } catch {
      throw new UserError(`${dir}: incomplete checkpoint (${file} is missing)`);
    }
    if (actual !== size) {
      throw new UserError(
        `${dir}/${file}: truncated or changed (${actual} bytes, the checkpoint wrote ${size})`,
      );
    }
  }
  for (const need of ["config.json", OPTIMIZER_FILE]) {
    if (!(need in s.files)) throw new UserError(`${dir}: incomplete checkpoint (${need} is missing)`);
  }
  return s;
}

/**
 * The newest whole checkpoint of a run, or null if it has none. A damaged one is skipped with a warning
 * (through `warn`), so a run continues from the newest checkpoint it can trust.
 */
export async function latestCheckpoint(
  out: string,
  warn: (msg: string) => void,
): Promise<{ path: string; state: TrainerState } | null> {
  const all = await listCheckpoints(out);
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      return { path: all[i].path, state: await readCheckpoint(all[i].path) };
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      warn(`skipping checkpoint ${all[i].path}: ${e.message}`);
    }
  }
  return null;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
