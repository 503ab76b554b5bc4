import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { listCheckpoints, readCheckpoint } from "./checkpoint.ts";
import { readMetrics, type StepRecord, type ValRecord } from "./metrics.ts";
import { DEFAULT_HPARAMS } from "./hparams.ts";
import { openDataset } from "@tinyllama-ts/data";
import { makeTinyRun, TINY_CONFIG } from "./_test_data.ts";
import { MAX_NON_FINITE_STREAK, train, type TrainOptions, type TrainResult } from "./train.ts";

const tmp = await Deno.makeTempDir({ prefix: "train-test-" });
const tiny = await makeTinyRun(tmp);
let runs = 0;

/** Trains the tiny model with `extra` options into a fresh directory; returns the result and the metrics. */
const warnings: string[] = [];
const BASE: TrainOptions = {
  out: "",
  config: tiny.config,
  data: [{ dir: tiny.data, weight: 1 }],
  microBatchSize: 4,
  globalBatchSize: 4,
  lr: 1e-2,
  minLr: 1e-3,
  warmupSteps: 2,
  evalIters: 2,
};
async function run(extra: Partial<TrainOptions>, out = `${tmp}/run-${runs++}`) {
  const logs: string[] = [];
  const result: TrainResult = await train({
    ...BASE,
    out,
    ...extra,
    log: (s) => {
      logs.push(s);
      if (s.includes("warning")) warnings.push(s.trim());
    },
  });
  const metrics = await readMetrics(`${out}/metrics.jsonl`);
  const steps = metrics.filter((r): r is StepRecord => "loss" in r);
  const vals = metrics.filter((r): r is ValRecord => "val_loss" in r);
  return { result, metrics, steps, vals, logs, out };
}

const trajectory = (steps: StepRecord[]) => steps.map((s) => [s.step, s.loss, s.lr, s.grad_norm, s.tokens]);

Deno.test("a run writes one metrics line per step, validations, and a whole Hugging Face checkpoint", async () => {
  const { result, steps, vals, out } = await run({ maxSteps: 10, saveInterval: 4, evalInterval: 5 });
  assert.deepEqual(steps.map((s) => s.step), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const s of steps) {
    assert.equal(typeof s.loss, "number");
    assert.ok(s.grad_norm! > 0 && s.tokens_per_sec > 0 && s.elapsed > 0);
    assert.equal(s.tokens, (s.step + 1) * 4 * 16);
    assert.equal(s.mfu, undefined, "no MFU without a known peak");
  }
  assert.equal(steps[0].lr, 0);
  assert.ok(Math.abs(steps[2].lr - 1e-2) < 1e-15, "the peak at the end of warmup");
  // Validation after steps 4 and 9 (the end).
  assert.deepEqual(vals.map((v) => v.step), [4, 9]);
  assert.ok(Math.abs(vals[1].val_ppl - Math.exp(vals[1].val_loss)) < 1e-9);
  assert.ok(steps[9].loss! < steps[0].loss! * 0.9, `loss ${steps[0].loss} → ${steps[9].loss}`);
  // Checkpoints after 4, 8 and 10 steps; the newest 2 kept (the default).
  assert.deepEqual((await listCheckpoints(out)).map((c) => c.step), [8, 10]);
  assert.equal(result.checkpoint, `${out}/checkpoints/step-00000010`);
  assert.equal(result.steps, 10);
  const state = await readCheckpoint(result.checkpoint);
  assert.equal(state.step, 10);
  assert.equal(state.tokens, 10 * 64);
  assert.equal(state.sampler.draws, 40);
  assert.equal(state.hparams.seqLen, 16);
  assert.deepEqual({ ...state.config }, TINY_CONFIG);
  assert.deepEqual(
    Object.keys(state.files),
    ["config.json", "model.safetensors", "optimizer.safetensors"],
  );
  // The model loads back as a Hugging Face checkpoint with the config it was trained with.
  const { model } = await loadHfCheckpoint(result.checkpoint, new ReferenceBackend());
  assert.equal(model.config.n_embd, 32);
  assert.equal(model.config.n_query_groups, 2);
  const hf = JSON.parse(await Deno.readTextFile(`${result.checkpoint}/config.json`));
  assert.equal(hf.architectures[0], "LlamaForCausalLM");
  assert.equal(hf.num_key_value_heads, 2);
});

