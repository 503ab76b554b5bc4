// Every op of the WASM backend against the f64 reference backend on the same f32 inputs, on odd shapes
// that exercise the vector loops, their tails and the kernels' blocking (matmul's 6 × 8 micro-tiles,
// 256-step and 1024-column blocks; attention's 64-key blocks). Gradients start from random values so that accumulation (+=) is checked.
import assert from "node:assert/strict";
import type { AttentionShape, Backend, RopeShape, Tensor } from "@tinyllama-ts/backend";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { WasmBackend } from "@tinyllama-ts/backend-wasm";
import { relError, Rng } from "@tinyllama-ts/backend/testing";
import { isUserError } from "@tinyllama-ts/cli";

const TOL = 1e-5;

/** A tensor present in both backends with the same contents. */
interface Both {
  r: Tensor;
  w: Tensor;
}

type Pick = (t: Both) => Tensor;

class Pair {
  readonly ref = new ReferenceBackend();
  readonly wasm = new WasmBackend();
  readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  /** A tensor filled uniformly in [-scale, scale) (zeros for scale 0). */
  f32(n: number, scale = 1): Both {
    const data = scale === 0 ? new Float32Array(n) : this.rng.floats(n, scale);
    return this.from(data);
  }

  from(data: Float32Array | Int32Array): Both {
    const dtype = data instanceof Int32Array ? "i32" : "f32";
    const r = this.ref.alloc(data.length, dtype), w = this.wasm.alloc(data.length, dtype);
    this.ref.write(r, data);
    this.wasm.write(w, data);
    return { r, w };
  }

  group(sizes: number[], scale = 1): Both[] {
    const r = this.ref.allocGroup(sizes), w = this.wasm.allocGroup(sizes);
    return sizes.map((n, i) => {
      const data = this.rng.floats(n, scale);
      this.ref.write(r[i], data);
      this.wasm.write(w[i], data);
      return { r: r[i], w: w[i] };
    });
  }

  /** Runs the same op on both backends. */
  run(op: (be: Backend, t: Pick) => void): void {
    op(this.ref, (t) => t.r);
    op(this.wasm, (t) => t.w);
  }

  async expectClose(t: Both, what: string, tol = TOL): Promise<number> {
    const [want, got] = [await this.ref.read(t.r), await this.wasm.read(t.w)];
    const err = relError(got, want);
    maxErrors.set(what, Math.max(maxErrors.get(what) ?? 0, err));
    assert.ok(err <= tol, `${what}: relative error ${err} > ${tol}`);
    return err;
  }

  destroy(): void {
    this.wasm.destroy();
  }
}

const maxErrors = new Map<string, number>();

Deno.test("wasm: matmul forward and backward match the reference (1×1×1, 129×67×45, blocked shapes)", async () => {
  // 300×530×270 spans several matmul tiles and K blocks on every product, with edges on each side (the
  // last K block 18 steps, zero-padded to 24); 13×20×1100 has two column blocks in the forward.
  const shapes = [[1, 1, 1], [129, 67, 45], [4, 64, 48], [7, 33, 300], [2, 3, 5], [300, 530, 270], [
    13,
    20,
    1100,
  ]];
  for (const [n, k, m] of shapes) {
    const p = new Pair(n * 1000 + k * 10 + m);
    const x = p.f32(n * k), w = p.f32(m * k), dout = p.f32(n * m), out = p.f32(n * m);
    p.run((be, t) => be.matmulForward(t(out), t(x), t(w), n, k, m));
    await p.expectClose(out, "matmul out");
    const dx = p.f32(n * k), dw = p.f32(m * k);
    p.run((be, t) => be.matmulBackward(t(dx), t(dw), t(dout), t(x), t(w), n, k, m));
    await p.expectClose(dx, "matmul dx");
    await p.expectClose(dw, "matmul dw");
    p.run((be, t) => be.matmulBackward(t(dx), null, t(dout), t(x), t(w), n, k, m));
    p.run((be, t) => be.matmulBackward(null, t(dw), t(dout), t(x), t(w), n, k, m));
    await p.expectClose(dx, "matmul dx");
    await p.expectClose(dw, "matmul dw");
    p.destroy();
  }
});

