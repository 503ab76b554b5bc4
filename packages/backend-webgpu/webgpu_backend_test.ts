// Every WebGPU kernel against the f64 reference backend and the WASM backend, on odd shapes (no
// dimension a multiple of a tile), with accumulating outputs pre-filled so that `+=` is checked. Each
// case also runs on a second device whose storage bindings are capped at 16 KiB, so that the windowed
// paths (tensors larger than one binding, as TinyLlama's embedding on lavapipe) are exercised too.
import assert from "node:assert/strict";
import type { AttentionShape, Backend, RopeShape, Tensor } from "@tinyllama-ts/backend";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { WasmBackend } from "@tinyllama-ts/backend-wasm";
import type { WebGpuBackend } from "@tinyllama-ts/backend-webgpu";
import { createWebGpuBackend } from "@tinyllama-ts/backend-webgpu";
import { relError, Rng } from "@tinyllama-ts/backend/testing";
import { gpuTestRegistrar, tryWebGpu } from "./_webgpu/test_gpu.ts";
import { UserError } from "@tinyllama-ts/cli";

const gpu = await tryWebGpu();
const windowed = typeof gpu === "string" ? gpu : await tryWebGpu({ maxBindingBytes: 16384 });
const gpuTest = gpuTestRegistrar(
  typeof gpu === "string" || typeof windowed === "string" ? String(gpu) : { gpu, windowed },
);

type Data = Float32Array | Int32Array;

/** One op on every backend: `inputs` (outputs included, with their initial values) in, `outputs` read back. */
interface Case {
  inputs: Record<string, Data>;
  outputs: string[];
  run: (be: Backend, t: Record<string, Tensor>) => void;
  /** Largest error relative to the reference (and to WASM) accepted. */
  tol: number;
  /** False for a case with a row too large for the 16 KiB windows (the capped device rejects it). */
  windowed?: boolean;
}

/** Allocates a case's tensors (as one group when `group`), runs it and reads the outputs. */
async function runOn(be: Backend, c: Case, group: boolean): Promise<Record<string, Float32Array>> {
  const names = Object.keys(c.inputs);
  const sizes = names.map((n) => c.inputs[n].length);
  const f32Names = names.filter((n) => c.inputs[n] instanceof Float32Array);
  const tensors: Record<string, Tensor> = {};
  if (group) {
    const g = be.allocGroup(f32Names.map((n) => c.inputs[n].length));
    f32Names.forEach((n, i) => (tensors[n] = g[i]));
  }
  names.forEach((n, i) => {
    if (!tensors[n]) tensors[n] = be.alloc(sizes[i], c.inputs[n] instanceof Int32Array ? "i32" : "f32");
    be.write(tensors[n], c.inputs[n]);
  });
  c.run(be, tensors);
  const out: Record<string, Float32Array> = {};
  for (const n of c.outputs) out[n] = (await be.read(tensors[n])) as Float32Array;
  return out;
}

/** Runs `c` on the reference, WASM, the GPU and the windowed GPU; asserts and returns the worst errors. */
async function check(
  name: string,
  gpus: { gpu: WebGpuBackend; windowed: WebGpuBackend },
  c: Case,
): Promise<void> {
  const ref = await runOn(new ReferenceBackend(), c, false);
  const wasm = await runOn(new WasmBackend(), c, true);
  const onGpu = await runOn(gpus.gpu, c, true);
  if (c.windowed === false) await assert.rejects(runOn(gpus.windowed, c, false), UserError);
  const onWindowed = c.windowed === false ? onGpu : await runOn(gpus.windowed, c, false);
  const report: string[] = [];
  for (const out of c.outputs) {
    const vsRef = relError(onGpu[out], ref[out]);
    const vsWasm = relError(onGpu[out], wasm[out]);
    const windowedVsRef = relError(onWindowed[out], ref[out]);
    const windowedText = c.windowed === false ? "-" : windowedVsRef.toExponential(1);
    report.push(
      `${out}: ref ${vsRef.toExponential(1)} wasm ${vsWasm.toExponential(1)} windowed ${windowedText}`,
    );
    assert.ok(vsRef <= c.tol, `${name} ${out}: error ${vsRef} vs the reference > ${c.tol}`);
    assert.ok(vsWasm <= c.tol, `${name} ${out}: error ${vsWasm} vs WASM > ${c.tol}`);
    assert.ok(
      windowedVsRef <= c.tol,
      `${name} ${out}: windowed error ${windowedVsRef} vs the reference > ${c.tol}`,
    );
    // A result of all zeros would hide a kernel that never ran.
    assert.ok(ref[out].some((v) => v !== 0), `${name} ${out}: degenerate case (all zeros)`);
  }
  console.log(`  ${name}: ${report.join("; ")}`);
}