Deno.test("validation never changes the training trajectory", async () => {
  const every = await run({ maxSteps: 8, evalInterval: 1 });
  const end = await run({ maxSteps: 8, evalInterval: 0 });
  assert.equal(every.vals.length, 8);
  assert.equal(end.vals.length, 1);
  assert.deepEqual(trajectory(every.steps), trajectory(end.steps));
  assert.equal(every.vals[7].val_loss, end.vals[0].val_loss);
});

Deno.test("gradient accumulation: 2 micro-batches of 2 give the losses of one batch of 4", async () => {
  const one = await run({ maxSteps: 6 });
  const two = await run({ maxSteps: 6, microBatchSize: 2 });
  for (let i = 0; i < 6; i++) {
    assert.ok(Math.abs(one.steps[i].loss! - two.steps[i].loss!) < 1e-5, `step ${i}`);
    assert.ok(Math.abs(one.steps[i].grad_norm! - two.steps[i].grad_norm!) < 1e-4 * one.steps[i].grad_norm!);
  }
  const state = await readCheckpoint(two.result.checkpoint);
  assert.equal(state.sampler.draws, 24, "every step drew the global batch");
});

Deno.test("--resume auto after the end of a run does nothing; more --max-steps continue it", async () => {
  const first = await run({ maxSteps: 6, saveInterval: 3 });
  const again = await run({ resume: "auto" }, first.out);
  assert.equal(again.result.stepsThisRun, 0);
  assert.match(again.logs.join("\n"), /already trained to step 6 of 6/);
  // A longer schedule changes the learning rates from step 6 on, so compare against a straight run of
  // the same schedule for the resumed part only through its data: the sampler continues where it was.
  const more = await run({ resume: "auto", maxSteps: 9 }, first.out);
  assert.equal(more.result.stepsThisRun, 3);
  assert.deepEqual(more.steps.map((s) => s.step), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(trajectory(more.steps.slice(0, 6)), trajectory(first.steps));
  assert.equal((await readCheckpoint(more.result.checkpoint)).sampler.draws, 36);
});

Deno.test("a non-empty --out without --resume is refused and left as it was", async () => {
  const done = await run({ maxSteps: 2 });
  const before = await Deno.readTextFile(`${done.out}/metrics.jsonl`);
  await assert.rejects(
    () => run({ maxSteps: 2 }, done.out),
    (e) => isUserError(e) && /is not empty: pass --resume auto/.test((e as Error).message),
  );
  assert.equal(await Deno.readTextFile(`${done.out}/metrics.jsonl`), before);
});

Deno.test("non-finite losses skip their steps with a warning, and several in a row stop the run", async () => {
  const out = `${tmp}/diverge`;
  await assert.rejects(
    async () => {
      try {
        await run({ maxSteps: 20, lr: 1e30, warmupSteps: 0 }, out);
      } finally {
        assert.equal(
          warnings.filter((w) => /warning: step \d: non-finite .*; step skipped/.test(w)).length,
          5,
        );
      }
    },
    (e) => isUserError(e) && /5 non-finite steps in a row \(steps 1–5\)/.test((e as Error).message),
  );
  const metrics = (await readMetrics(`${out}/metrics.jsonl`)) as StepRecord[];
  assert.equal(metrics.length, 1 + MAX_NON_FINITE_STREAK);
  assert.equal(metrics[0].skipped, undefined);
  for (const m of metrics.slice(1)) {
    assert.equal(m.skipped, true);
    assert.ok(m.loss === null || m.grad_norm === null, JSON.stringify(m));
  }
});

Deno.test("--init-from starts from a Hugging Face checkpoint with its config", async () => {
  const hf = new URL("../../tests/fixtures/trainer/tiny_gqa", import.meta.url).pathname;
  const out = `${tmp}/init`;
  const r = await train({
    out,
    initFrom: hf,
    data: [{ dir: tiny.data, weight: 1 }],
    maxSteps: 3,
    microBatchSize: 4,
    globalBatchSize: 4,
    warmupSteps: 0,
    lr: 1e-3,
    log: () => {},
  });
  const state = await readCheckpoint(r.checkpoint);
  assert.equal(state.config.vocab_size, 64);
  assert.equal(state.config.block_size, 16);
  assert.equal(state.initFrom, hf);
  // Step 0's loss is the fixture model's loss on the sampler's first global batch.
  const sampler = openDataset([{ dir: tiny.data, weight: 1 }], { seqLen: 16, seed: DEFAULT_HPARAMS.seed });
  const batch = sampler.nextBatch(4);
  sampler.close();
  const { model } = await loadHfCheckpoint(hf, new ReferenceBackend());
  const expected = (await model.forward(batch.inputs, batch.targets, { batch: 4, grad: false })).loss!;
  model.destroy();
  const first = (await readMetrics(`${out}/metrics.jsonl`))[0] as StepRecord;
  assert.ok(Math.abs(first.loss! - expected) < 1e-5, `${first.loss} vs ${expected}`);
});

/** The files of a checkpoint that hold the parameters and the optimizer state, as bytes. */
async function tensorsOf(checkpoint: string) {
  return {
    model: await Deno.readFile(`${checkpoint}/model.safetensors`),
    optimizer: await Deno.readFile(`${checkpoint}/optimizer.safetensors`),
  };
}

Deno.test("a run stopped by its signal and resumed gives the uninterrupted run's losses and parameters", async () => {
  const opts = { maxSteps: 9, saveInterval: 4, evalInterval: 3 };
  const straight = await run(opts);
  const abort = new AbortController();
  const stopped = await run({
    ...opts,
    signal: abort.signal,
    onStep: (r) => {
      if (r.step === 4) abort.abort();
    },
  });
  assert.equal(stopped.result.interrupted, true);
  assert.equal(stopped.result.steps, 5);
  assert.deepEqual((await listCheckpoints(stopped.out)).map((c) => c.step), [4, 5]);
  const resumed = await run({ resume: "auto" }, stopped.out);
  assert.equal(resumed.result.stepsThisRun, 4);
  assert.deepEqual(trajectory(resumed.steps), trajectory(straight.steps));
  assert.deepEqual(
    resumed.vals.map((v) => [v.step, v.val_loss]),
    straight.vals.map((v) => [v.step, v.val_loss]),
  );
  assert.deepEqual(await tensorsOf(resumed.result.checkpoint), await tensorsOf(straight.result.checkpoint));
  const [a, b] = [
    await readCheckpoint(resumed.result.checkpoint),
    await readCheckpoint(straight.result.checkpoint),
  ];
  assert.deepEqual(a.sampler, b.sampler);
});

const V1_RUN = new URL("./_testdata/v1_run/", import.meta.url).pathname;

Deno.test("a version-1 checkpoint (written by the trainer before version 2) resumes exactly", async () => {
  // The fixture's state names its data relatively ("data"), as the run that wrote it was given.
  const dir = `${tmp}/v1`;
  await Deno.mkdir(dir);
  await makeTinyRun(dir);
  const ckpt = `${dir}/run/checkpoints/step-00000003`;
  await Deno.mkdir(ckpt, { recursive: true });
  for (const f of ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"]) {
    await Deno.copyFile(`${V1_RUN}${f}`, `${ckpt}/${f}`);
  }
  await Deno.copyFile(`${V1_RUN}metrics.jsonl`, `${dir}/run/metrics.jsonl`);
  const expected = await readMetrics(`${V1_RUN}metrics.jsonl`);
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    const resumed = await train({ out: "run", resume: "auto", log: () => {} });
    assert.equal(resumed.stepsThisRun, 3);
    // The old code's own losses for steps 3–5 (the same backend, so the same bits).
    const got = await readMetrics("run/metrics.jsonl");
    const steps = (m: typeof got) => trajectory(m.filter((r): r is StepRecord => "loss" in r));
    assert.deepEqual(steps(got), steps(expected));
    const vals = (m: typeof got) => m.filter((r): r is ValRecord => "val_loss" in r);
    assert.deepEqual(vals(got).map((v) => v.step), vals(expected).map((v) => v.step));
    vals(got).forEach((v, i) => assert.ok(Math.abs(v.val_loss - vals(expected)[i].val_loss) < 1e-12));
    // And the parameters and moments of an uninterrupted run with the state's settings.
    const v1 = JSON.parse(await Deno.readTextFile(`${V1_RUN}trainer_state.json`));
    const straight = await train({
      ...v1.hparams,
      out: "straight",
      config: "config.json",
      data: v1.data,
      log: () => {},
    });
    assert.deepEqual(await tensorsOf(resumed.checkpoint), await tensorsOf(straight.checkpoint));
    const written = JSON.parse(await Deno.readTextFile(`${resumed.checkpoint}/trainer_state.json`));
    assert.equal(written.version, 2);
  } finally {
    Deno.chdir(cwd);
  }
});

