/**
 * The WebGPU side of the GPU benchmark (`bench/gpu/run.sh` runs it beside `torch_baseline.py`):
 *
 * - `matmul`: the WGSL matmul at n³ (4096³), in the three layouts the linear layers use, TFLOP/s.
 * - `attention`: fused causal GQA attention forward and backward at TinyLlama's shape
 *   (B 4, T 2048, 32 query heads, 4 key/value heads, head size 64), milliseconds.
 * - `train`: one TinyLlama-1.1B training step (forward, backward, clipping, AdamW) at the largest
 *   micro-batch (of 16, 8, 4, 2, 1 rows of 2048) whose memory fits, tokens/s.
 *
 * First it prints the adapter (name, all limits, features) and runs the correctness checks of
 * `checks.ts` against the reference backend; an op whose check fails is reported and not timed.
 * Times are wall-clock around work followed by `finish()` (all submitted work done), median of several
 * repeats after a warm-up. `--smoke` runs tiny shapes (a correctness run of the script, e.g. on lavapipe;
 * its numbers mean nothing). Prints a human summary on stderr and, on stdout, one JSON line per figure
 * as soon as it is measured (`{"adapter": …}`, `{"checks": {name: …}}`, `{"matmul": …}`, …; merged by
 * `report.ts`), so that a run killed midway keeps what it measured; the last line is the whole result.
 *
 * Usage: deno run --allow-read --allow-env bench/gpu/bench.ts [--smoke] [--only matmul,attention,train]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runMain } from "@tinyllama-ts/cli";
import type { AttentionShape } from "@tinyllama-ts/backend";
import { createWebGpuBackend, type WebGpuBackend } from "@tinyllama-ts/backend-webgpu";
import { maxMicroBatch, memoryPlan, Model, type ModelConfig, PRESETS } from "@tinyllama-ts/model";
import { Random } from "@tinyllama-ts/random";
import { Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { fp32PeakFlops, trainingFlopsPerToken } from "../../packages/trainer/mfu.ts";
import { describeAdapter } from "./adapter.ts";
import { gpuChecks } from "./checks.ts";

type Json = Record<string, unknown>;

/** Prints one figure as a JSON line at once (console.log writes synchronously: a kill loses nothing). */
function emit(key: string, value: unknown): void {
  console.log(JSON.stringify({ [key]: value }));
}