const rng = new Rng(7);

gpuTest("webgpu: matmul forward and backward on odd shapes (partial tiles, several K steps)", async (g) => {
  for (const [n, k, m] of [[37, 29, 45], [130, 70, 257], [1, 33, 3]]) {
    await check(`matmulForward ${n}×${k}×${m}`, g, {
      inputs: { x: rng.floats(n * k), w: rng.floats(m * k), out: rng.floats(n * m) },
      outputs: ["out"],
      run: (be, t) => be.matmulForward(t.out, t.x, t.w, n, k, m),
      tol: 1e-5,
    });
    await check(`matmulBackward ${n}×${k}×${m}`, g, {
      inputs: {
        x: rng.floats(n * k),
        w: rng.floats(m * k),
        dout: rng.floats(n * m),
        dx: rng.floats(n * k),
        dw: rng.floats(m * k),
      },
      outputs: ["dx", "dw"],
      run: (be, t) => be.matmulBackward(t.dx, t.dw, t.dout, t.x, t.w, n, k, m),
      tol: 1e-5,
    });
  }
  await check("matmulBackward dw only", g, {
    inputs: { x: rng.floats(9 * 5), w: rng.floats(7 * 5), dout: rng.floats(9 * 7), dw: rng.floats(7 * 5) },
    outputs: ["dw"],
    run: (be, t) => be.matmulBackward(null, t.dw, t.dout, t.x, t.w, 9, 5, 7),
    tol: 1e-5,
  });
});

gpuTest("webgpu: RMSNorm forward and backward (rows > one chunk, width > one workgroup)", async (g) => {
  const n = 70, c = 300;
  const x = rng.floats(n * c, 2), w = rng.floats(c);
  await check("rmsnormForward", g, {
    inputs: { x, w, out: rng.floats(n * c), rstd: rng.floats(n) },
    outputs: ["out", "rstd"],
    run: (be, t) => be.rmsnormForward(t.out, t.rstd, t.x, t.w, n, c, 1e-5),
    tol: 1e-5,
  });
  let rs = 0;
  const rstd = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    rs = 0;
    for (let j = 0; j < c; j++) rs += x[i * c + j] ** 2;
    rstd[i] = 1 / Math.sqrt(rs / c + 1e-5);
  }
  await check("rmsnormBackward", g, {
    inputs: { x, w, rstd, dout: rng.floats(n * c), dx: rng.floats(n * c), dw: rng.floats(c) },
    outputs: ["dx", "dw"],
    run: (be, t) => be.rmsnormBackward(t.dx, t.dw, t.dout, t.x, t.w, t.rstd, n, c),
    tol: 1e-5,
  });
});

gpuTest("webgpu: RoPE forward (separate and in place) and backward, with a position offset", async (g) => {
  const shapes: RopeShape[] = [
    { b: 2, t: 5, nHeads: 3, headDim: 10, base: 10000, posOffset: 7 },
    { b: 1, t: 33, nHeads: 2, headDim: 64, base: 500, posOffset: 300 },
  ];
  for (const s of shapes) {
    const size = s.b * s.t * s.nHeads * s.headDim;
    const label = `hd ${s.headDim}, pos ${s.posOffset}`;
    await check(`ropeForward ${label}`, g, {
      inputs: { x: rng.floats(size), out: rng.floats(size) },
      outputs: ["out"],
      run: (be, t) => be.ropeForward(t.out, t.x, s),
      tol: 1e-5,
    });
    await check(`ropeForward in place ${label}`, g, {
      inputs: { x: rng.floats(size) },
      outputs: ["x"],
      run: (be, t) => be.ropeForward(t.x, t.x, s),
      tol: 1e-5,
    });
    await check(`ropeBackward ${label}`, g, {
      inputs: { dout: rng.floats(size), dx: rng.floats(size) },
      outputs: ["dx"],
      run: (be, t) => be.ropeBackward(t.dx, t.dout, s),
      tol: 1e-5,
    });
  }
});

