// The reference backend is the oracle of every other backend, so its own oracle is independent of it:
// central finite differences in f64 for every backward (on odd shapes), the full computation for the
// decode shapes, and hand-derived formulas for the optimizer (in f64, at 1e-15). The hand examples
// every backend passes, and the contract (poisoned frees, aliasing), are the conformance suite's
// (reference_conformance_test.ts).
import assert from "node:assert/strict";
import type { AttentionShape, RopeShape, Tensor } from "./backend.ts";
import { ReferenceBackend } from "./reference.ts";
import { relError } from "./testing.ts";
import { Random } from "@tinyllama-ts/random";

const H = 1e-6;
const FD_TOL = 1e-7;

/** A tensor filled from `rng` (uniform in [-scale, scale)). */
function filled(be: ReferenceBackend, rng: Random, n: number, scale = 1): Tensor {
  const t = be.alloc(n);
  be.write(t, rng.floats(n, scale));
  return t;
}

/** Σ r·y: a scalar loss whose gradient with respect to `y` is `r`. */
function weighted(be: ReferenceBackend, y: Tensor, r: Tensor): number {
  const ys = be.f64(y), rs = be.f64(r);
  let s = 0;
  for (let i = 0; i < ys.length; i++) s += ys[i] * rs[i];
  return s;
}

/** Central differences of `loss` with respect to every element of `x` (in f64, through its storage). */
function numericGrad(be: ReferenceBackend, x: Tensor, loss: () => number): Float64Array {
  const xs = be.f64(x);
  const g = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const x0 = xs[i];
    xs[i] = x0 + H;
    const up = loss();
    xs[i] = x0 - H;
    const down = loss();
    xs[i] = x0;
    g[i] = (up - down) / (2 * H);
  }
  return g;
}

/**
 * Runs `backward` into gradients pre-filled with random values, so that the check also proves the
 * backward accumulates (`+=`) rather than overwrites; returns the increments.
 */
function accumulatedGrads(
  be: ReferenceBackend,
  rng: Random,
  grads: Tensor[],
  backward: () => void,
): Float64Array[] {
  const before = grads.map((g) => {
    be.write(g, rng.floats(g.size));
    return Float64Array.from(be.f64(g));
  });
  backward();
  return grads.map((g, i) => be.f64(g).map((v, j) => v - before[i][j]));
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  const err = relError(actual, expected);
  assert.ok(err <= tol, `${what}: relative error ${err} > ${tol}`);
}

Deno.test("reference: embedding backward matches finite differences (repeated ids accumulate)", () => {
  const be = new ReferenceBackend(), rng = new Random(1);
  const n = 5, c = 3, vocab = 4;
  const table = filled(be, rng, vocab * c), out = be.alloc(n * c), r = filled(be, rng, n * c);
  const ids = be.alloc(n, "i32");
  be.write(ids, new Int32Array([2, 0, 2, 3, 2]));
  const loss = () => (be.embeddingForward(out, table, ids, n, c), weighted(be, out, r));
  const dtable = be.alloc(vocab * c);
  const [got] = accumulatedGrads(be, rng, [dtable], () => be.embeddingBackward(dtable, r, ids, n, c));
  assertClose(got, numericGrad(be, table, loss), FD_TOL, "dtable");
  // Row 1 is never looked up: its gradient is exactly zero.
  assert.deepEqual(Array.from(got.subarray(c, 2 * c)), [0, 0, 0]);
});

Deno.test("reference: rmsnorm backward matches finite differences (n=3, c=5)", () => {
  const be = new ReferenceBackend(), rng = new Random(2);
  const n = 3, c = 5, eps = 1e-5;
  const x = filled(be, rng, n * c), w = filled(be, rng, c), r = filled(be, rng, n * c);
  const out = be.alloc(n * c), rstd = be.alloc(n);
  const loss = () => (be.rmsnormForward(out, rstd, x, w, n, c, eps), weighted(be, out, r));
  loss();
  const dx = be.alloc(n * c), dw = be.alloc(c);
  const [gx, gw] = accumulatedGrads(be, rng, [dx, dw], () => be.rmsnormBackward(dx, dw, r, x, w, rstd, n, c));
  assertClose(gx, numericGrad(be, x, loss), FD_TOL, "dx");
  assertClose(gw, numericGrad(be, w, loss), FD_TOL, "dweight");
});

