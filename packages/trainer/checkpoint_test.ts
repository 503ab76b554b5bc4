import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import {
  latestCheckpoint,
  listCheckpoints,
  parseTrainerState,
  readCheckpoint,
  removeTemporaries,
  saveCheckpoint,
  TRAINER_STATE_VERSION,
  type TrainerState,
  trainerStateToFile,
} from "./checkpoint.ts";
import { DEFAULT_HPARAMS } from "./hparams.ts";
import { TINY_CONFIG } from "./_test_data.ts";

function stateAt(step: number): Omit<TrainerState, "files"> {
  return {
    step,
    tokens: step * 64,
    elapsed: step / 10,
    nonFiniteStreak: 0,
    sampler: { version: 1, seed: 1, seqLen: 16, split: "train", draws: step * 4, sources: [] },
    rng: { seed: 1 },
    config: TINY_CONFIG,
    hparams: { ...DEFAULT_HPARAMS, seqLen: 16 },
    data: [{ dir: "data", weight: 1 }],
    tokenizer: null,
    initFrom: null,
  };
}

/** Writes the files a checkpoint needs, `bytes` long each. */
const tensors = (bytes: number) => async (dir: string) => {
  for (const f of ["config.json", "model.safetensors", "optimizer.safetensors"]) {
    await Deno.writeFile(`${dir}/${f}`, new Uint8Array(bytes).fill(7));
  }
};