Deno.test("wasm: embedding forward/backward match the reference; bad ids are one-line errors", async () => {
  const p = new Pair(1);
  const n = 7, c = 5, vocab = 11;
  const table = p.f32(vocab * c), out = p.f32(n * c), dout = p.f32(n * c), dtable = p.f32(vocab * c);
  const ids = p.from(new Int32Array([3, 10, 0, 3, 3, 7, 10]));
  p.run((be, t) => be.embeddingForward(t(out), t(table), t(ids), n, c));
  await p.expectClose(out, "embedding out", 0);
  p.run((be, t) => be.embeddingBackward(t(dtable), t(dout), t(ids), n, c));
  await p.expectClose(dtable, "embedding dtable");
  const bad = p.from(new Int32Array([1, 11]));
  assert.throws(
    () => p.wasm.embeddingForward(out.w, table.w, bad.w, 2, c),
    /token id 11 is outside the table's 11/,
  );
  const before = await p.wasm.read(dtable.w);
  assert.throws(() => p.wasm.embeddingBackward(dtable.w, dout.w, bad.w, 2, c), /token id 11/);
  assert.deepEqual(await p.wasm.read(dtable.w), before); // nothing accumulated
  p.destroy();
});

Deno.test("wasm: rmsnorm forward/backward match the reference (3×5, 4×67)", async () => {
  for (const [n, c] of [[3, 5], [4, 67], [1, 1]]) {
    const p = new Pair(n * 100 + c);
    const x = p.f32(n * c, 3), weight = p.f32(c), out = p.f32(n * c), rstd = p.f32(n);
    p.run((be, t) => be.rmsnormForward(t(out), t(rstd), t(x), t(weight), n, c, 1e-5));
    await p.expectClose(out, "rmsnorm out");
    await p.expectClose(rstd, "rmsnorm rstd");
    const dout = p.f32(n * c), dx = p.f32(n * c), dweight = p.f32(c);
    p.run((be, t) => be.rmsnormBackward(t(dx), t(dweight), t(dout), t(x), t(weight), t(rstd), n, c));
    await p.expectClose(dx, "rmsnorm dx");
    await p.expectClose(dweight, "rmsnorm dweight");
    p.destroy();
  }
});

Deno.test("wasm: rope forward (also in place) and backward match the reference", async () => {
  const shapes: RopeShape[] = [
    { b: 2, t: 5, nHeads: 3, headDim: 10, base: 10000, posOffset: 7 },
    { b: 1, t: 3, nHeads: 2, headDim: 64, base: 10000, posOffset: 2045 },
    { b: 1, t: 2, nHeads: 1, headDim: 2, base: 500, posOffset: 0 },
  ];
  for (const s of shapes) {
    const p = new Pair(s.headDim + s.posOffset);
    const size = s.b * s.t * s.nHeads * s.headDim;
    const x = p.f32(size), out = p.f32(size), dout = p.f32(size), dx = p.f32(size);
    p.run((be, t) => be.ropeForward(t(out), t(x), s));
    await p.expectClose(out, "rope out");
    p.run((be, t) => be.ropeForward(t(x), t(x), s));
    await p.expectClose(x, "rope out");
    p.run((be, t) => be.ropeBackward(t(dx), t(dout), s));
    await p.expectClose(dx, "rope dx");
    p.destroy();
  }
});

Deno.test("wasm: attention forward/backward match the reference (GQA, T across key blocks, odd T)", async () => {
  const shapes: AttentionShape[] = [
    { b: 2, tq: 7, kvLen: 7, kvStride: 7, nHead: 4, nKV: 2, headDim: 6 },
    { b: 1, tq: 150, kvLen: 150, kvStride: 150, nHead: 4, nKV: 1, headDim: 16 },
    { b: 2, tq: 65, kvLen: 65, kvStride: 65, nHead: 2, nKV: 2, headDim: 5 },
    { b: 1, tq: 1, kvLen: 1, kvStride: 1, nHead: 1, nKV: 1, headDim: 1 },
  ];
  for (const s of shapes) {
    const p = new Pair(s.tq * 10 + s.headDim);
    const qSize = s.b * s.tq * s.nHead * s.headDim, kvSize = s.b * s.kvStride * s.nKV * s.headDim;
    // Scores of a few units, so that the softmax is neither flat nor one-hot.
    const q = p.f32(qSize, 2), k = p.f32(kvSize, 2), v = p.f32(kvSize);
    const out = p.f32(qSize), lse = p.f32(s.b * s.nHead * s.tq);
    p.run((be, t) => be.attentionForward(t(out), t(lse), t(q), t(k), t(v), s));
    await p.expectClose(out, "attention out");
    await p.expectClose(lse, "attention lse");
    const dout = p.f32(qSize), dq = p.f32(qSize), dk = p.f32(kvSize), dv = p.f32(kvSize);
    p.run((be, t) => be.attentionBackward(t(dq), t(dk), t(dv), t(dout), t(q), t(k), t(v), t(out), t(lse), s));
    await p.expectClose(dq, "attention dq");
    await p.expectClose(dk, "attention dk");
    await p.expectClose(dv, "attention dv");
    p.destroy();
  }
});

