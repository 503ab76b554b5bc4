/**
 * Checkpoint directories of a run: `OUT/checkpoints/step-NNNNNNNN/` holding the model in Hugging Face
 * format (`config.json`, `model.safetensors`), the optimizer moments (`optimizer.safetensors`) and
 * `trainer_state.json`. A checkpoint is built under a temporary name, every file fsynced, and renamed
 * into place in one step, so a SIGKILL at any moment leaves either the whole checkpoint or none of it;
 * `trainer_state.json` also lists the other files' sizes, which catches a checkpoint damaged later.
 *
 * @module
 */
import { z } from "zod";
import { exists, fsyncDir, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import type { DataSpec, SamplerState } from "@tinyllama-ts/data";
import { type ModelConfig, ModelConfigSchema } from "@tinyllama-ts/model";
import { type Hparams, HparamsSchema, type ResolvedHparams } from "./hparams.ts";

/**
 * `trainer_state.json` as the trainer uses it: everything besides the tensors that a run needs to
 * continue exactly. In the file the keys are snake_case ({@link TRAINER_STATE_VERSION}).
 */
export interface TrainerState {
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
  hparams: ResolvedHparams;
  data: DataSpec[];
  tokenizer: string | null;
  initFrom: string | null;
  /** Byte sizes of the checkpoint's other files. */
  files: Record<string, number>;
}

/**
 * The version of `trainer_state.json` this code writes. What happens when the format changes:
 * 1. bump this number and change {@link TrainerStateFileSchema} (the file as written, snake_case keys);
 * 2. add a function to {@link STATE_MIGRATIONS} that turns the previous version's JSON into this
 *    version's (each one a single step, so any old file is migrated through the chain on load);
 * 3. commit a checkpoint written by the previous version's code as a fixture (like
 *    `_testdata/v1_run/`) with a test that loads it through the migration and resumes from it.
 *
 * Version 1 (until the trainer's structure change): camelCase keys (`nonFiniteStreak`, `initFrom`,
 * `hparams.maxSteps`, …). Version 2: snake_case keys throughout, the sampler state's included.
 */
export const TRAINER_STATE_VERSION = 2;

const FORMAT = "tinyllama-ts/trainer-state";
const count = z.number().int().nonnegative();
const dataSpec = z.strictObject({
  dir: z.string(),
  weight: z.number().positive(),
  prefix: z.string().optional(),
});

/** The sampler state in the file: the data package's {@link SamplerState}, keys in snake_case. */
const SamplerStateFileSchema = z.strictObject({
  version: z.literal(1),
  seed: count,
  seq_len: z.number().int().positive(),
  split: z.enum(["train", "val"]),
  draws: count,
  sources: z.array(z.strictObject({
    dir: z.string(),
    prefix: z.string().optional(),
    blocks: count,
    epoch: count,
    cursor: count,
  })),
});

/** `trainer_state.json` of version {@link TRAINER_STATE_VERSION}, as written: snake_case keys. */
export interface TrainerStateFile {
  format: "tinyllama-ts/trainer-state";
  version: 2;
  step: number;
  tokens: number;
  elapsed: number;
  non_finite_streak: number;
  /** {@link SamplerState} with `seq_len` for `seqLen`. */
  sampler: {
    version: 1;
    seed: number;
    seq_len: number;
    split: "train" | "val";
    draws: number;
    sources: { dir: string; prefix?: string; blocks: number; epoch: number; cursor: number }[];
  };
  rng: { seed: number };
  config: ModelConfig;
  /** {@link Hparams} with snake_case keys (`max_steps`, `micro_batch_size`, …). */
  hparams: Record<string, unknown>;
  data: DataSpec[];
  tokenizer: string | null;
  init_from: string | null;
  files: Record<string, number>;
}

/** The schema of {@link TrainerStateFile}. Unknown keys are rejected. */
export const TrainerStateFileSchema: z.ZodType<TrainerStateFile> = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(TRAINER_STATE_VERSION),
  step: count,
  tokens: count,
  elapsed: z.number().nonnegative(),
  non_finite_streak: count,
  sampler: SamplerStateFileSchema,
  rng: z.strictObject({ seed: count }),
  config: ModelConfigSchema,
  hparams: z.record(z.string(), z.unknown()),
  data: z.array(dataSpec),
  tokenizer: z.string().nullable(),
  init_from: z.string().nullable(),
  files: z.record(z.string(), count),
});

/**
 * Migrations of `trainer_state.json`: entry `v` turns the JSON of version `v` into that of `v + 1`.
 * Each checks its input's shape first, so a damaged old file is reported as such.
 */
export const STATE_MIGRATIONS: Readonly<Record<number, (json: unknown, path: string) => unknown>> = {
  1: migrateV1,
};