Deno.test("saveCheckpoint writes whole checkpoints, keeps the newest K and replaces one of the same step", async () => {
  const out = await Deno.makeTempDir();
  for (const step of [3, 6, 9]) await saveCheckpoint(out, stateAt(step), 2, tensors(10 + step));
  assert.deepEqual((await listCheckpoints(out)).map((c) => c.step), [6, 9]);
  const s = await readCheckpoint(`${out}/checkpoints/step-00000009`);
  assert.equal(s.step, 9);
  assert.deepEqual(s.files, { "config.json": 19, "model.safetensors": 19, "optimizer.safetensors": 19 });
  // A run resumed from step 6 writes step 9 again: the new one replaces the old.
  await saveCheckpoint(out, stateAt(9), 2, tensors(50));
  assert.equal((await readCheckpoint(`${out}/checkpoints/step-00000009`)).files["model.safetensors"], 50);
  assert.deepEqual([...Deno.readDirSync(`${out}/checkpoints`)].map((e) => e.name).sort(), [
    "step-00000006",
    "step-00000009",
  ]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a checkpoint that failed half-way leaves no trace and the previous one stays the newest", async () => {
  const out = await Deno.makeTempDir();
  await saveCheckpoint(out, stateAt(4), 3, tensors(8));
  await assert.rejects(() =>
    saveCheckpoint(out, stateAt(8), 3, async (dir) => {
      await tensors(8)(dir);
      throw new Error("disk full");
    })
  );
  assert.deepEqual([...Deno.readDirSync(`${out}/checkpoints`)].map((e) => e.name), ["step-00000004"]);
  assert.equal((await latestCheckpoint(out, () => {}))?.state.step, 4);
  await Deno.remove(out, { recursive: true });
});

Deno.test("SIGKILL while a checkpoint is being written: the previous checkpoint is the newest whole one", async () => {
  const out = await Deno.makeTempDir();
  await saveCheckpoint(out, stateAt(5), 3, tensors(8));
  // A child process starts the next checkpoint, writes its tensors, and is killed before it finishes.
  const url = new URL("./checkpoint.ts", import.meta.url).href;
  const code = `
    import { saveCheckpoint } from "${url}";
    const state = JSON.parse(Deno.args[1]);
    await saveCheckpoint(Deno.args[0], state, 3, async (dir) => {
      await Deno.writeTextFile(dir + "/model.safetensors", "x".repeat(1000));
      await Deno.stdout.write(new TextEncoder().encode("writing\\n"));
      await new Promise(() => setInterval(() => {}, 1000));
    });`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code, out, JSON.stringify(stateAt(10))],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.equal(new TextDecoder().decode(value).trim(), "writing");
  child.kill("SIGKILL");
  assert.equal((await child.status).signal, "SIGKILL");
  reader.releaseLock();
  await child.stdout.cancel();
  const names = [...Deno.readDirSync(`${out}/checkpoints`)].map((e) => e.name).sort();
  assert.equal(names.length, 2);
  assert.match(names[0], /^\.tmp-step-00000010-/);
  assert.equal(names[1], "step-00000005");
  assert.equal((await latestCheckpoint(out, () => {}))?.state.step, 5);
  await removeTemporaries(out);
  assert.deepEqual([...Deno.readDirSync(`${out}/checkpoints`)].map((e) => e.name), ["step-00000005"]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("readCheckpoint names truncated, missing and malformed parts; latestCheckpoint skips them", async () => {
  const out = await Deno.makeTempDir();
  await saveCheckpoint(out, stateAt(2), 5, tensors(16));
  await saveCheckpoint(out, stateAt(4), 5, tensors(16));
  const newest = `${out}/checkpoints/step-00000004`;
  const expectUserError = async (pattern: RegExp) =>
    await assert.rejects(
      () => readCheckpoint(newest),
      (e) => isUserError(e) && pattern.test((e as Error).message),
    );

  await Deno.truncate(`${newest}/model.safetensors`, 10);
  await expectUserError(/model\.safetensors: truncated or changed \(10 bytes, the checkpoint wrote 16\)/);
  const warnings: string[] = [];
  assert.equal((await latestCheckpoint(out, (w) => warnings.push(w)))?.state.step, 2);
  assert.match(warnings[0], /skipping checkpoint .*step-00000004: .*truncated/);

  await Deno.remove(`${newest}/model.safetensors`);
  await expectUserError(/incomplete checkpoint \(model\.safetensors is missing\)/);
  await Deno.writeTextFile(`${newest}/trainer_state.json`, '{"format": "tinyllama-ts/trainer-state", "vers');
  await expectUserError(/trainer_state\.json: not valid JSON/);
  await Deno.writeTextFile(
    `${newest}/trainer_state.json`,
    JSON.stringify({ ...trainerStateToFile(stateAt(4)), step: -1, files: {} }),
  );
  await expectUserError(/trainer_state\.json: key "step": /);
  await Deno.writeTextFile(
    `${newest}/trainer_state.json`,
    JSON.stringify({ ...trainerStateToFile(stateAt(4)), version: TRAINER_STATE_VERSION + 1, files: {} }),
  );
  await expectUserError(/trainer state version 3 is newer than this trainer's \(2\)/);
  await Deno.remove(`${newest}/trainer_state.json`);
  await expectUserError(/not a checkpoint \(no trainer_state\.json\)/);
  await Deno.remove(out, { recursive: true });
});

const V1_RUN = new URL("./_testdata/v1_run/", import.meta.url).pathname;

Deno.test("trainer_state.json is written with snake_case keys only, and reads back as it was", async () => {
  const out = await Deno.makeTempDir();
  const path = await saveCheckpoint(out, stateAt(3), 1, tensors(4));
  const json = JSON.parse(await Deno.readTextFile(`${path}/trainer_state.json`));
  const keys = (o: unknown): string[] =>
    typeof o !== "object" || o === null
      ? []
      : Object.entries(o).flatMap(([k, v]) => [...(Array.isArray(o) ? [] : [k]), ...keys(v)]);
  const camel = keys(json).filter((k) => /[A-Z]/.test(k));
  assert.deepEqual(camel, [], `camelCase keys in the file: ${camel}`);
  assert.equal(json.version, TRAINER_STATE_VERSION);
  assert.equal(json.hparams.micro_batch_size, DEFAULT_HPARAMS.microBatchSize);
  assert.equal(json.sampler.seq_len, 16);
  const { files, ...back } = await readCheckpoint(path);
  assert.deepEqual(back, stateAt(3));
  assert.deepEqual(Object.keys(files), ["config.json", "model.safetensors", "optimizer.safetensors"]);
  await Deno.remove(out, { recursive: true });
});

Deno.test("a version-1 trainer state (written by the trainer before version 2) migrates to the same values", async () => {
  const path = `${V1_RUN}trainer_state.json`;
  const v1 = JSON.parse(await Deno.readTextFile(path));
  assert.equal(v1.version, 1);
  const s = parseTrainerState(v1, path);
  assert.equal(s.step, 3);
  assert.equal(s.tokens, 192);
  assert.equal(s.nonFiniteStreak, v1.nonFiniteStreak);
  assert.equal(s.initFrom, null);
  assert.deepEqual(s.hparams, v1.hparams);
  assert.deepEqual(s.sampler, v1.sampler);
  assert.deepEqual(s.config, v1.config);
  assert.deepEqual(s.data, v1.data);
  assert.deepEqual(s.files, v1.files);
  // Version 1 checked by the migration: a damaged one is named.
  assert.throws(
    () => parseTrainerState({ ...v1, nonFiniteStreak: "0" }, path),
    (e) => isUserError(e) && /trainer_state\.json: key "nonFiniteStreak"/.test((e as Error).message),
  );
  // Migrated and written again, it is version 2 and reads back the same.
  const { files: _, ...rest } = s;
  assert.deepEqual(parseTrainerState({ ...trainerStateToFile(rest), files: s.files }, path), s);
});