Deno.test("wasm: attention decode shapes (tq < kvLen < kvStride) match the reference", async () => {
  for (
    const s of [
      { b: 2, tq: 3, kvLen: 131, kvStride: 140, nHead: 4, nKV: 2, headDim: 8 },
      { b: 1, tq: 1, kvLen: 9, kvStride: 16, nHead: 2, nKV: 1, headDim: 6 },
    ]
  ) {
    const p = new Pair(s.kvLen);
    const qSize = s.b * s.tq * s.nHead * s.headDim, kvSize = s.b * s.kvStride * s.nKV * s.headDim;
    // Unused cache rows hold large garbage: reading any of them would show.
    const q = p.f32(qSize, 2), k = p.f32(kvSize, 50), v = p.f32(kvSize, 50);
    const kr = p.ref.f64(k.r), vr = p.ref.f64(v.r);
    for (let i = 0; i < kr.length; i++) {
      const pos = Math.floor(i / (s.nKV * s.headDim)) % s.kvStride;
      if (pos < s.kvLen) {
        kr[i] /= 25;
        vr[i] /= 50;
      }
    }
    p.wasm.write(k.w, Float32Array.from(kr));
    p.wasm.write(v.w, Float32Array.from(vr));
    const out = p.f32(qSize), lse = p.f32(s.b * s.nHead * s.tq);
    p.run((be, t) => be.attentionForward(t(out), t(lse), t(q), t(k), t(v), s));
    await p.expectClose(out, "attention decode out");
    await p.expectClose(lse, "attention decode lse");
    p.destroy();
  }
});

Deno.test("wasm: swiglu forward/backward match the reference (n = 1, 7, 1031)", async () => {
  for (const n of [1, 7, 1031]) {
    const p = new Pair(n);
    const gate = p.f32(n, 8),
      up = p.f32(n, 2),
      out = p.f32(n),
      dout = p.f32(n),
      dgate = p.f32(n),
      dup = p.f32(n);
    p.run((be, t) => be.swigluForward(t(out), t(gate), t(up), n));
    await p.expectClose(out, "swiglu out");
    p.run((be, t) => be.swigluBackward(t(dgate), t(dup), t(dout), t(gate), t(up), n));
    await p.expectClose(dgate, "swiglu dgate");
    await p.expectClose(dup, "swiglu dup");
    p.destroy();
  }
});

Deno.test("wasm: add (in place) and accumulate match the reference", async () => {
  const p = new Pair(2);
  const n = 13, a = p.f32(n), b = p.f32(n), out = p.f32(n);
  p.run((be, t) => be.add(t(out), t(a), t(b), n));
  await p.expectClose(out, "add", 0);
  p.run((be, t) => be.add(t(a), t(a), t(b), 9));
  await p.expectClose(a, "add", 0);
  p.run((be, t) => be.accumulate(t(b), t(a), n));
  await p.expectClose(b, "accumulate", 1e-7); // the reference's `a` kept the sum in f64
  p.destroy();
});

Deno.test("wasm: crossEntropy losses and in-place gradient match the reference (ignored targets)", async () => {
  for (const [n, v, scale] of [[5, 37, 3], [3, 1000, 10], [1, 1, 1]]) {
    const p = new Pair(v);
    const targets = p.from(Int32Array.from({ length: n }, (_, i) => i === 1 ? -1 : (i * 7919) % v));
    const logits = p.f32(n * v, scale), losses = p.f32(n);
    p.run((be, t) => be.crossEntropy(t(losses), t(logits), t(targets), n, v, null));
    await p.expectClose(losses, "crossEntropy loss");
    await p.expectClose(logits, "crossEntropy logits untouched", 0);
    p.run((be, t) => be.crossEntropy(t(losses), t(logits), t(targets), n, v, 1 / n));
    await p.expectClose(losses, "crossEntropy loss");
    await p.expectClose(logits, "crossEntropy grad");
    p.destroy();
  }
  const p = new Pair(3);
  const logits = p.f32(6), losses = p.f32(2), targets = p.from(new Int32Array([0, 3]));
  assert.throws(
    () => p.wasm.crossEntropy(losses.w, logits.w, targets.w, 2, 3, 1),
    /target 3 at row 1 is outside the vocabulary 3/,
  );
  p.destroy();
});