gpuTest(
  "webgpu: causal GQA attention forward and backward (MHA, GQA, MQA, decode, head sizes 10–128)",
  async (g) => {
    // The hd 64 and 128 cases have batch rows over 16 KiB: the capped device must reject them.
    const shapes: AttentionShape[] = [
      { b: 2, tq: 13, kvLen: 13, kvStride: 13, nHead: 6, nKV: 2, headDim: 10 },
      { b: 1, tq: 37, kvLen: 37, kvStride: 37, nHead: 4, nKV: 1, headDim: 64 },
      { b: 5, tq: 37, kvLen: 37, kvStride: 37, nHead: 4, nKV: 2, headDim: 16 },
      { b: 2, tq: 3, kvLen: 20, kvStride: 24, nHead: 4, nKV: 2, headDim: 8 },
      { b: 1, tq: 19, kvLen: 19, kvStride: 19, nHead: 2, nKV: 2, headDim: 128 },
      { b: 3, tq: 1, kvLen: 1, kvStride: 5, nHead: 3, nKV: 3, headDim: 6 },
    ];
    for (const s of shapes) {
      const windowed = s.tq * s.nHead * s.headDim * 4 < 16384 - 256;
      const qSize = s.b * s.tq * s.nHead * s.headDim, kvSize = s.b * s.kvStride * s.nKV * s.headDim;
      const stat = s.b * s.nHead * s.tq;
      const label = `b${s.b} tq${s.tq} kv${s.kvLen}/${s.kvStride} h${s.nHead}/${s.nKV} hd${s.headDim}`;
      const q = rng.floats(qSize, 2), k = rng.floats(kvSize, 2), v = rng.floats(kvSize);
      await check(`attentionForward ${label}`, g, {
        inputs: { q, k, v, out: rng.floats(qSize), lse: rng.floats(stat) },
        outputs: ["out", "lse"],
        run: (be, t) => be.attentionForward(t.out, t.lse, t.q, t.k, t.v, s),
        tol: 1e-5,
        windowed,
      });
      // out and lse for the backward come from the reference forward.
      const ref = new ReferenceBackend();
      const [rq, rk, rv, ro, rl] = [q, k, v, new Float32Array(qSize), new Float32Array(stat)].map((d) => {
        const t = ref.alloc(d.length);
        ref.write(t, d);
        return t;
      });
      ref.attentionForward(ro, rl, rq, rk, rv, s);
      const out = (await ref.read(ro)) as Float32Array, lse = (await ref.read(rl)) as Float32Array;
      await check(`attentionBackward ${label}`, g, {
        inputs: {
          q,
          k,
          v,
          out,
          lse,
          dout: rng.floats(qSize),
          dq: rng.floats(qSize),
          dk: rng.floats(kvSize),
          dv: rng.floats(kvSize),
        },
        outputs: ["dq", "dk", "dv"],
        run: (be, t) => be.attentionBackward(t.dq, t.dk, t.dv, t.dout, t.q, t.k, t.v, t.out, t.lse, s),
        tol: 2e-5,
        windowed,
      });
    }
  },
);

gpuTest("webgpu: SwiGLU, add (aliased) and accumulate", async (g) => {
  const n = 5001;
  const gate = rng.floats(n, 8);
  gate.set([-100, 100, -40, 40, 0], 0);
  await check("swigluForward", g, {
    inputs: { gate, up: rng.floats(n), out: rng.floats(n) },
    outputs: ["out"],
    run: (be, t) => be.swigluForward(t.out, t.gate, t.up, n),
    tol: 1e-6,
  });
  await check("swigluBackward", g, {
    inputs: { gate, up: rng.floats(n), dout: rng.floats(n), dgate: rng.floats(n), dup: rng.floats(n) },
    outputs: ["dgate", "dup"],
    run: (be, t) => be.swigluBackward(t.dgate, t.dup, t.dout, t.gate, t.up, n),
    tol: 1e-6,
  });
  await check("add in place", g, {
    inputs: { a: rng.floats(n), b: rng.floats(n) },
    outputs: ["a"],
    run: (be, t) => be.add(t.a, t.a, t.b, n - 2),
    tol: 1e-7,
  });
  await check("accumulate", g, {
    inputs: { dst: rng.floats(n), src: rng.floats(n) },
    outputs: ["dst"],
    run: (be, t) => be.accumulate(t.dst, t.src, n),
    tol: 1e-7,
  });
});

