/**
 * Our side of the CPU benchmark (`deno task bench` runs it beside `bench/torch_peer.py`): the WASM
 * backend's fp32 matmul at N³ and training throughput of the two configs, as one JSON object
 * on stdout, in the peer's layout:
 *
 * - `matmul_gflops`: `matmulForward` at N×N×N (best of several runs); `matmul_backward_gflops` the two
 *   backward products (`dx`, `dw`) alone, the same way.
 * - `train[config]`: `tokens_per_sec`, `step_seconds` (the median step after two warm-ups) and
 *   `peak_rss_mb` (the process's peak so far: run one config per process for its own peak). A step is
 *   the trainer's `optimizerStep`: zero the gradients, forward with targets, backward, then the
 *   optimizer's global-norm clip and AdamW, at micro-batch 8 × sequence 256 of uniform random tokens,
 *   as the peer does.
 *
 * Usage: `deno run --allow-read --allow-env bench/cpu_bench.ts [--threads N] [--steps 5]
 * [--configs tiny-6l-4k,tiny-6l-32k] [--matmul-n 1024] [--no-matmul] [--no-train] [--profile]`.
 * `--profile` adds the time per backend op to stderr.
 *
 * @module
 */
import { runMain, UserError } from "@tinyllama-ts/cli";
import type { Backend } from "@tinyllama-ts/backend";
import { Model, PRESETS } from "@tinyllama-ts/model";
import { Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { WasmBackend } from "@tinyllama-ts/backend-wasm";
import { defaultThreads } from "../packages/backend-wasm/_wasm_runtime.ts";
import { optimizerStep } from "../packages/trainer/step.ts";

/** The shape: micro-batch 8 of 256 tokens. */
const MICRO_BATCH = 8;
const SEQ_LEN = 256;

interface Options {
  threads: number;
  steps: number;
  configs: string[];
  matmulN: number;
  matmul: boolean;
  train: boolean;
  profile: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    threads: defaultThreads(),
    steps: 5,
    configs: ["tiny-6l-4k", "tiny-6l-32k"],
    matmulN: 1024,
    matmul: true,
    train: true,
    profile: false,
  };
  const int = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--threads") o.threads = int(a, args[++i]);
    else if (a === "--steps") o.steps = int(a, args[++i]);
    else if (a === "--matmul-n") o.matmulN = int(a, args[++i]);
    else if (a === "--configs") o.configs = (args[++i] ?? "").split(",").filter((s) => s);
    else if (a === "--no-matmul") o.matmul = false;
    else if (a === "--no-train") o.train = false;
    else if (a === "--profile") o.profile = true;
    else throw new UserError(`unknown argument ${a}`);
  }
  for (const c of o.configs) if (!(c in PRESETS)) throw new UserError(`unknown config ${c}`);
  return o;
}

/**
 * Best wall time (seconds) of `reps` runs after a second of warm-up (V8 starts wasm in its baseline
 * compiler and moves hot functions to the optimizing one after some use, in each worker too).
 */
function best(fn: () => void, reps: number): number {
  const warm = performance.now() + 1000;
  for (let i = 0; i < 5 || performance.now() < warm; i++) fn();
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    b = Math.min(b, performance.now() - t0);
  }
  return b / 1000;
}

function matmulBench(be: Backend, n: number) {
  const x = be.alloc(n * n), w = be.alloc(n * n), out = be.alloc(n * n), dx = be.alloc(n * n);
  const dw = be.alloc(n * n);
  const data = new Float32Array(n * n);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * 0.5;
  be.write(x, data);
  be.write(w, data);
  const flops = 2 * n ** 3;
  const reps = 10;
  const fwd = best(() => be.matmulForward(out, x, w, n, n, n), reps);
  const bdx = best(() => be.matmulBackward(dx, null, out, x, w, n, n, n), reps);
  const bdw = best(() => be.matmulBackward(null, dw, out, x, w, n, n, n), reps);
  for (const t of [x, w, out, dx, dw]) be.free(t);
  return { forward: flops / fwd / 1e9, dx: flops / bdx / 1e9, dw: flops / bdw / 1e9 };
}