Deno.test("wasm: sumSquares, clipFactor, scaleBy over a group and loose tensors match the reference", async () => {
  const p = new Pair(4);
  const group = p.group([5, 1, 130]);
  const loose = p.f32(9, 3);
  const xs = [...group, loose];
  const normSq = p.from(new Float32Array([0.5])), s = p.f32(1);
  p.run((be, t) => be.sumSquares(t(normSq), xs.map(t)));
  await p.expectClose(normSq, "sumSquares");
  p.run((be, t) => be.clipFactor(t(s), t(normSq), 1));
  await p.expectClose(s, "clipFactor");
  assert.ok((await p.wasm.read(s.w))[0] < 1);
  p.run((be, t) => be.scaleBy(xs.map(t), t(s)));
  for (const x of xs) await p.expectClose(x, "scaleBy");
  p.run((be, t) => be.clipFactor(t(s), t(normSq), 1e6));
  assert.equal((await p.wasm.read(s.w))[0], 1);
  p.destroy();
});

Deno.test("wasm: adamw over groups (decay mask splitting them) and loose tensors matches the reference", async () => {
  const p = new Pair(5);
  const sizes = [5, 130, 1, 7];
  const params = [...p.group(sizes), p.f32(3)];
  const grads = [...p.group(sizes), p.f32(3)];
  const m = [...p.group(sizes, 0), p.f32(3, 0)];
  const v = [...p.group(sizes, 0), p.f32(3, 0)];
  const mask = [true, false, true, true, true];
  for (let step = 1; step <= 3; step++) {
    const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
    p.run((be, t) => be.adamw(params.map(t), grads.map(t), m.map(t), v.map(t), hp, mask));
    const g = p.rng.floats(sizes[0]);
    p.ref.write(grads[0].r, g);
    p.wasm.write(grads[0].w, g);
  }
  for (let i = 0; i < params.length; i++) {
    await p.expectClose(params[i], "adamw p");
    await p.expectClose(m[i], "adamw m");
    await p.expectClose(v[i], "adamw v");
  }
  p.destroy();
});

Deno.test("wasm: memory ops (write/read offsets, copy, zero) and views survive memory growth", async () => {
  const be = new WasmBackend();
  const a = be.alloc(5), ids = be.alloc(3, "i32");
  be.write(a, new Float32Array([1, 2, 3, 4, 5]));
  be.write(ids, new Int32Array([-4, 5, 6]));
  be.write(a, new Float32Array([9]), 4);
  const big = be.alloc(20_000_000); // 80 MB: grows the memory, detaching old buffers
  assert.deepEqual(Array.from(await be.read(a)), [1, 2, 3, 4, 9]);
  assert.deepEqual(Array.from(await be.read(ids)), [-4, 5, 6]);
  assert.equal((await be.read(big, 19_999_999, 1))[0], 0);
  be.free(big);
  const [g0, g1] = be.allocGroup([2, 3]);
  be.copy(g1, a, 3, 0, 2);
  assert.deepEqual(Array.from(await be.read(g1)), [3, 4, 9]);
  be.copy(g0, a, 2);
  be.zero(g1);
  assert.deepEqual(Array.from(await be.read(g0)), [1, 2]); // zeroing a member leaves its neighbour
  assert.deepEqual(Array.from(await be.read(g1)), [0, 0, 0]);
  const got = await be.read(a, 1, 2);
  assert.ok(got instanceof Float32Array);
  got[0] = 100; // a copy, not a view
  assert.deepEqual(Array.from(await be.read(a, 1, 1)), [2]);
  be.destroy();
});