gpuTest("webgpu: zero and copy with offsets, f32 and i32 bit for bit", async (g) => {
  await check("copy and zero", g, {
    inputs: { a: rng.floats(7777), b: rng.floats(9000), c: rng.floats(50) },
    outputs: ["a", "c"],
    run: (be, t) => {
      be.copy(t.a, t.b, 7700, 13, 101);
      be.zero(t.c);
      be.copy(t.c, t.b, 10, 3, 0);
    },
    tol: 0,
  });
  for (const be of [g.gpu, g.windowed]) {
    const src = be.alloc(6000, "i32"), dst = be.alloc(6000, "i32");
    const data = new Int32Array(6000).map((_, i) => (i * 2654435761) | 0);
    be.write(src, data);
    be.copy(dst, src, 5990, 7, 3);
    const got = await be.read(dst);
    assert.ok(got instanceof Int32Array);
    assert.deepEqual(Array.from(got.subarray(7, 5997)), Array.from(data.subarray(3, 5993)));
    assert.equal(got[0], 0);
    be.free(src);
    be.free(dst);
  }
});

gpuTest("webgpu: embedding forward and backward with repeated ids", async (g) => {
  const n = 23, c = 12, vocab = 401;
  const ids = new Int32Array(n).map((_, i) => (i * 37) % vocab);
  ids.set([3, 3, 3, 400, 0, 399, 399], 0);
  await check("embeddingForward", g, {
    inputs: { table: rng.floats(vocab * c), ids, out: rng.floats(n * c) },
    outputs: ["out"],
    run: (be, t) => be.embeddingForward(t.out, t.table, t.ids, n, c),
    tol: 0,
  });
  await check("embeddingBackward", g, {
    inputs: { dtable: rng.floats(vocab * c), ids, dout: rng.floats(n * c) },
    outputs: ["dtable"],
    run: (be, t) => be.embeddingBackward(t.dtable, t.dout, t.ids, n, c),
    tol: 1e-6,
  });
});

gpuTest("webgpu: fused cross-entropy with ignored targets, with and without the gradient", async (g) => {
  const n = 9, v = 1000;
  const targets = new Int32Array([5, -1, 999, 0, 500, -100, 17, 17, 3]);
  for (const gradScale of [0.37, null]) {
    await check(`crossEntropy gradScale ${gradScale}`, g, {
      inputs: { logits: rng.floats(n * v, 6), targets, losses: rng.floats(n) },
      outputs: gradScale === null ? ["losses"] : ["losses", "logits"],
      run: (be, t) => be.crossEntropy(t.losses, t.logits, t.targets, n, v, gradScale),
      tol: 1e-5,
    });
  }
});

gpuTest("webgpu: squared norm, clip factor and scaling over adjacent and scattered tensors", async (g) => {
  for (const sizes of [[64, 128, 64, 8192], [5, 70, 3, 4099]]) {
    const inputs: Record<string, Data> = { out: new Float32Array([0.25]), s: new Float32Array(1) };
    sizes.forEach((size, i) => (inputs[`x${i}`] = rng.floats(size, 3)));
    const names = sizes.map((_, i) => `x${i}`);
    await check(`sumSquares/clipFactor/scaleBy ${sizes.join(",")}`, g, {
      inputs,
      outputs: ["out", "s", ...names],
      run: (be, t) => {
        be.sumSquares(t.out, names.map((n) => t[n]));
        be.clipFactor(t.s, t.out, 10);
        be.scaleBy(names.map((n) => t[n]), t.s);
      },
      tol: 2e-6,
    });
  }
});

gpuTest("webgpu: AdamW over groups (merged runs and odd sizes), decay mask, two steps", async (g) => {
  const sizes = [64, 128, 37, 5, 256, 5000];
  const inputs: Record<string, Data> = {};
  for (const kind of ["p", "g", "m", "v"]) {
    sizes.forEach((size, i) => {
      inputs[`${kind}${i}`] = kind === "v" ? rng.floats(size, 1).map(Math.abs) : rng.floats(size);
    });
  }
  const list = (kind: string, t: Record<string, Tensor>) => sizes.map((_, i) => t[`${kind}${i}`]);
  const outputs = sizes.flatMap((_, i) => [`p${i}`, `m${i}`, `v${i}`]);
  await check("adamw", g, {
    inputs,
    outputs,
    run: (be, t) => {
      const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      const mask = [true, false, true, true, true, true];
      for (const step of [1, 2]) {
        be.adamw(list("p", t), list("g", t), list("m", t), list("v", t), { ...hp, step }, mask);
      }
    },
    tol: 1e-5,
  });
});