Deno.test("reference: matmul backward matches finite differences (n=3, k=5, m=4), null gradients skipped", () => {
  const be = new ReferenceBackend(), rng = new Random(3);
  const n = 3, k = 5, m = 4;
  const x = filled(be, rng, n * k), w = filled(be, rng, m * k), r = filled(be, rng, n * m);
  const out = be.alloc(n * m);
  const loss = () => (be.matmulForward(out, x, w, n, k, m), weighted(be, out, r));
  const dx = be.alloc(n * k), dw = be.alloc(m * k);
  const [gx, gw] = accumulatedGrads(be, rng, [dx, dw], () => be.matmulBackward(dx, dw, r, x, w, n, k, m));
  assertClose(gx, numericGrad(be, x, loss), FD_TOL, "dx");
  assertClose(gw, numericGrad(be, w, loss), FD_TOL, "dw");
  const [onlyX] = accumulatedGrads(be, rng, [dx], () => be.matmulBackward(dx, null, r, x, w, n, k, m));
  assertClose(onlyX, gx, 1e-12, "dx alone");
  const [onlyW] = accumulatedGrads(be, rng, [dw], () => be.matmulBackward(null, dw, r, x, w, n, k, m));
  assertClose(onlyW, gw, 1e-12, "dw alone");
});

Deno.test("reference: rope backward matches finite differences; forward matches hand values", () => {
  const be = new ReferenceBackend(), rng = new Random(4);
  const s: RopeShape = { b: 2, t: 3, nHeads: 3, headSize: 6, base: 10000, posOffset: 2 };
  const size = s.b * s.t * s.nHeads * s.headSize;
  const x = filled(be, rng, size), r = filled(be, rng, size), out = be.alloc(size);
  const loss = () => (be.ropeForward(out, x, s), weighted(be, out, r));
  const dx = be.alloc(size);
  const [gx] = accumulatedGrads(be, rng, [dx], () => be.ropeBackward(dx, r, s));
  assertClose(gx, numericGrad(be, x, loss), FD_TOL, "dx");

  // Hand value: batch 0, t = 1 (position 3), head 0, pair d = 1 rotates by 3·10000^(−2/6).
  be.ropeForward(out, x, s);
  const xs = be.f64(x), os = be.f64(out);
  const base = (0 * s.t + 1) * s.nHeads * s.headSize, angle = 3 * Math.pow(10000, -2 / 6);
  const x1 = xs[base + 1], x2 = xs[base + 4];
  assertClose(
    [os[base + 1], os[base + 4]],
    [x1 * Math.cos(angle) - x2 * Math.sin(angle), x2 * Math.cos(angle) + x1 * Math.sin(angle)],
    1e-15,
    "rotated pair",
  );
  // In place gives the same result.
  const copy = be.alloc(size);
  be.copy(copy, x, size);
  be.ropeForward(copy, copy, s);
  assertClose(be.f64(copy), os, 0, "in place");
});

Deno.test("reference: attention (GQA) backward matches finite differences (B=2, T=7, nHead=4, nQueryGroups=2, hd=6)", () => {
  const be = new ReferenceBackend(), rng = new Random(5);
  const s: AttentionShape = { b: 2, tq: 7, kvLen: 7, kvStride: 7, nHead: 4, nQueryGroups: 2, headSize: 6 };
  const qSize = s.b * s.tq * s.nHead * s.headSize, kvSize = s.b * s.kvStride * s.nQueryGroups * s.headSize;
  const q = filled(be, rng, qSize, 2), k = filled(be, rng, kvSize, 2), v = filled(be, rng, kvSize);
  const r = filled(be, rng, qSize), out = be.alloc(qSize), lse = be.alloc(s.b * s.nHead * s.tq);
  const loss = () => (be.attentionForward(out, lse, q, k, v, s), weighted(be, out, r));
  loss();
  const dq = be.alloc(qSize), dk = be.alloc(kvSize), dv = be.alloc(kvSize);
  const [gq, gk, gv] = accumulatedGrads(
    be,
    rng,
    [dq, dk, dv],
    () => be.attentionBackward(dq, dk, dv, r, q, k, v, out, lse, s),
  );
  assertClose(gq, numericGrad(be, q, loss), FD_TOL, "dq");
  assertClose(gk, numericGrad(be, k, loss), FD_TOL, "dk");
  assertClose(gv, numericGrad(be, v, loss), FD_TOL, "dv");
});