Deno.test("wasm: misuse is a one-line UserError (aliasing, freed, foreign, too small, wrong dtype)", async () => {
  const be = new WasmBackend(), other = new WasmBackend();
  const userError = (pattern: RegExp) => (e: unknown) =>
    isUserError(e) && pattern.test(e.message) && !e.message.includes("\n");
  const x = be.alloc(6), w = be.alloc(6), out = be.alloc(4), ids = be.alloc(2, "i32");
  assert.throws(() => be.matmulForward(x, x, w, 2, 3, 2), userError(/out is the same tensor as x/));
  assert.throws(
    () => be.matmulForward(out, x, w, 2, 3, 3),
    userError(/out has 4 elements, the shape needs 6/),
  );
  assert.throws(() => be.embeddingForward(out, x, x, 2, 2), userError(/ids must be i32, got f32/));
  assert.throws(() => be.accumulate(x, x, 6), userError(/dst is the same tensor as src/));
  assert.throws(() => be.matmulForward(out, other.alloc(6), w, 2, 3, 2), userError(/does not belong/));
  assert.throws(
    () =>
      be.attentionForward(x, out, x, x, x, {
        b: 1,
        tq: 1,
        kvLen: 1,
        kvStride: 1,
        nHead: 3,
        nKV: 2,
        headDim: 1,
      }),
    userError(/multiple of nKV/),
  );
  assert.throws(() => be.write(ids, new Float32Array(2)), userError(/Float32Array data into a i32 tensor/));
  const [g0, g1] = be.allocGroup([2, 2]);
  be.free(g1);
  assert.throws(() => be.zero(g0), userError(/freed/)); // freeing a member frees the group
  await assert.rejects(be.read(x, 5, 2), userError(/exceed/));
  be.destroy();
  other.destroy();
  assert.throws(() => be.zero(x), userError(/freed/));
});

Deno.test("wasm: results are the same bit for bit on one thread and on several", async () => {
  const run = async (threads: number) => {
    // The workers are shared by every backend; the newest backend's thread count applies to all.
    const be = await WasmBackend.create({ threads });
    assert.equal(be.threads, threads);
    const rng = new Rng(9);
    const [n, k, m] = [130, 300, 270];
    const s: AttentionShape = { b: 3, tq: 70, kvLen: 70, kvStride: 70, nHead: 4, nKV: 2, headDim: 8 };
    const qn = s.b * s.tq * s.nHead * s.headDim, kvn = s.b * s.tq * s.nKV * s.headDim;
    const put = (data: Float32Array) => {
      const t = be.alloc(data.length);
      be.write(t, data);
      return t;
    };
    const x = put(rng.floats(n * k)), w = put(rng.floats(m * k)), dout = put(rng.floats(n * m));
    const out = be.alloc(n * m), dx = be.alloc(n * k), dw = be.alloc(m * k);
    be.matmulForward(out, x, w, n, k, m);
    be.matmulBackward(dx, dw, dout, x, w, n, k, m);
    const q = put(rng.floats(qn, 2)), kk = put(rng.floats(kvn, 2)), v = put(rng.floats(kvn));
    const att = be.alloc(qn), lse = be.alloc(s.b * s.nHead * s.tq), datt = put(rng.floats(qn));
    const dq = be.alloc(qn), dk = be.alloc(kvn), dv = be.alloc(kvn);
    be.attentionForward(att, lse, q, kk, v, s);
    be.attentionBackward(dq, dk, dv, datt, q, kk, v, att, lse, s);
    const rows = put(rng.floats(n * k, 3)), weight = put(rng.floats(k)), normed = be.alloc(n * k);
    const rstd = be.alloc(n), dweight = be.alloc(k), drows = be.alloc(n * k);
    be.rmsnormForward(normed, rstd, rows, weight, n, k, 1e-5);
    be.rmsnormBackward(drows, dweight, dx, rows, weight, rstd, n, k);
    const normSq = be.alloc(1);
    be.sumSquares(normSq, [dx, dw, dq]);
    const got = [];
    for (const t of [out, dx, dw, att, lse, dq, dk, dv, normed, drows, dweight, normSq]) {
      got.push(await be.read(t));
    }
    be.destroy();
    return got;
  };
  const one = await run(1), several = await run(2);
  one.forEach((a, i) => assert.deepEqual(several[i], a, `output ${i}`));
});

Deno.test("wasm: largest relative errors seen against the reference", () => {
  const lines = [...maxErrors].map(([what, err]) => `${what}: ${err.toExponential(2)}`);
  console.log(lines.join("\n"));
  assert.ok(maxErrors.size > 0);
});