/** Peak resident set of this process (`VmHWM`), in MB. */
function peakRssMb(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to the current resident set
  }
  return Deno.memoryUsage().rss / 2 ** 20;
}

/** Wraps a backend so that each op's synchronous time adds up per op name. */
function profiled(be: Backend, times: Map<string, number>): Backend {
  return new Proxy(be, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || typeof prop !== "string") return v;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const r = v.apply(target, args);
        times.set(prop, (times.get(prop) ?? 0) + performance.now() - t0);
        return r;
      };
    },
  });
}

async function trainBench(be: Backend, name: string, steps: number, profile: boolean) {
  const config = PRESETS[name];
  const times = new Map<string, number>();
  const backend = profile ? profiled(be, times) : be;
  const model = new Model(backend, config);
  model.init(0, "hf");
  const optimizer = new Optimizer(backend, paramSlots(model), {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
    gradClip: 1,
  });
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) % config.vocab_size;
  const nextBatch = () => {
    const ids = Int32Array.from({ length: MICRO_BATCH * (SEQ_LEN + 1) }, rand);
    const inputs = new Int32Array(MICRO_BATCH * SEQ_LEN), targets = new Int32Array(MICRO_BATCH * SEQ_LEN);
    for (let r = 0; r < MICRO_BATCH; r++) {
      inputs.set(ids.subarray(r * (SEQ_LEN + 1), r * (SEQ_LEN + 1) + SEQ_LEN), r * SEQ_LEN);
      targets.set(ids.subarray(r * (SEQ_LEN + 1) + 1, (r + 1) * (SEQ_LEN + 1)), r * SEQ_LEN);
    }
    return { inputs, targets, batchSize: MICRO_BATCH, seqLen: SEQ_LEN };
  };
  const stepTimes: number[] = [];
  let loss = NaN;
  for (let s = 0; s < steps + 2; s++) {
    if (s === 2) times.clear();
    const t0 = performance.now();
    const r = await optimizerStep(model, optimizer, nextBatch, 1, 4e-4);
    stepTimes.push((performance.now() - t0) / 1000);
    loss = r.loss;
  }
  const measured = stepTimes.slice(2).sort((a, b) => a - b);
  const step = measured[Math.floor(measured.length / 2)];
  if (profile) {
    const total = [...times.values()].reduce((a, b) => a + b, 0);
    const lines = [...times].sort((a, b) => b[1] - a[1]).map(([op, ms]) =>
      `  ${op.padEnd(20)} ${(ms / steps).toFixed(1).padStart(8)} ms/step ${(100 * ms / total).toFixed(1)}%`
    );
    console.error(`${name}: backend ops per step (of ${(step * 1000).toFixed(0)} ms)\n${lines.join("\n")}`);
  }
  optimizer.free();
  model.destroy();
  return {
    tokens_per_sec: MICRO_BATCH * SEQ_LEN / step,
    step_seconds: step,
    peak_rss_mb: peakRssMb(),
    final_loss: loss,
  };
}

await runMain(async () => {
  const o = parseArgs(Deno.args);
  const be = await WasmBackend.create({ threads: o.threads });
  const result: Record<string, unknown> = {
    runtime: `deno ${Deno.version.deno}, v8 ${Deno.version.v8}`,
    threads: be.threads,
  };
  if (o.matmul) {
    const m = matmulBench(be, o.matmulN);
    result.matmul_n = o.matmulN;
    result.matmul_gflops = m.forward;
    result.matmul_backward_gflops = { dx: m.dx, dw: m.dw };
  }
  if (o.train) {
    const train: Record<string, unknown> = {};
    for (const name of o.configs) train[name] = await trainBench(be, name, o.steps, o.profile);
    result.train = train;
  }
  be.destroy();
  console.log(JSON.stringify(result));
});