/** Median of `repeats` timings (seconds) of `body` after one untimed warm-up. */
async function timeIt(be: WebGpuBackend, repeats: number, body: () => void | Promise<void>): Promise<number> {
  await body();
  await be.finish();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await body();
    await be.finish();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Fills a tensor with a tiled block of uniform values in [-scale, scale) (content hardly matters). */
function fill(be: WebGpuBackend, t: ReturnType<WebGpuBackend["alloc"]>, scale: number): void {
  const block = new Random(12345).floats(Math.min(t.size, 1 << 20), scale);
  for (let off = 0; off < t.size; off += block.length) {
    be.write(t, block.subarray(0, Math.min(block.length, t.size - off)), off);
  }
}

async function benchMatmul(be: WebGpuBackend, n: number, iters: number): Promise<Json> {
  const x = be.alloc(n * n), w = be.alloc(n * n), out = be.alloc(n * n);
  fill(be, x, 1);
  fill(be, w, 1);
  const flops = 2 * n ** 3;
  const layouts: Record<string, () => void> = {
    // out = x · wᵀ (forward), dx += dout · w, dw += doutᵀ · x
    forward: () => be.matmulForward(out, x, w, n, n, n),
    backward_dx: () => be.matmulBackward(out, null, x, x, w, n, n, n),
    backward_dw: () => be.matmulBackward(null, out, x, x, w, n, n, n),
  };
  const result: Json = { n };
  for (const [name, op] of Object.entries(layouts)) {
    const seconds = await timeIt(be, 5, () => {
      for (let i = 0; i < iters; i++) op();
    });
    result[`${name}_tflops`] = (flops * iters) / seconds / 1e12;
    emit("matmul", { n, [`${name}_tflops`]: result[`${name}_tflops`] });
    console.error(`matmul ${name} ${n}³: ${((flops * iters) / seconds / 1e12).toFixed(2)} TFLOP/s`);
  }
  for (const t of [x, w, out]) be.free(t);
  return result;
}

async function benchAttention(be: WebGpuBackend, s: AttentionShape, iters: number): Promise<Json> {
  const q = s.b * s.tq * s.nHead * s.headSize, kv = s.b * s.kvStride * s.nQueryGroups * s.headSize;
  const [tq, tk, tv, out, dout, dq, dk, dv] = [q, kv, kv, q, q, q, kv, kv].map((n) => be.alloc(n));
  const lse = be.alloc(s.b * s.nHead * s.tq);
  for (const t of [tq, tk, tv, dout]) fill(be, t, 1);
  const fwd = await timeIt(be, 5, () => {
    for (let i = 0; i < iters; i++) be.attentionForward(out, lse, tq, tk, tv, s);
  }) / iters;
  emit("attention", { shape: s, forward_ms: fwd * 1e3 });
  const bwd = await timeIt(be, 5, () => {
    for (let i = 0; i < iters; i++) be.attentionBackward(dq, dk, dv, dout, tq, tk, tv, out, lse, s);
  }) / iters;
  // Causal: half of the 4·B·H·T²·hd multiply-adds of full attention forward; backward 2.5× forward.
  const fwdFlops = 2 * s.b * s.nHead * s.tq * s.kvLen * s.headSize;
  console.error(
    `attention ${JSON.stringify(s)}: forward ${(fwd * 1e3).toFixed(2)} ms (${
      (fwdFlops / fwd / 1e12).toFixed(2)
    } TFLOP/s), backward ${(bwd * 1e3).toFixed(2)} ms (${
      ((2.5 * fwdFlops) / bwd / 1e12).toFixed(2)
    } TFLOP/s)`,
  );
  for (const t of [tq, tk, tv, out, dout, dq, dk, dv, lse]) be.free(t);
  return { shape: s, forward_ms: fwd * 1e3, backward_ms: bwd * 1e3 };
}

/** One training step's time at micro-batch `b`, or null when it does not fit (out of memory or limits). */
async function trainStep(
  config: ModelConfig,
  b: number,
  t: number,
  steps: number,
  recompute = false,
): Promise<Json | null> {
  const be = await createWebGpuBackend();
  try {
    const model = new Model(be, config);
    model.recompute = recompute;
    for (let i = 0; i < model.params.length; i++) {
      const p = model.params[i];
      if (model.names[i].endsWith("norm.weight")) be.write(p, new Float32Array(p.size).fill(1));
      else fill(be, p, 0.02);
    }
    const opt = new Optimizer(
      be,
      paramSlots(model),
      { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 },
    );
    const inputs = new Int32Array(b * t).map((_, i) => (i * 7919) % config.vocab_size);
    const targets = new Int32Array(b * t).map((_, i) => (i * 7919 + 1) % config.vocab_size);
    let loss = NaN;
    const step = async () => {
      model.zeroGrad();
      loss = (await model.forward(inputs, targets, { batch: b })).loss!;
      model.backward();
      await opt.update(1e-4);
    };
    const seconds = await timeIt(be, steps, step);
    const tokens = b * t;
    const flopsPerToken = trainingFlopsPerToken(config, model.numParams, t);
    const peak = fp32PeakFlops(be.info.device);
    const r: Json = {
      config: config.name,
      micro_batch: b,
      seq_len: t,
      recompute,
      planned_bytes: memoryPlan(config, { microBatch: b, seqLen: t, recompute }).total,
      allocated_bytes: be.allocatedBytes,
      params: model.numParams,
      step_seconds: seconds,
      tokens_per_sec: tokens / seconds,
      model_tflops: (flopsPerToken * tokens) / seconds / 1e12,
      mfu: peak ? (flopsPerToken * tokens) / seconds / peak : null,
      loss,
      dispatches_per_step: 0,
      submits_per_step: 0,
      blocking_reads_per_step: 0,
    };
    const before = be.counters;
    await step();
    const after = be.counters;
    r.dispatches_per_step = after.dispatches - before.dispatches;
    r.submits_per_step = after.submits - before.submits;
    r.blocking_reads_per_step = after.blockingReads - before.blockingReads;
    console.error(
      `train ${config.name} B ${b} × T ${t}${recompute ? " (recompute)" : ""}: ${
        (seconds * 1e3).toFixed(0)
      } ms/step, ${(tokens / seconds).toFixed(0)} tokens/s, loss ${
        loss.toFixed(3)
      }; per step ${r.dispatches_per_step} dispatches, ${r.submits_per_step} submits, ${r.blocking_reads_per_step} blocking reads`,
    );
    opt.free();
    model.destroy();
    return r;
  } catch (e) {
    console.error(`train B ${b}: does not fit (${e instanceof Error ? e.message.split("\n")[0] : e})`);
    return null;
  } finally {
    be.destroy();
  }
}

await runMain(async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      "memory-gb": { type: "string", default: "80" },
    },
  });
  const smoke = values.smoke!;
  const only = new Set((values.only ?? "matmul,attention,train").split(","));
  const adapter = await describeAdapter();
  emit("adapter_report", adapter ?? { error: "no WebGPU adapter" });
  const be = await createWebGpuBackend();
  const result: Json = { backend: "webgpu", adapter: be.info.device, adapter_report: adapter, smoke };
  emit("backend", "webgpu");
  emit("smoke", smoke);
  console.error(
    `adapter: ${be.info.device}${smoke ? " (smoke: tiny shapes, numbers mean nothing)" : ""}; ` +
      `subgroups ${adapter?.subgroups ? "yes" : "no"}, shader-f16 ${adapter?.shader_f16 ? "yes" : "no"}`,
  );
  emit("adapter", be.info.device);
  // Correctness first: an op whose check fails is not timed.
  const failed = new Set<string>();
  const checks: Json = {};
  for (
    const r of await gpuChecks(be, (r) => {
      emit("checks", { [r.name]: r });
      console.error(
        `check ${r.name}: ${r.ok ? "ok" : "FAILED"} ${JSON.stringify(r.errors)} (tol ${r.tol})${
          r.message ? ` ${r.message}` : ""
        }`,
      );
    })
  ) {
    checks[r.name] = r;
    if (!r.ok) failed.add(r.guards);
  }
  result.checks = checks;
  for (const what of failed) {
    if (only.delete(what)) {
      result[what] = { error: "not timed: its correctness check failed" };
      emit(what, result[what]);
    }
  }
  if (only.has("matmul")) result.matmul = await benchMatmul(be, smoke ? 200 : 4096, smoke ? 1 : 10);
  if (only.has("attention")) {
    const shape: AttentionShape = smoke
      ? { b: 1, tq: 64, kvLen: 64, kvStride: 64, nHead: 4, nQueryGroups: 2, headSize: 16 }
      : { b: 4, tq: 2048, kvLen: 2048, kvStride: 2048, nHead: 32, nQueryGroups: 4, headSize: 64 };
    result.attention = await benchAttention(be, shape, smoke ? 1 : 5);
    emit("attention", result.attention);
  }
  be.destroy();
  if (only.has("train")) {
    // The micro-batch the memory plan names for the card (--memory-gb, default 80), then halved while a
    // step does not fit; with recomputation, the plan's (larger) micro-batch for it.
    const config = smoke ? PRESETS["micro-4l-4k"] : PRESETS["tinyllama-1.1b"];
    const t = smoke ? 32 : config.block_size;
    const memoryBytes = Number(values["memory-gb"]) * 1e9;
    for (const recompute of [false, true]) {
      let b = smoke ? 2 : Math.max(1, maxMicroBatch(config, { seqLen: t, memoryBytes, recompute }));
      const key = recompute ? "train_recompute" : "train";
      for (; b >= 1; b = Math.floor(b / 2)) {
        const r = await trainStep(config, b, t, smoke ? 1 : 3, recompute);
        if (r) {
          result[key] = r;
          break;
        }
        emit(`${key}_tried`, { [String(b)]: "does not fit" });
      }
      result[key] ??= { error: "no micro-batch fits" };
      emit(key, result[key]);
    }
  }
  console.log(JSON.stringify(result));
});