Deno.test("reference: GQA equals multi-head attention on keys/values repeated as HF's repeat_kv", () => {
  const be = new ReferenceBackend(), rng = new Random(10);
  const b = 2, t = 5, nHead = 6, nQueryGroups = 2, hd = 4, group = nHead / nQueryGroups;
  const gqa: AttentionShape = { b, tq: t, kvLen: t, kvStride: t, nHead, nQueryGroups, headSize: hd };
  const mha: AttentionShape = { ...gqa, nQueryGroups: nHead };
  const q = filled(be, rng, b * t * nHead * hd), k = filled(be, rng, b * t * nQueryGroups * hd);
  const v = filled(be, rng, b * t * nQueryGroups * hd);
  // repeat_kv: query head h reads kv head ⌊h / group⌋ (heads 0..2 → 0, 3..5 → 1).
  const kRep = be.alloc(b * t * nHead * hd), vRep = be.alloc(b * t * nHead * hd);
  for (let row = 0; row < b * t; row++) {
    for (let h = 0; h < nHead; h++) {
      const src = (row * nQueryGroups + Math.floor(h / group)) * hd, dst = (row * nHead + h) * hd;
      be.copy(kRep, k, hd, dst, src);
      be.copy(vRep, v, hd, dst, src);
    }
  }
  const out = be.alloc(b * t * nHead * hd), lse = be.alloc(b * nHead * t);
  const outRep = be.alloc(b * t * nHead * hd), lseRep = be.alloc(b * nHead * t);
  be.attentionForward(out, lse, q, k, v, gqa);
  be.attentionForward(outRep, lseRep, q, kRep, vRep, mha);
  assertClose(be.f64(out), be.f64(outRep), 0, "out");
  assertClose(be.f64(lse), be.f64(lseRep), 0, "lse");
});

Deno.test("reference: attention decode shapes (tq < kvLen < kvStride) agree with the full computation", () => {
  const be = new ReferenceBackend(), rng = new Random(6);
  const b = 2, t = 9, nHead = 4, nQueryGroups = 2, hd = 6, tq = 3, stride = 12;
  const full: AttentionShape = { b, tq: t, kvLen: t, kvStride: t, nHead, nQueryGroups, headSize: hd };
  const qRow = nHead * hd, kvRow = nQueryGroups * hd;
  const q = filled(be, rng, b * t * qRow),
    k = filled(be, rng, b * t * kvRow),
    v = filled(be, rng, b * t * kvRow);
  const out = be.alloc(b * t * qRow), lse = be.alloc(b * nHead * t);
  be.attentionForward(out, lse, q, k, v, full);

  // The cache holds the same keys at stride 12, with garbage in the unused positions 9..11.
  const dec: AttentionShape = { b, tq, kvLen: t, kvStride: stride, nHead, nQueryGroups, headSize: hd };
  const kc = filled(be, rng, b * stride * kvRow, 100), vc = filled(be, rng, b * stride * kvRow, 100);
  const qd = be.alloc(b * tq * qRow), outD = be.alloc(b * tq * qRow), lseD = be.alloc(b * nHead * tq);
  for (let bi = 0; bi < b; bi++) {
    be.copy(kc, k, t * kvRow, bi * stride * kvRow, bi * t * kvRow);
    be.copy(vc, v, t * kvRow, bi * stride * kvRow, bi * t * kvRow);
    be.copy(qd, q, tq * qRow, bi * tq * qRow, (bi * t + t - tq) * qRow);
  }
  be.attentionForward(outD, lseD, qd, kc, vc, dec);
  const o = be.f64(out), l = be.f64(lse), od = be.f64(outD), ld = be.f64(lseD);
  for (let bi = 0; bi < b; bi++) {
    const start = (bi * t + t - tq) * qRow;
    assertClose(
      od.subarray(bi * tq * qRow, (bi + 1) * tq * qRow),
      o.subarray(start, start + tq * qRow),
      1e-14,
      "out",
    );
    for (let h = 0; h < nHead; h++) {
      const got = ld.subarray((bi * nHead + h) * tq, (bi * nHead + h + 1) * tq);
      const want = l.subarray((bi * nHead + h) * t + t - tq, (bi * nHead + h + 1) * t);
      assertClose(got, want, 1e-14, "lse");
    }
  }
});

Deno.test("reference: rope with posOffset equals the tail of the full sequence", () => {
  const be = new ReferenceBackend(), rng = new Random(7);
  const t = 9, tail = 2, row = 3 * 8;
  const x = filled(be, rng, t * row), out = be.alloc(t * row);
  be.ropeForward(out, x, { b: 1, t, nHeads: 3, headSize: 8, base: 10000, posOffset: 0 });
  const xt = be.alloc(tail * row), outT = be.alloc(tail * row);
  be.copy(xt, x, tail * row, 0, (t - tail) * row);
  be.ropeForward(outT, xt, { b: 1, t: tail, nHeads: 3, headSize: 8, base: 10000, posOffset: t - tail });
  assertClose(be.f64(outT), be.f64(out).subarray((t - tail) * row), 1e-15, "tail");
});