Deno.test("--init-from keeps the checkpoint's BOS and EOS ids in every checkpoint, resumed ones too", async () => {
  const hf = `${tmp}/ids`;
  await Deno.mkdir(hf);
  const fixture = new URL("../../tests/fixtures/trainer/tiny_gqa/", import.meta.url).pathname;
  await Deno.copyFile(`${fixture}model.safetensors`, `${hf}/model.safetensors`);
  const config = JSON.parse(await Deno.readTextFile(`${fixture}config.json`));
  await Deno.writeTextFile(
    `${hf}/config.json`,
    JSON.stringify({ ...config, bos_token_id: 5, eos_token_id: 7 }),
  );
  const out = `${tmp}/ids-run`;
  const first = await run({ initFrom: hf, config: undefined, maxSteps: 2 }, out);
  const ids = async (ckpt: string) => {
    const c = JSON.parse(await Deno.readTextFile(`${ckpt}/config.json`));
    return [c.bos_token_id, c.eos_token_id];
  };
  assert.deepEqual(await ids(first.result.checkpoint), [5, 7]);
  const more = await run({ resume: "auto", maxSteps: 3, config: undefined }, out);
  assert.deepEqual(await ids(more.result.checkpoint), [5, 7]);
});

Deno.test("train() checks the options a program gives: one-line errors, nothing written", async () => {
  const cases: [Partial<TrainOptions>, RegExp][] = [
    [{ lr: -1 }, /--lr must be ≥ 0, got -1/],
    [{ microBatchSize: 0 }, /--micro-batch-size must be > 0, got 0/],
    [{ beta2: 1 }, /--beta2 must be in \[0, 1\), got 1/],
    [{ backend: "cuda" as "wasm" }, /--backend must be one of wasm, webgpu, got "cuda"/],
    [
      { config: { ...TINY_CONFIG, n_query_groups: 3 } },
      /n_head \(4\) is not divisible by n_query_groups \(3\)/,
    ],
    [{ globalBatchSize: 6 }, /--global-batch-size 6 is not a multiple of --micro-batch-size 4/],
  ];
  for (const [opts, pattern] of cases) {
    const out = `${tmp}/bad-${runs++}`;
    await assert.rejects(
      () => run(opts, out),
      (e) => isUserError(e) && pattern.test((e as Error).message) && !(e as Error).message.includes("\n"),
      JSON.stringify(opts),
    );
    assert.equal(await Deno.stat(out).then(() => true, () => false), false);
  }
});

Deno.test("a damaged validation shard is refused before the first step, with nothing written", async () => {
  const data = `${tmp}/damaged-val`;
  await Deno.mkdir(data);
  for await (const e of Deno.readDir(tiny.data)) {
    await Deno.copyFile(`${tiny.data}/${e.name}`, `${data}/${e.name}`);
  }
  const val = [...Deno.readDirSync(data)].map((e) => e.name).find((n) => n.startsWith("val_"))!;
  const bytes = await Deno.readFile(`${data}/${val}`);
  await Deno.writeFile(`${data}/${val}`, bytes.subarray(0, bytes.length - 7));
  const out = `${tmp}/damaged-val-run`;
  await assert.rejects(
    () => run({ maxSteps: 2, data: [{ dir: data, weight: 1 }] }, out),
    (e) => isUserError(e) && (e as Error).message.includes(val),
  );
  assert.equal(await Deno.stat(out).then(() => true, () => false), false);
});

Deno.test("cleanup", async () => {
  await Deno.remove(tmp, { recursive: true });
});
