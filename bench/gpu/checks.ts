/**
 * Correctness on the GPU before it is timed (`bench.ts` runs these first): matmul forward and both
 * backward products, attention forward and backward, and one training step of a tiny model, each
 * against the f64 {@link ReferenceBackend} on small shapes. Every output is poisoned before the run:
 * outputs an op overwrites are filled with NaN, outputs it accumulates into (`+=`) with the same finite
 * sentinel on both sides, so that a kernel that skips elements, or reads an output before writing it
 * (a race that a software adapter never shows), cannot pass.
 *
 * @module
 */
import type { AttentionShape, Backend, Tensor } from "@tinyllama-ts/backend";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { relError } from "@tinyllama-ts/backend/testing";
import { Model, PRESETS } from "@tinyllama-ts/model";
import { Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { Random } from "@tinyllama-ts/random";

/** One check's outcome: the relative error of each output, against `tol`. */
export interface CheckResult {
  /** Which op: `matmul_forward`, `matmul_backward_dx`, `matmul_backward_dw`, `attention_forward`, … */
  name: string;
  /** The timing this check guards (`matmul`, `attention` or `train`): skipped when it fails. */
  guards: "matmul" | "attention" | "train";
  ok: boolean;
  /** Largest relative error ({@link relError}) of each output; NaN when a poisoned element survived. */
  errors: Record<string, number | null>;
  tol: number;
  /** The exception's first line, when the op threw. */
  message?: string;
}

/** The finite value accumulated outputs start from (on both sides). */
const SENTINEL = 0.375;

interface OpCase {
  name: string;
  guards: CheckResult["guards"];
  inputs: Record<string, Float32Array>;
  /** Outputs the op overwrites (poisoned with NaN) and accumulates into (poisoned with the sentinel). */
  overwritten: Record<string, number>;
  accumulated: Record<string, number>;
  run: (be: Backend, t: Record<string, Tensor>) => void;
  tol: number;
}

async function runCase(be: Backend, c: OpCase): Promise<Record<string, Float32Array>> {
  const t: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(c.inputs)) {
    t[name] = be.alloc(data.length);
    be.write(t[name], data);
  }
  for (const [name, size] of Object.entries(c.overwritten)) {
    t[name] = be.alloc(size);
    be.write(t[name], new Float32Array(size).fill(NaN));
  }
  for (const [name, size] of Object.entries(c.accumulated)) {
    t[name] = be.alloc(size);
    be.write(t[name], new Float32Array(size).fill(SENTINEL));
  }
  try {
    c.run(be, t);
    const out: Record<string, Float32Array> = {};
    for (const name of [...Object.keys(c.overwritten), ...Object.keys(c.accumulated)]) {
      out[name] = (await be.read(t[name])) as Float32Array;
    }
    return out;
  } finally {
    for (const x of Object.values(t)) be.free(x);
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

async function checkCase(gpu: Backend, c: OpCase): Promise<CheckResult> {
  const ref = new ReferenceBackend();
  try {
    const want = await runCase(ref, c);
    const got = await runCase(gpu, c);
    const errors: Record<string, number | null> = {};
    let ok = true;
    for (const name of Object.keys(want)) {
      const err = relError(got[name], want[name]);
      errors[name] = Number.isFinite(err) ? err : null;
      if (!(err <= c.tol)) ok = false;
    }
    return { name: c.name, guards: c.guards, ok, errors, tol: c.tol };
  } catch (e) {
    return { name: c.name, guards: c.guards, ok: false, errors: {}, tol: c.tol, message: firstLine(e) };
  } finally {
    ref.destroy();
  }
}

/** The op cases: shapes off the tile sizes (edges) and on them. */
function opCases(): OpCase[] {
  const rng = new Random(20260);
  const cases: OpCase[] = [];
  for (const [n, k, m] of [[67, 130, 96], [128, 256, 128]]) {
    const x = rng.floats(n * k), w = rng.floats(m * k), dout = rng.floats(n * m);
    const shape = `${n}x${k}x${m}`;
    cases.push(
      {
        name: `matmul_forward ${shape}`,
        guards: "matmul",
        inputs: { x, w },
        overwritten: { out: n * m },
        accumulated: {},
        run: (be, t) => be.matmulForward(t.out, t.x, t.w, n, k, m),
        tol: 1e-5,
      },
      {
        name: `matmul_backward_dx ${shape}`,
        guards: "matmul",
        inputs: { x, w, dout },
        overwritten: {},
        accumulated: { dx: n * k },
        run: (be, t) => be.matmulBackward(t.dx, null, t.dout, t.x, t.w, n, k, m),
        tol: 1e-5,
      },
      {
        name: `matmul_backward_dw ${shape}`,
        guards: "matmul",
        inputs: { x, w, dout },
        overwritten: {},
        accumulated: { dw: m * k },
        run: (be, t) => be.matmulBackward(null, t.dw, t.dout, t.x, t.w, n, k, m),
        tol: 1e-5,
      },
    );
  }
  // TinyLlama's head size and grouping (8 query heads a group here: 4 and 2 keep it small), a sequence
  // length off every block size, two batch rows.
  const s: AttentionShape = {
    b: 2,
    tq: 83,
    kvLen: 83,
    kvStride: 83,
    nHead: 8,
    nQueryGroups: 2,
    headSize: 64,
  };
  const nq = s.b * s.tq * s.nHead * s.headSize, nkv = s.b * s.kvStride * s.nQueryGroups * s.headSize;
  const q = rng.floats(nq), k = rng.floats(nkv), v = rng.floats(nkv), dout = rng.floats(nq);
  cases.push({
    name: "attention_forward",
    guards: "attention",
    inputs: { q, k, v },
    overwritten: { out: nq, lse: s.b * s.nHead * s.tq },
    accumulated: {},
    run: (be, t) => be.attentionForward(t.out, t.lse, t.q, t.k, t.v, s),
    tol: 1e-5,
  });
  cases.push({
    name: "attention_backward",
    guards: "attention",
    inputs: { q, k, v, dout },
    // The forward's out and lse, recomputed on each side (the backward case reads them).
    overwritten: { out: nq, lse: s.b * s.nHead * s.tq },
    accumulated: { dq: nq, dk: nkv, dv: nkv },
    run: (be, t) => {
      be.attentionForward(t.out, t.lse, t.q, t.k, t.v, s);
      be.attentionBackward(t.dq, t.dk, t.dv, t.dout, t.q, t.k, t.v, t.out, t.lse, s);
    },
    tol: 1e-4,
  });
  return cases;
}

/**
 * One training step (zeroed gradients poisoned first, forward, backward, clipping, AdamW) of a
 * 2-layer model of micro-4l-4k's widths: loss, every gradient and every updated parameter.
 */
async function trainStep(be: Backend): Promise<Record<string, Float32Array | number>> {
  const config = { ...PRESETS["micro-4l-4k"], name: "check-2l", n_layer: 2 };
  const model = new Model(be, config);
  // eps 1e-5: a gradient within float32 rounding of zero moves its weight by about lr·g/eps on both
  // sides instead of ±lr by its (rounding-dependent) sign.
  const opt = new Optimizer(be, paramSlots(model), {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-5,
    weightDecay: 0.1,
    gradClip: 1,
  });
  try {
    model.init(7);
    const b = 2, t = 48;
    const ids = new Random(8).ints(b * t, config.vocab_size);
    const targets = new Random(9).ints(b * t, config.vocab_size);
    // Poison: gradients start as NaN, so that zeroGrad must really clear every one of them.
    for (const g of model.grads) be.write(g, new Float32Array(g.size).fill(NaN));
    model.zeroGrad();
    const loss = (await model.forward(ids, targets, { batch: b })).loss!;
    model.backward();
    const out: Record<string, Float32Array | number> = { loss };
    for (let i = 0; i < model.params.length; i++) out[`grad ${model.names[i]}`] = await model.readGrad(i);
    await opt.update(1e-3);
    for (let i = 0; i < model.params.length; i++) out[model.names[i]] = await model.readParam(i);
    return out;
  } finally {
    opt.free();
    model.destroy();
  }
}

async function checkTrainStep(gpu: Backend): Promise<CheckResult> {
  const tol = 1e-4;
  const ref = new ReferenceBackend();
  try {
    const want = await trainStep(ref), got = await trainStep(gpu);
    const errors: Record<string, number | null> = {};
    let worst = 0;
    for (const [name, w] of Object.entries(want)) {
      const g = got[name];
      const err = typeof w === "number"
        ? Math.abs((g as number) - w) / Math.max(Math.abs(w), 1e-30)
        : relError(g as Float32Array, w);
      if (!(err <= worst)) worst = err;
      // The loss and the worst tensor of each kind are reported (not all 20-odd tensors).
      if (name === "loss") errors.loss = Number.isFinite(err) ? err : null;
    }
    errors.worst_tensor = Number.isFinite(worst) ? worst : null;
    return { name: "train_step", guards: "train", ok: worst <= tol, errors, tol };
  } catch (e) {
    return { name: "train_step", guards: "train", ok: false, errors: {}, tol, message: firstLine(e) };
  } finally {
    ref.destroy();
  }
}

/**
 * Runs every check on `gpu`, calling `report` with each result as soon as it is known.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "@tinyllama-ts/backend-webgpu";
 * import { gpuChecks } from "./checks.ts";
 * const gpu = await createWebGpuBackend();
 * const results = await gpuChecks(gpu, (r) => console.error(r.name, r.ok ? "ok" : "FAILED"));
 * console.log(results.every((r) => r.ok));
 * gpu.destroy();
 * ```
 */
export async function gpuChecks(gpu: Backend, report: (r: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const c of opCases()) {
    const r = await checkCase(gpu, c);
    report(r);
    results.push(r);
  }
  const r = await checkTrainStep(gpu);
  report(r);
  results.push(r);
  return results;
}