/** Version 1's file: today's fields, camelCase. */
const V1Schema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  step: count,
  tokens: count,
  elapsed: z.number(),
  nonFiniteStreak: count,
  sampler: z.object({ seqLen: z.number() }).loose(),
  rng: z.object({ seed: z.number() }),
  config: z.record(z.string(), z.unknown()),
  hparams: z.record(z.string(), z.unknown()),
  data: z.array(z.unknown()),
  tokenizer: z.string().nullable(),
  initFrom: z.string().nullable(),
  files: z.record(z.string(), z.number()),
});

/** Version 1 → 2: the same values under snake_case keys. */
function migrateV1(json: unknown, path: string): unknown {
  const v1 = parseOrFail(V1Schema, json, path);
  const { seqLen, ...sampler } = v1.sampler;
  return {
    format: FORMAT,
    version: 2,
    step: v1.step,
    tokens: v1.tokens,
    elapsed: v1.elapsed,
    non_finite_streak: v1.nonFiniteStreak,
    sampler: { ...sampler, seq_len: seqLen },
    rng: v1.rng,
    config: v1.config,
    hparams: snakeKeys(v1.hparams),
    data: v1.data,
    tokenizer: v1.tokenizer,
    init_from: v1.initFrom,
    files: v1.files,
  };
}

/**
 * Parses a `trainer_state.json` of any version this code knows, migrating an older one: the state the
 * trainer uses. A foreign, newer or malformed file is a one-line {@link UserError} naming `path`.
 *
 * @example
 * ```ts ignore
 * const state = parseTrainerState(JSON.parse(text), "run/checkpoints/step-00000300/trainer_state.json");
 * ```
 */
export function parseTrainerState(json: unknown, path: string): TrainerState {
  const head = z.object({ format: z.literal(FORMAT), version: z.number().int().positive() }).safeParse(json);
  if (!head.success) throw new UserError(`${path}: not a tinyllama-ts trainer state`);
  let version = head.data.version;
  if (version > TRAINER_STATE_VERSION) {
    throw new UserError(
      `${path}: trainer state version ${version} is newer than this trainer's (${TRAINER_STATE_VERSION}); update tinyllama-ts`,
    );
  }
  while (version < TRAINER_STATE_VERSION) {
    const migrate = STATE_MIGRATIONS[version];
    if (!migrate) throw new UserError(`${path}: trainer state version ${version} cannot be migrated`);
    json = migrate(json, path);
    version++;
  }
  return stateFromFile(parseOrFail(TrainerStateFileSchema, json, path), path);
}

/** The file's JSON of a state (snake_case keys, the current version), without `files`. */
export function trainerStateToFile(state: Omit<TrainerState, "files">): Omit<TrainerStateFile, "files"> {
  const { seqLen, ...sampler } = state.sampler;
  return {
    format: FORMAT,
    version: TRAINER_STATE_VERSION,
    step: state.step,
    tokens: state.tokens,
    elapsed: state.elapsed,
    non_finite_streak: state.nonFiniteStreak,
    sampler: { ...sampler, seq_len: seqLen },
    rng: state.rng,
    config: state.config,
    hparams: snakeKeys(state.hparams as unknown as Record<string, unknown>),
    data: state.data,
    tokenizer: state.tokenizer,
    init_from: state.initFrom,
  };
}

function stateFromFile(f: TrainerStateFile, path: string): TrainerState {
  const hp = HparamsSchema.safeParse(camelKeys(f.hparams));
  if (!hp.success || hp.data.seqLen === null) {
    const issue = hp.success ? { path: ["seq_len"], message: "missing" } : hp.error.issues[0];
    throw new UserError(
      `${path}: key "hparams.${issue.path.map(String).map(snake).join(".")}": ${issue.message}`,
    );
  }
  const { seq_len, ...sampler } = f.sampler;
  return {
    step: f.step,
    tokens: f.tokens,
    elapsed: f.elapsed,
    nonFiniteStreak: f.non_finite_streak,
    sampler: { ...sampler, seqLen: seq_len },
    rng: f.rng,
    config: f.config,
    hparams: hp.data as Hparams as ResolvedHparams,
    data: f.data,
    tokenizer: f.tokenizer,
    initFrom: f.init_from,
    files: f.files,
  };
}

function parseOrFail<T>(schema: z.ZodType<T>, json: unknown, path: string): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue.path.length > 0 ? `key "${issue.path.join(".")}": ` : "";
  throw new UserError(`${path}: ${key}${issue.message}`);
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function snakeKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), v]));
}

function camelKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), v]),
  );
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
 *   await saveOptimizerState(optimizer, `${tmp}/optimizer.safetensors`);
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
    const full: TrainerStateFile = { ...trainerStateToFile(state), files: sortKeys(files) };
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
 * Reads and checks a checkpoint's `trainer_state.json`: it parses (an older version is migrated, see
 * {@link TRAINER_STATE_VERSION}), and every file it lists is there with its size. Anything else is a one-line {@link UserError} naming the problem.
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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`${path}: not valid JSON (truncated?)`);
  }
  const s = parseTrainerState(json, path);
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