gpuTest("webgpu: the capped device really cuts large tensors into several windows", async (g) => {
  const n = 130, k = 70, m = 257;
  const dispatches = async (be: WebGpuBackend) => {
    const [x, w, out] = [n * k, m * k, n * m].map((size) => be.alloc(size));
    await be.read(out);
    const before = be.counters.dispatches;
    be.matmulForward(out, x, w, n, k, m);
    be.zero(out);
    await be.read(out, 0, 1);
    for (const t of [x, w, out]) be.free(t);
    return be.counters.dispatches - before;
  };
  assert.equal(await dispatches(g.gpu), 2);
  // out (33410 elements) and w (17990) exceed 4088-element windows: matmul blocks of ≤ 15 output rows
  // and ≤ 58 columns of w; zero in 9 windows.
  assert.ok((await dispatches(g.windowed)) >= 9 + 9 * 5, "the windowed device did not split");
});

gpuTest("webgpu: ops queue into one submission; pipelines are created once", async ({ gpu }) => {
  const x = gpu.alloc(64), w = gpu.alloc(64), out = gpu.alloc(64);
  gpu.write(x, rng.floats(64));
  gpu.write(w, rng.floats(64));
  await gpu.read(out);
  const before = gpu.counters;
  for (let i = 0; i < 10; i++) {
    gpu.matmulForward(out, x, w, 8, 8, 8);
    gpu.add(out, out, x, 64);
  }
  await gpu.read(out);
  const after = gpu.counters;
  assert.equal(after.dispatches - before.dispatches, 20);
  assert.equal(after.submits - before.submits, 1);
  assert.equal(after.pipelines, before.pipelines);
  gpu.free(x);
  gpu.free(w);
  gpu.free(out);
});

gpuTest("webgpu: bad input is a one-line UserError", async ({ gpu }) => {
  const table = gpu.alloc(4 * 3), out = gpu.alloc(2 * 3), ids = gpu.alloc(2, "i32");
  gpu.write(ids, new Int32Array([1, 4]));
  assert.throws(
    () => gpu.embeddingForward(out, table, ids, 2, 3),
    (e) => e instanceof UserError && /token id 4/.test(e.message),
  );
  const logits = gpu.alloc(2 * 3), losses = gpu.alloc(2);
  gpu.write(ids, new Int32Array([0, 3]));
  assert.throws(
    () => gpu.crossEntropy(losses, logits, ids, 2, 3, 1),
    (e) => e instanceof UserError && /target 3/.test(e.message),
  );
  assert.throws(() => gpu.write(out, new Float32Array(7)), UserError);
  assert.throws(() => gpu.write(ids, new Float32Array(2)), UserError);
  await assert.rejects(gpu.read(out, 4, 3), UserError);
  assert.throws(() => gpu.matmulForward(out, table, table, 3, 3, 3), UserError);
  assert.throws(() =>
    gpu.attentionForward(out, losses, out, out, out, {
      b: 1,
      tq: 1,
      kvLen: 1,
      kvStride: 1,
      nHead: 3,
      nKV: 2,
      headDim: 2,
    }), UserError);
  gpu.free(table);
  assert.throws(() => gpu.zero(table), (e) => e instanceof UserError && /after free/.test(e.message));
  assert.throws(() => gpu.zero(new ReferenceBackend().alloc(3)), UserError);
  for (const t of [out, ids, logits, losses]) gpu.free(t);
});

Deno.test("webgpu: no adapter is a one-line UserError that says how to get one", async () => {
  const gpuApi = navigator.gpu;
  const hadOwn = Object.hasOwn(gpuApi, "requestAdapter");
  const original = gpuApi.requestAdapter;
  Object.defineProperty(gpuApi, "requestAdapter", { value: () => Promise.resolve(null), configurable: true });
  try {
    await assert.rejects(
      createWebGpuBackend(),
      (e) => e instanceof UserError && /mesa-vulkan-drivers/.test(e.message) && !e.message.includes("\n"),
    );
  } finally {
    if (hadOwn) {
      Object.defineProperty(gpuApi, "requestAdapter", {
        value: original,
        configurable: true,
        writable: true,
      });
    } else delete (gpuApi as unknown as Record<string, unknown>).requestAdapter;
  }
});