Deno.test("reference: swiglu backward matches finite differences (n=7)", () => {
  const be = new ReferenceBackend(), rng = new Random(8);
  const n = 7;
  const g = filled(be, rng, n, 4), u = filled(be, rng, n, 2), r = filled(be, rng, n), out = be.alloc(n);
  const loss = () => (be.swigluForward(out, g, u, n), weighted(be, out, r));
  const dg = be.alloc(n), du = be.alloc(n);
  const [gg, gu] = accumulatedGrads(be, rng, [dg, du], () => be.swigluBackward(dg, du, r, g, u, n));
  assertClose(gg, numericGrad(be, g, loss), FD_TOL, "dgate");
  assertClose(gu, numericGrad(be, u, loss), FD_TOL, "dup");
});

Deno.test("reference: crossEntropy gradient matches finite differences, ignored target gives 0", () => {
  const be = new ReferenceBackend(), rng = new Random(9);
  const n = 3, v = 5, gradScale = 0.37;
  const logits = filled(be, rng, n * v, 3), losses = be.alloc(n), targets = be.alloc(n, "i32");
  be.write(targets, new Int32Array([4, -1, 0]));
  const r = [1.5, 2, -0.5]; // loss = Σ r_i·loss_i; row 1 is ignored
  const loss = () => {
    be.crossEntropy(losses, logits, targets, n, v, null);
    return be.f64(losses).reduce((s, l, i) => s + r[i] * l, 0);
  };
  const numeric = numericGrad(be, logits, loss);
  loss();
  assert.equal(be.f64(losses)[1], 0);
  be.crossEntropy(losses, logits, targets, n, v, gradScale);
  const grad = be.f64(logits);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < v; j++) {
      // gradScale·(softmax − onehot) is the gradient of loss_i, scaled.
      const want = r[i] === 0 ? 0 : (gradScale * numeric[i * v + j]) / r[i];
      assert.ok(Math.abs(grad[i * v + j] - want) <= 1e-7, `row ${i} col ${j}: ${grad[i * v + j]} vs ${want}`);
    }
  }
  assert.deepEqual(Array.from(grad.subarray(v, 2 * v)), [0, 0, 0, 0, 0]);
});

Deno.test("reference: adamw follows torch.optim.AdamW (hand-derived step, decay mask, 3 steps)", () => {
  const be = new ReferenceBackend();
  const [p0, p1] = be.allocGroup([1, 2]), [g0, g1] = be.allocGroup([1, 2]);
  const [m0, m1] = be.allocGroup([1, 2]), [v0, v1] = be.allocGroup([1, 2]);
  be.write(p0, new Float32Array([1]));
  be.write(g0, new Float32Array([0.5]));
  be.write(p1, new Float32Array([2, -1]));
  be.write(g1, new Float32Array([-0.25, 1]));
  const hp = { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 };
  be.adamw([p0, p1], [g0, g1], [m0, m1], [v0, v1], hp, [true, false]);
  // Step 1 by hand: p = 1 − 0.1·0.1·1 = 0.99; m = 0.05; v = 0.0125; m̂ = 0.5; v̂ = 0.25;
  // p −= 0.1 · 0.5 / (0.5 + 1e-8).
  assertClose(be.f64(p0), [0.99 - 0.05 / (0.5 + 1e-8)], 1e-15, "p0");
  assertClose(be.f64(m0), [0.05], 1e-15, "m0");
  assertClose(be.f64(v0), [0.0125], 1e-15, "v0");
  // No decay on the second tensor: p −= lr·sign(g) (m̂/√v̂ = ±1 at step 1).
  assertClose(be.f64(p1), [2 + 0.1 * 0.25 / (0.25 + 1e-8), -1 - 0.1 / (1 + 1e-8)], 1e-15, "p1");

  // Two more steps against the torch formulas written out with scalars.
  let p = be.f64(p0)[0], m = be.f64(m0)[0], v = be.f64(v0)[0];
  for (const [step, grad] of [[2, -0.3], [3, 0.7]]) {
    be.write(g0, new Float32Array([grad]));
    be.adamw([p0], [g0], [m0], [v0], { ...hp, step });
    const g = Math.fround(grad);
    p -= 0.1 * 0.1 * p;
    m = 0.9 * m + 0.1 * g;
    v = 0.95 * v + 0.05 * g * g;
    p -= (0.1 * (m / (1 - 0.9 ** step))) / (Math.sqrt(v / (1 - 0.95 ** step)) + 1e-8);
  }
  assertClose(be.f64(p0), [p], 1e-15, "p0 after 3 steps");
});

Deno.test("reference: a freed tensor's storage is poisoned (views kept from f64 read NaN)", () => {
  const be = new ReferenceBackend();
  const [a, b] = be.allocGroup([2, 3]);
  be.write(b, new Float32Array([1, 2, 3]));
  const view = be.f64(b);
  be.free(a);
  assert.ok(view.every(Number.isNaN));
  assert.throws(() => be.f64(b), /used after free/);
});
