/**
 * The optimizer trajectory against PyTorch (tests/fixtures/trainer/make_trajectory.py): 10 steps of the
 * trainer's step (accumulated micro-batches, global-norm clipping, AdamW at TinyLlama's cosine lr) from
 * the fixture's tiny Llama on the fixture's batches, and the checks of the losses, gradient norms and
 * final parameters against torch.optim.AdamW + clip_grad_norm_. Run on every backend by
 * packages/trainer/trajectory_test.ts and tests/webgpu_model_test.ts.
 *
 * @example
 * ```ts ignore
 * import { assertTrajectory, runTrajectory, TRAJECTORY_CASES } from "./_trajectory.ts";
 * const run = await runTrajectory(backend, TRAJECTORY_CASES.accumulate_2.micro_batch_size);
 * await assertTrajectory(run, "accumulate_2", "fp32");
 * ```
 * @module
 */
import assert from "node:assert/strict";
import type { Backend } from "@tinyllama-ts/backend";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { cosineLr, Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { optimizerStep } from "../packages/trainer/step.ts";
import { relError } from "./_harness.ts";
import { readF64 } from "./_float64.ts";

/** `tests/fixtures/trainer/`. */
export const TRAJECTORY_FIXTURES: string = new URL("./fixtures/trainer/", import.meta.url).pathname;

/** One case of trajectory.json: a micro-batch size and what PyTorch's run gave. */
export interface TrajectoryCase {
  micro_batch_size: number;
  /** float32 run: the loss of each step (before its update) and the gradient norm (before clipping). */
  losses: number[];
  grad_norms: number[];
  /** The same run in float64 throughout. */
  losses_float64: number[];
  grad_norms_float64: number[];
  /** max over tensors of max |Δ| / max |float64| between the float32 and float64 runs' final parameters. */
  final_params_max_rel_error_float32: number;
}

const fx = JSON.parse(await Deno.readTextFile(`${TRAJECTORY_FIXTURES}trajectory.json`));

/** The cases of trajectory.json by name (the global batch in one micro-batch, and in two). */
export const TRAJECTORY_CASES: Readonly<Record<string, TrajectoryCase>> = fx.cases;

/** What {@link runTrajectory} saw. */
export interface TrajectoryRun {
  losses: number[];
  gradNorms: number[];
  /** Every parameter after the last step, by its HF name. */
  params: Map<string, Float64Array>;
}

/**
 * The fixture's 10 steps on `be` with micro-batches of `micro` rows, through the trainer's
 * `optimizerStep` and an optimizer over `paramSlots(model)`. The model and optimizer are freed; the
 * backend is not.
 */
export async function runTrajectory(be: Backend, micro: number): Promise<TrajectoryRun> {
  const hp = fx.hparams;
  const { model } = await loadHfCheckpoint(`${TRAJECTORY_FIXTURES}tiny_gqa`, be);
  const opt = new Optimizer(be, paramSlots(model), {
    beta1: hp.beta1,
    beta2: hp.beta2,
    eps: hp.eps,
    weightDecay: hp.weight_decay,
    gradClip: hp.grad_clip,
  });
  const schedule = { lr: hp.lr, minLr: hp.min_lr, warmupSteps: hp.warmup_steps, maxSteps: hp.max_steps };
  const T = fx.seq_len, accumulation = fx.global_batch_size / micro;
  const run: TrajectoryRun = { losses: [], gradNorms: [], params: new Map() };
  try {
    for (let step = 0; step < fx.steps; step++) {
      const rows: number[][] = fx.batches[step];
      let next = 0;
      const nextBatch = () => {
        const chunk = rows.slice(next, next += micro);
        return {
          inputs: Int32Array.from(chunk.flatMap((r) => r.slice(0, T))),
          targets: Int32Array.from(chunk.flatMap((r) => r.slice(1))),
          batchSize: micro,
          seqLen: T,
        };
      };
      const r = await optimizerStep(model, opt, nextBatch, accumulation, cosineLr(step, schedule));
      assert.equal(r.applied, true);
      assert.equal(next, fx.global_batch_size, "every row of the global batch is used once");
      run.losses.push(r.loss);
      run.gradNorms.push(r.gradNorm);
    }
    for (let i = 0; i < model.names.length; i++) {
      run.params.set(model.names[i], Float64Array.from(await model.readParam(i)));
    }
  } finally {
    opt.free();
    model.destroy();
  }
  return run;
}

/**
 * Checks a run against the fixture's float64 PyTorch run. `f64` (the reference backend read back
 * unrounded): the two differ only in the order of float64 operations (about 1e-15 measured after 10
 * steps), so 1e-10 for everything. `fp32`: an fp32 backend's rounding errors (2^-24 per op, see
 * tests/model_test.ts) grow through the 10 steps as PyTorch's own float32 run's do, and the fixture
 * records how far that run ends from the float64 one. Our losses (near 4) must stay within 10 times
 * PyTorch's float32 loss error, at least 1e-6 (measured: a third of it); our final parameters within
 * 8 times its parameter error (measured: under twice); the gradient norms within 1e-6 relative (a few
 * compounded f32 roundings; measured 1.7e-7).
 */
export async function assertTrajectory(run: TrajectoryRun, caseName: string, kind: "f64" | "fp32") {
  const c = TRAJECTORY_CASES[caseName];
  const torch32 = Math.max(...c.losses.map((l, i) => Math.abs(l - c.losses_float64[i])));
  const lossTol = kind === "f64" ? 1e-10 : Math.max(10 * torch32, 1e-6);
  const normTol = kind === "f64" ? 1e-10 : 1e-6;
  const paramTol = kind === "f64" ? 1e-10 : 8 * c.final_params_max_rel_error_float32;
  const lossErr = Math.max(...run.losses.map((l, i) => Math.abs(l - c.losses_float64[i])));
  assert.ok(lossErr <= lossTol, `losses ${run.losses} vs ${c.losses_float64}: ${lossErr} > ${lossTol}`);
  const normErr = Math.max(...run.gradNorms.map((n, i) => Math.abs(n - c.grad_norms_float64[i]) / n));
  assert.ok(normErr <= normTol, `gradient norms ${run.gradNorms} vs ${c.grad_norms_float64}: ${normErr}`);
  const want = await readF64(`${TRAJECTORY_FIXTURES}final_params_${caseName}.safetensors`);
  assert.deepEqual([...run.params.keys()].sort(), [...want.keys()].sort());
  for (const [name, p] of run.params) {
    const err = relError(p, want.get(name)!);
    assert.ok(err <= paramTol, `${name} after ${run.losses.length} steps: error ${err} > ${paramTol}`);
  }
  // The run moved: the final loss is well below the first (so the comparison is not of a frozen model).
  assert.ok(run.losses[9] < run.losses[0] - 0.5, `losses ${run.losses}`);
}
