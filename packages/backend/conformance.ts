/**
 * The backend conformance suite: one set of tests that every {@link Backend} passes (the reference,
 * WASM, WebGPU, and WebGPU again with 16 KiB bindings so that its windowed paths run). A backend's test
 * file is a few lines that call {@link conformanceSuite}.
 *
 * What it checks, op by op:
 * - values: every op on odd shapes (no dimension a multiple of a tile, the kernels' blocks crossed)
 *   against the f64 {@link ReferenceBackend} on the same f32 inputs, with every output pre-filled with
 *   random values so that a backward that overwrites instead of accumulating fails; hand examples
 *   worked out on paper for each op family;
 * - the contract (`contract.ts`): bad shapes, dtypes and ids refused with the same one-line
 *   {@link UserError} on every backend; backward ops accumulate (twice from zero is double, pre-filled
 *   gradients are added to); freeing a group member frees the group and any later use is refused; the
 *   aliasing rules; foreign tensors refused; a read waits for every queued op (and sees a later write
 *   only after it); write/read/copy bounds.
 *
 * The reference runs the suite too: its values are compared with themselves there (so the value
 * tests check only its contract), and `reference_test.ts` checks it against finite differences.
 *
 * Tolerances are relative errors ({@link relError}) against the f64 reference. One f32 rounding is
 * 6e-8 relative; sums of a few hundred products in f32 (matmul's K, attention's keys, RMSNorm's row)
 * drift by up to about √K·6e-8…K·6e-8 of the largest term, a few 1e-6: hence 1e-5 for the ops that
 * sum, 2e-5 for attention's backward (three chained sums, exp of scores of a few units), 1e-6 for the
 * elementwise ops (a handful of roundings of one value) and 0 for the ops that only move data.
 *
 * The WASM matmul micro-kernel (`crates/core/src/gemm_micro.s`, a 6 × 8 tile over K in packed blocks
 * of 256 steps, zero-padded to a multiple of 8) is exercised by "matmul forward and backward match the
 * reference": 300×530×270 runs full 6 × 8 tiles, edge tiles on both sides (300 = 50·6 rows but 270 =
 * 33·8 + 6 columns, 530 = 88·6 + 2 rows of dw) and three K blocks (530 = 2·256 + 18, zero-padded to
 * 24) in the forward and in each backward product; 129×67×45 has edge rows and columns and one partial
 * K block; 12×520×16 only full tiles over three K blocks; 13×20×1100 two 1024-column blocks of B;
 * 1×1×1, 2×3×5 and 1×33×3 take the few-rows path (n < 4) of the forward, not the micro-kernel. The
 * bit-identical result on one thread and several is `packages/backend-wasm/wasm_backend_test.ts`'s.
 *
 * @example
 * ```ts ignore
 * import { conformanceSuite } from "@tinyllama-ts/backend/conformance";
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * conformanceSuite("reference", () => new ReferenceBackend());
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { Random } from "@tinyllama-ts/random";
import type { AdamWParams, AttentionShape, Backend, RopeShape, Tensor } from "./backend.ts";
import { ReferenceBackend } from "./reference.ts";
import { relError } from "./testing.ts";

/** Options of {@link conformanceSuite}. */
export interface ConformanceOptions {
  /**
   * Registers one test (default `Deno.test`). WebGPU passes its registrar, which skips the tests
   * visibly without an adapter (and fails them under `TINYLLAMA_REQUIRE_WEBGPU=1`).
   */
  test?: (name: string, fn: () => Promise<void>) => void;
  /**
   * How the value tests allocate their tensors: as one group per case (`"group"`, the default: the
   * layout of parameters and gradients) or one by one (`"loose"`). Optimizer cases mix both anyway.
   */
  layout?: "group" | "loose";
  /**
   * The backend's largest storage binding in bytes, when it refuses an attention batch row that does
   * not fit one (WebGPU): cases over it must be refused with a {@link UserError} instead.
   */
  maxBindingBytes?: number;
  /**
   * False skips the matmul shapes of more than 10⁷ multiply-adds (default true). For WebGPU with
   * 16 KiB bindings, which cuts 300×530×270 into thousands of dispatches (minutes on lavapipe); its
   * windows are already crossed in every direction by 130×70×257.
   */
  largeMatmul?: boolean;
}

/** Opens a fresh backend; each test opens its own and destroys it. */
export type CreateBackend = () => Backend | Promise<Backend>;

type Data = Float32Array | Int32Array;

/** One op call: `inputs` (outputs included, with their initial values) in, `outputs` read back. */
interface Case {
  label: string;
  inputs: Record<string, Data>;
  outputs: string[];
  run: (be: Backend, t: Record<string, Tensor>) => void;
  /** Largest error relative to the reference accepted (see the module notes). */
  tol: number;
  /** Names of tensors allocated together with `allocGroup`, whatever the layout. */
  groups?: string[][];
  /** Bytes of the largest batch row the op binds (attention), checked against `maxBindingBytes`. */
  rowBytes?: number;
}

/**
 * Registers the conformance tests of one backend, each named `"<name>: …"`.
 *
 * @example
 * ```ts ignore
 * import { conformanceSuite } from "@tinyllama-ts/backend/conformance";
 * import { WasmBackend } from "@tinyllama-ts/backend-wasm";
 * conformanceSuite("wasm", () => new WasmBackend());
 * ```
 */
export function conformanceSuite(
  name: string,
  create: CreateBackend,
  options: ConformanceOptions = {},
): void {
  const register = options.test ?? ((n: string, fn: () => Promise<void>) => Deno.test(n, fn));
  const layout = options.layout ?? "group";
  const test = (what: string, fn: (be: Backend) => Promise<void>) =>
    register(`${name}: ${what}`, async () => {
      const be = await create();
      try {
        await fn(be);
      } finally {
        be.destroy();
      }
    });

  /** Runs every case on `be` and on the reference; asserts each output within the case's tolerance. */
  const check = async (be: Backend, cases: Case[]) => {
    for (const c of cases) {
      if (options.maxBindingBytes !== undefined && (c.rowBytes ?? 0) > options.maxBindingBytes - 256) {
        await assert.rejects(runCase(be, c, layout), isUserError, `${c.label}: must be refused`);
        continue;
      }
      const ref = new ReferenceBackend();
      const want = await runCase(ref, c, "loose");
      ref.destroy();
      const got = await runCase(be, c, layout);
      for (const out of c.outputs) {
        const err = relError(got[out], want[out]);
        assert.ok(err <= c.tol, `${c.label} ${out}: relative error ${err} > ${c.tol}`);
        // An output of all zeros would hide a kernel that never ran.
        assert.ok(want[out].some((v) => v !== 0), `${c.label} ${out}: degenerate case (all zeros)`);
      }
    }
  };

  // ---- values against the reference ----

  test("matmul forward and backward match the reference (micro-kernel tiles, edges, K and N blocks)", (be) => {
    const rng = new Random(1);
    const shapes = [
      [1, 1, 1],
      [2, 3, 5],
      [1, 33, 3],
      [4, 64, 48],
      [7, 33, 300],
      [37, 29, 45],
      [129, 67, 45],
      [12, 520, 16],
      [130, 70, 257],
      [13, 20, 1100],
      [300, 530, 270],
    ];
    const cases: Case[] = [];
    for (const [n, k, m] of shapes) {
      if (options.largeMatmul === false && n * k * m > 1e7) continue;
      const x = rng.floats(n * k), w = rng.floats(m * k), dout = rng.floats(n * m);
      cases.push({
        label: `matmulForward ${n}×${k}×${m}`,
        inputs: { x, w, out: rng.floats(n * m) },
        outputs: ["out"],
        run: (be, t) => be.matmulForward(t.out, t.x, t.w, n, k, m),
        tol: 1e-5,
      });
      const grads = { x, w, dout, dx: rng.floats(n * k), dw: rng.floats(m * k) };
      cases.push({
        label: `matmulBackward ${n}×${k}×${m}`,
        inputs: grads,
        outputs: ["dx", "dw"],
        run: (be, t) => be.matmulBackward(t.dx, t.dw, t.dout, t.x, t.w, n, k, m),
        tol: 1e-5,
      }, {
        label: `matmulBackward dx only ${n}×${k}×${m}`,
        inputs: { x, w, dout, dx: grads.dx },
        outputs: ["dx"],
        run: (be, t) => be.matmulBackward(t.dx, null, t.dout, t.x, t.w, n, k, m),
        tol: 1e-5,
      }, {
        label: `matmulBackward dw only ${n}×${k}×${m}`,
        inputs: { x, w, dout, dw: grads.dw },
        outputs: ["dw"],
        run: (be, t) => be.matmulBackward(null, t.dw, t.dout, t.x, t.w, n, k, m),
        tol: 1e-5,
      });
    }
    return check(be, cases);
  });

  test("embedding forward and backward match the reference (repeated ids, first and last rows)", (be) => {
    const rng = new Random(2);
    const cases: Case[] = [];
    for (const [n, c, vocab] of [[7, 5, 11], [23, 12, 401], [1, 1, 1]]) {
      const ids = Int32Array.from({ length: n }, (_, i) => (i * 37) % vocab);
      ids.set([vocab - 1, 0, vocab - 1, Math.floor(vocab / 2)].slice(0, n));
      cases.push({
        label: `embeddingForward n${n} c${c} vocab${vocab}`,
        inputs: { table: rng.floats(vocab * c), ids, out: rng.floats(n * c) },
        outputs: ["out"],
        run: (be, t) => be.embeddingForward(t.out, t.table, t.ids, n, c),
        tol: 0,
      }, {
        label: `embeddingBackward n${n} c${c} vocab${vocab}`,
        inputs: { dtable: rng.floats(vocab * c), ids, dout: rng.floats(n * c) },
        outputs: ["dtable"],
        run: (be, t) => be.embeddingBackward(t.dtable, t.dout, t.ids, n, c),
        tol: 1e-6,
      });
    }
    return check(be, cases);
  });

  test("RMSNorm forward and backward match the reference (1×1, 3×5, 4×67, 70×300)", (be) => {
    const rng = new Random(3);
    const cases: Case[] = [];
    for (const [n, c] of [[1, 1], [3, 5], [4, 67], [70, 300]]) {
      const x = rng.floats(n * c, 3), w = rng.floats(c);
      const rstd = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let ss = 0;
        for (let j = 0; j < c; j++) ss += x[i * c + j] ** 2;
        rstd[i] = 1 / Math.sqrt(ss / c + 1e-5);
      }
      cases.push({
        label: `rmsnormForward ${n}×${c}`,
        inputs: { x, w, out: rng.floats(n * c), rstd: rng.floats(n) },
        outputs: ["out", "rstd"],
        run: (be, t) => be.rmsnormForward(t.out, t.rstd, t.x, t.w, n, c, 1e-5),
        tol: 1e-5,
      }, {
        label: `rmsnormBackward ${n}×${c}`,
        inputs: { x, w, rstd, dout: rng.floats(n * c), dx: rng.floats(n * c), dw: rng.floats(c) },
        outputs: ["dx", "dw"],
        run: (be, t) => be.rmsnormBackward(t.dx, t.dw, t.dout, t.x, t.w, t.rstd, n, c),
        tol: 1e-5,
      });
    }
    return check(be, cases);
  });

  test("RoPE forward (separate and in place) and backward match the reference, with position offsets", (be) => {
    const rng = new Random(4);
    const shapes: RopeShape[] = [
      { b: 2, t: 5, nHeads: 3, headSize: 10, base: 10000, posOffset: 7 },
      { b: 1, t: 3, nHeads: 2, headSize: 64, base: 10000, posOffset: 2045 },
      { b: 1, t: 33, nHeads: 2, headSize: 64, base: 500, posOffset: 300 },
      { b: 1, t: 2, nHeads: 1, headSize: 2, base: 500, posOffset: 0 },
    ];
    const cases: Case[] = [];
    for (const s of shapes) {
      const size = s.b * s.t * s.nHeads * s.headSize;
      const label = `b${s.b} t${s.t} h${s.nHeads} hs${s.headSize} base${s.base} pos${s.posOffset}`;
      cases.push({
        label: `ropeForward ${label}`,
        inputs: { x: rng.floats(size), out: rng.floats(size) },
        outputs: ["out"],
        run: (be, t) => be.ropeForward(t.out, t.x, s),
        tol: 1e-5,
      }, {
        label: `ropeForward in place ${label}`,
        inputs: { x: rng.floats(size) },
        outputs: ["x"],
        run: (be, t) => be.ropeForward(t.x, t.x, s),
        tol: 1e-5,
      }, {
        label: `ropeBackward ${label}`,
        inputs: { dout: rng.floats(size), dx: rng.floats(size) },
        outputs: ["dx"],
        run: (be, t) => be.ropeBackward(t.dx, t.dout, s),
        tol: 1e-5,
      });
    }
    return check(be, cases);
  });

  test("attention forward and backward match the reference (MHA, GQA, MQA, across key blocks, odd T)", async (be) => {
    const rng = new Random(5);
    // 150 and 65 positions cross the WASM kernels' 64-key blocks; head sizes 1 to 128.
    const shapes: AttentionShape[] = [
      { b: 2, tq: 7, kvLen: 7, kvStride: 7, nHead: 4, nQueryGroups: 2, headSize: 6 },
      { b: 2, tq: 13, kvLen: 13, kvStride: 13, nHead: 6, nQueryGroups: 2, headSize: 10 },
      { b: 1, tq: 150, kvLen: 150, kvStride: 150, nHead: 4, nQueryGroups: 1, headSize: 16 },
      { b: 2, tq: 65, kvLen: 65, kvStride: 65, nHead: 2, nQueryGroups: 2, headSize: 5 },
      { b: 5, tq: 37, kvLen: 37, kvStride: 37, nHead: 4, nQueryGroups: 2, headSize: 16 },
      { b: 1, tq: 37, kvLen: 37, kvStride: 37, nHead: 4, nQueryGroups: 1, headSize: 64 },
      { b: 1, tq: 19, kvLen: 19, kvStride: 19, nHead: 2, nQueryGroups: 2, headSize: 128 },
      { b: 1, tq: 1, kvLen: 1, kvStride: 1, nHead: 1, nQueryGroups: 1, headSize: 1 },
    ];
    const cases: Case[] = [];
    for (const s of shapes) {
      const qSize = s.b * s.tq * s.nHead * s.headSize,
        kvSize = s.b * s.kvStride * s.nQueryGroups * s.headSize;
      const stat = s.b * s.nHead * s.tq;
      const label = `b${s.b} t${s.tq} h${s.nHead}/${s.nQueryGroups} hs${s.headSize}`;
      const rowBytes = s.tq * s.nHead * s.headSize * 4;
      // Scores of a few units, so that the softmax is neither flat nor one-hot.
      const q = rng.floats(qSize, 2), k = rng.floats(kvSize, 2), v = rng.floats(kvSize);
      cases.push({
        label: `attentionForward ${label}`,
        inputs: { q, k, v, out: rng.floats(qSize), lse: rng.floats(stat) },
        outputs: ["out", "lse"],
        run: (be, t) => be.attentionForward(t.out, t.lse, t.q, t.k, t.v, s),
        tol: 1e-5,
        rowBytes,
      });
      // The backward's out and lse come from the reference's forward.
      const { out, lse } = await referenceAttention(q, k, v, s);
      cases.push({
        label: `attentionBackward ${label}`,
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
        rowBytes,
      });
    }
    await check(be, cases);
  });

  test("attention decode shapes (tq < kvLen < kvStride) match the reference, unused cache rows unread", (be) => {
    const rng = new Random(6);
    const shapes: AttentionShape[] = [
      { b: 2, tq: 3, kvLen: 131, kvStride: 140, nHead: 4, nQueryGroups: 2, headSize: 8 },
      { b: 2, tq: 3, kvLen: 20, kvStride: 24, nHead: 4, nQueryGroups: 2, headSize: 8 },
      { b: 1, tq: 1, kvLen: 9, kvStride: 16, nHead: 2, nQueryGroups: 1, headSize: 6 },
      { b: 3, tq: 1, kvLen: 1, kvStride: 5, nHead: 3, nQueryGroups: 3, headSize: 6 },
    ];
    return check(
      be,
      shapes.map((s) => {
        const qSize = s.b * s.tq * s.nHead * s.headSize;
        const row = s.nQueryGroups * s.headSize, kvSize = s.b * s.kvStride * row;
        // Cache rows past kvLen hold huge values: reading any of them would show.
        const k = rng.floats(kvSize, 2), v = rng.floats(kvSize);
        for (let i = 0; i < kvSize; i++) {
          if (Math.floor(i / row) % s.kvStride >= s.kvLen) k[i] = v[i] = 1e4;
        }
        return {
          label: `attentionForward decode b${s.b} tq${s.tq} kv${s.kvLen}/${s.kvStride}`,
          inputs: {
            q: rng.floats(qSize, 2),
            k,
            v,
            out: rng.floats(qSize),
            lse: rng.floats(s.b * s.nHead * s.tq),
          },
          outputs: ["out", "lse"],
          run: (be, t) => be.attentionForward(t.out, t.lse, t.q, t.k, t.v, s),
          tol: 1e-5,
        };
      }),
    );
  });

  test("SwiGLU forward and backward match the reference (n = 1, 7, 1031, 5001, saturated gates)", (be) => {
    const rng = new Random(7);
    const cases: Case[] = [];
    for (const n of [1, 7, 1031, 5001]) {
      const gate = rng.floats(n, 8);
      if (n > 5) gate.set([-100, 100, -40, 40, 0]);
      const up = rng.floats(n, 2);
      cases.push({
        label: `swigluForward ${n}`,
        inputs: { gate, up, out: rng.floats(n) },
        outputs: ["out"],
        run: (be, t) => be.swigluForward(t.out, t.gate, t.up, n),
        tol: 1e-6,
      }, {
        label: `swigluBackward ${n}`,
        inputs: { gate, up, dout: rng.floats(n), dgate: rng.floats(n), dup: rng.floats(n) },
        outputs: ["dgate", "dup"],
        run: (be, t) => be.swigluBackward(t.dgate, t.dup, t.dout, t.gate, t.up, n),
        tol: 1e-6,
      });
    }
    return check(be, cases);
  });

  test("add (separate and in place) matches the reference exactly", (be) => {
    const rng = new Random(8);
    const n = 5001;
    return check(be, [{
      label: "add",
      inputs: { a: rng.floats(n), b: rng.floats(n), out: rng.floats(n) },
      outputs: ["out"],
      run: (be, t) => be.add(t.out, t.a, t.b, n),
      tol: 0,
    }, {
      label: "add in place over a prefix",
      inputs: { a: rng.floats(n), b: rng.floats(n) },
      outputs: ["a"],
      run: (be, t) => be.add(t.a, t.a, t.b, n - 2),
      tol: 0,
    }]);
  });

  test("cross-entropy losses and in-place gradient match the reference (ignored targets)", (be) => {
    const rng = new Random(9);
    const cases: Case[] = [];
    const shapes: [number, number, number, Int32Array][] = [
      [5, 37, 3, new Int32Array([0, -1, 36, 7, 20])],
      [3, 1000, 10, new Int32Array([999, 0, -1])],
      [9, 1000, 6, new Int32Array([5, -1, 999, 0, 500, -100, 17, 17, 3])],
    ];
    for (const [n, v, scale, targets] of shapes) {
      for (const gradScale of [null, 1 / n, 0.37]) {
        cases.push({
          label: `crossEntropy ${n}×${v} gradScale ${gradScale}`,
          inputs: { logits: rng.floats(n * v, scale), targets, losses: rng.floats(n) },
          // Without gradScale the logits must be left as they were.
          outputs: ["losses", "logits"],
          run: (be, t) => be.crossEntropy(t.losses, t.logits, t.targets, n, v, gradScale),
          tol: 1e-5,
        });
      }
    }
    return check(be, cases);
  });

  test("sumSquares, clipFactor and scaleBy over groups and loose tensors match the reference", (be) => {
    const rng = new Random(10);
    const cases: Case[] = [];
    for (
      const [sizes, maxNorm] of [[[5, 1, 130, 9], 1], [[64, 128, 64, 8192], 10], [
        [5, 70, 3, 4099],
        1e6,
      ]] as const
    ) {
      const inputs: Record<string, Data> = { out: new Float32Array([0.25]), s: rng.floats(1) };
      sizes.forEach((size, i) => (inputs[`x${i}`] = rng.floats(size, 3)));
      const names = sizes.map((_, i) => `x${i}`);
      cases.push({
        label: `sumSquares/clipFactor/scaleBy ${sizes.join(",")} maxNorm ${maxNorm}`,
        inputs,
        // The first three are one group (one call on WASM and WebGPU), the last a tensor of its own.
        groups: [names.slice(0, 3)],
        outputs: ["out", "s", ...names],
        run: (be, t) => {
          be.sumSquares(t.out, names.map((n) => t[n]));
          be.clipFactor(t.s, t.out, maxNorm);
          be.scaleBy(names.map((n) => t[n]), t.s);
        },
        tol: 2e-6,
      });
    }
    return check(be, cases);
  });

  test("AdamW over groups (split by the decay mask) and loose tensors matches the reference, 3 steps", (be) => {
    const rng = new Random(11);
    const cases: Case[] = [];
    for (const sizes of [[5, 130, 1, 7, 3], [64, 128, 37, 5, 256, 5000]]) {
      const inputs: Record<string, Data> = {};
      for (const kind of ["p", "g", "m", "v", "g2", "g3"]) {
        sizes.forEach((size, i) => {
          inputs[`${kind}${i}`] = kind === "v" ? rng.floats(size).map(Math.abs) : rng.floats(size);
        });
      }
      const last = sizes.length - 1;
      const list = (kind: string, t: Record<string, Tensor>) => sizes.map((_, i) => t[`${kind}${i}`]);
      const mask = sizes.map((_, i) => i !== 1);
      cases.push({
        label: `adamw ${sizes.join(",")}`,
        inputs,
        // Each list a group but for its last tensor; the mask cuts the groups in two runs.
        groups: ["p", "g", "m", "v"].map((kind) => sizes.slice(0, last).map((_, i) => `${kind}${i}`)),
        outputs: sizes.flatMap((_, i) => [`p${i}`, `m${i}`, `v${i}`]),
        run: (be, t) => {
          const hp: Omit<AdamWParams, "step"> = {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weightDecay: 0.1,
          };
          for (const step of [1, 2, 3]) {
            if (step > 1) sizes.forEach((_, i) => be.copy(t[`g${i}`], t[`g${step}${i}`], sizes[i]));
            be.adamw(list("p", t), list("g", t), list("m", t), list("v", t), { ...hp, step }, mask);
          }
        },
        tol: 1e-5,
      });
    }
    return check(be, cases);
  });

  test("zero and copy with offsets, f32 and i32 bit for bit", async (be) => {
    const rng = new Random(12);
    await check(be, [{
      label: "copy and zero",
      inputs: { a: rng.floats(7777), b: rng.floats(9000), c: rng.floats(50) },
      outputs: ["a", "c"],
      run: (be, t) => {
        be.copy(t.a, t.b, 7700, 13, 101);
        be.zero(t.c);
        be.copy(t.c, t.b, 10, 3, 0);
      },
      tol: 0,
    }]);
    const src = be.alloc(6000, "i32"), dst = be.alloc(6000, "i32");
    const data = new Int32Array(6000).map((_, i) => (i * 2654435761) | 0);
    be.write(src, data);
    be.copy(dst, src, 5990, 7, 3);
    const got = await be.read(dst);
    assert.ok(got instanceof Int32Array);
    assert.deepEqual(Array.from(got.subarray(7, 5997)), Array.from(data.subarray(3, 5993)));
    assert.equal(got[0], 0);
    const [g0, g1] = be.allocGroup([2, 3]);
    be.write(g0, new Float32Array([1, 2]));
    be.write(g1, new Float32Array([3, 4, 5]));
    be.zero(g1);
    assert.deepEqual(Array.from(await be.read(g0)), [1, 2]); // zeroing a member leaves its neighbour
    assert.deepEqual(Array.from(await be.read(g1)), [0, 0, 0]);
  });

  // ---- hand examples ----

  test("hand examples: embedding, matmul, RMSNorm, RoPE, attention, SwiGLU, add", async (be) => {
    const put = (data: number[]) => {
      const t = be.alloc(data.length);
      be.write(t, new Float32Array(data));
      return t;
    };
    const close = async (t: Tensor, want: number[], tol: number, what: string) => {
      const err = relError(await be.read(t), want);
      assert.ok(err <= tol, `${what}: relative error ${err} > ${tol} (${Array.from(await be.read(t))})`);
    };
    // Embedding: rows 2 and 0 of a 3 × 2 table.
    const table = put([1, 2, 3, 4, 5, 6]), ids = be.alloc(2, "i32"), rows = be.alloc(4);
    be.write(ids, new Int32Array([2, 0]));
    be.embeddingForward(rows, table, ids, 2, 2);
    await close(rows, [5, 6, 1, 2], 0, "embedding");
    // Backward with a repeated id: both rows add into row 2, onto what it held.
    const dtable = put([0, 0, 0, 0, 0.5, 0.5]), twice = be.alloc(2, "i32");
    be.write(twice, new Int32Array([2, 2]));
    be.embeddingBackward(dtable, put([1, 1, 2, 2]), twice, 2, 2);
    await close(dtable, [0, 0, 0, 0, 3.5, 3.5], 0, "embedding backward");
    // Matmul: x [2,3] · w [2,3]ᵀ.
    const mm = be.alloc(4);
    be.matmulForward(mm, put([1, 2, 3, 4, 5, 6]), put([1, 0, -1, 2, 1, 0]), 2, 3, 2);
    await close(mm, [-2, 4, -2, 13], 0, "matmul");
    // RMSNorm of [3, 4]: mean(x²) = 12.5.
    const rs = 1 / Math.sqrt(12.5), normed = be.alloc(2), rstd = be.alloc(1);
    be.rmsnormForward(normed, rstd, put([3, 4]), put([1, 2]), 1, 2, 0);
    await close(rstd, [rs], 1e-6, "rmsnorm rstd");
    await close(normed, [3 * rs, 8 * rs], 1e-6, "rmsnorm");
    // RoPE, head size 4, position 3: pair d rotates by 3·base^(−2d/4).
    const x = [0.5, -1, 2, 0.25], rot = be.alloc(4);
    be.ropeForward(rot, put(x), { b: 1, t: 1, nHeads: 1, headSize: 4, base: 100, posOffset: 3 });
    const a0 = 3, a1 = 3 / 10;
    await close(
      rot,
      [
        x[0] * Math.cos(a0) - x[2] * Math.sin(a0),
        x[1] * Math.cos(a1) - x[3] * Math.sin(a1),
        x[2] * Math.cos(a0) + x[0] * Math.sin(a0),
        x[3] * Math.cos(a1) + x[1] * Math.sin(a1),
      ],
      1e-6,
      "rope",
    );
    // Attention, one head of size 1: query 0 sees only key 0; query 1 both.
    const s: AttentionShape = { b: 1, tq: 2, kvLen: 2, kvStride: 2, nHead: 1, nQueryGroups: 1, headSize: 1 };
    const att = be.alloc(2), lse = be.alloc(2);
    be.attentionForward(att, lse, put([1, 2]), put([3, -1]), put([10, 20]), s);
    const e0 = Math.exp(6), e1 = Math.exp(-2);
    await close(att, [10, (10 * e0 + 20 * e1) / (e0 + e1)], 1e-6, "attention");
    await close(lse, [3, Math.log(e0 + e1)], 1e-6, "attention lse");
    // SwiGLU: silu(g)·u with silu(g) = g·σ(g).
    const silu = (g: number) => g / (1 + Math.exp(-g));
    const sw = be.alloc(3);
    be.swigluForward(sw, put([0, 1, -2]), put([5, 2, 3]), 3);
    await close(sw, [0, 2 * silu(1), 3 * silu(-2)], 1e-6, "swiglu");
    const sum = put([1, 2, 3]);
    be.add(sum, sum, put([10, 20, 30]), 3);
    await close(sum, [11, 22, 33], 0, "add");
  });

  test("hand examples: cross-entropy, AdamW (torch.optim.AdamW by hand), gradient clipping", async (be) => {
    const put = (data: number[]) => {
      const t = be.alloc(data.length);
      be.write(t, new Float32Array(data));
      return t;
    };
    const close = async (t: Tensor, want: number[], tol: number, what: string) => {
      const err = relError(await be.read(t), want);
      assert.ok(err <= tol, `${what}: relative error ${err} > ${tol} (${Array.from(await be.read(t))})`);
    };
    // Cross-entropy of logits log [1, 2, 3] at target 0: log 6; gradient softmax − onehot.
    const logits = put([0, Math.log(2), Math.log(3)]), losses = be.alloc(1), targets = be.alloc(1, "i32");
    be.crossEntropy(losses, logits, targets, 1, 3, 2);
    await close(losses, [Math.log(6)], 1e-6, "cross-entropy");
    await close(logits, [2 * (1 / 6 - 1), 2 * (2 / 6), 2 * (3 / 6)], 1e-6, "cross-entropy gradient");
    // AdamW step 1: p = 1 − 0.1·0.1·1 = 0.99; m = 0.05; v = 0.0125; m̂ = 0.5; v̂ = 0.25;
    // p −= 0.1·0.5/(0.5 + 1e-8). The second tensor is exempt from decay: p −= lr·sign(g).
    const [p0, p1] = be.allocGroup([1, 2]), [g0, g1] = be.allocGroup([1, 2]);
    const [m0, m1] = be.allocGroup([1, 2]), [v0, v1] = be.allocGroup([1, 2]);
    be.write(p0, new Float32Array([1]));
    be.write(g0, new Float32Array([0.5]));
    be.write(p1, new Float32Array([2, -1]));
    be.write(g1, new Float32Array([-0.25, 1]));
    const hp = { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 };
    be.adamw([p0, p1], [g0, g1], [m0, m1], [v0, v1], hp, [true, false]);
    await close(p0, [0.99 - 0.05 / (0.5 + 1e-8)], 1e-6, "adamw p0");
    await close(m0, [0.05], 1e-6, "adamw m0");
    await close(v0, [0.0125], 1e-6, "adamw v0");
    await close(p1, [2 + 0.1 * 0.25 / (0.25 + 1e-8), -1 - 0.1 / (1 + 1e-8)], 1e-6, "adamw p1");
    // Step 2 with g = −0.3, against the torch formulas written out with scalars.
    be.write(g0, new Float32Array([-0.3]));
    be.adamw([p0], [g0], [m0], [v0], { ...hp, step: 2 });
    let p = 0.99 - 0.05 / (0.5 + 1e-8);
    const g = Math.fround(-0.3), m = 0.9 * 0.05 + 0.1 * g, v = 0.95 * 0.0125 + 0.05 * g * g;
    p -= 0.1 * 0.1 * p;
    p -= (0.1 * (m / (1 - 0.9 ** 2))) / (Math.sqrt(v / (1 - 0.95 ** 2)) + 1e-8);
    await close(p0, [p], 1e-6, "adamw p0 step 2");
    // Clipping: ‖[3, 0, 4]‖ = 5 over a group member and a loose tensor; sumSquares adds to what is there.
    const [a, b] = be.allocGroup([2, 1]);
    be.write(a, new Float32Array([3, 0]));
    be.write(b, new Float32Array([4]));
    const normSq = put([1]), factor = be.alloc(1);
    be.sumSquares(normSq, [a, b]);
    await close(normSq, [26], 0, "sumSquares");
    be.zero(normSq);
    be.sumSquares(normSq, [a, b]);
    be.clipFactor(factor, normSq, 1);
    await close(factor, [1 / (5 + 1e-6)], 1e-6, "clip factor");
    be.scaleBy([a, b], factor);
    await close(a, [3 / (5 + 1e-6), 0], 1e-6, "scaled a");
    await close(b, [4 / (5 + 1e-6)], 1e-6, "scaled b");
    be.clipFactor(factor, normSq, 10);
    await close(factor, [1], 0, "clip factor under the limit"); // a norm under the limit is left alone
  });

  // ---- the contract ----

  test("backward ops accumulate: twice from zero is double once, pre-filled gradients are added to", async (be) => {
    const rng = new Random(13);
    const put = (data: Float32Array | Int32Array) => {
      const t = be.alloc(data.length, data instanceof Int32Array ? "i32" : "f32");
      be.write(t, data);
      return t;
    };
    const n = 6, c = 5, vocab = 4;
    const att: AttentionShape = {
      b: 1,
      tq: 5,
      kvLen: 5,
      kvStride: 5,
      nHead: 2,
      nQueryGroups: 1,
      headSize: 4,
    };
    const rope: RopeShape = { b: 1, t: 3, nHeads: 2, headSize: 4, base: 10000, posOffset: 1 };
    const qs = 5 * 2 * 4, kvs = 5 * 4;
    const ids = put(new Int32Array([1, 3, 1, 0, 1, 2]));
    const x = put(rng.floats(n * c)), w = put(rng.floats(c)), wm = put(rng.floats(3 * c));
    const rstd = be.alloc(n), normed = be.alloc(n * c);
    be.rmsnormForward(normed, rstd, x, w, n, c, 1e-5);
    const q = put(rng.floats(qs, 2)), k = put(rng.floats(kvs, 2)), v = put(rng.floats(kvs));
    const ao = be.alloc(qs), lse = be.alloc(2 * 5);
    be.attentionForward(ao, lse, q, k, v, att);
    const dout = (size: number) => put(rng.floats(size));
    const [dNc, d3, dRope, dAtt, dSw] = [dout(n * c), dout(n * 3), dout(24), dout(qs), dout(n * c)];
    const ops: [string, number[], (g: Tensor[]) => void][] = [
      ["embeddingBackward", [vocab * c], ([dt]) => be.embeddingBackward(dt, dNc, ids, n, c)],
      ["rmsnormBackward", [n * c, c], ([dx, dw]) => be.rmsnormBackward(dx, dw, dNc, x, w, rstd, n, c)],
      ["matmulBackward", [n * c, 3 * c], ([dx, dw]) => be.matmulBackward(dx, dw, d3, x, wm, n, c, 3)],
      ["ropeBackward", [24], ([dx]) => be.ropeBackward(dx, dRope, rope)],
      [
        "attentionBackward",
        [qs, kvs, kvs],
        ([dq, dk, dv]) => be.attentionBackward(dq, dk, dv, dAtt, q, k, v, ao, lse, att),
      ],
      ["swigluBackward", [n * c, n * c], ([dg, du]) => be.swigluBackward(dg, du, dSw, x, normed, n * c)],
      ["sumSquares", [1], ([out]) => be.sumSquares(out, [x, w])],
    ];
    for (const [op, sizes, backward] of ops) {
      const grads = sizes.map((size) => be.alloc(size));
      backward(grads);
      const once = await Promise.all(grads.map((g) => be.read(g)));
      backward(grads);
      for (let i = 0; i < grads.length; i++) {
        const twice = await be.read(grads[i]);
        // 2·once is exact in f32; the second sum rounds once per element: 2 f32 ulps.
        const err = relError(twice, once[i].map((e) => 2 * e));
        assert.ok(err <= 2.5e-7, `${op} gradient ${i}: twice is not double once (error ${err})`);
        assert.ok(once[i].some((e) => e !== 0), `${op} gradient ${i}: degenerate (all zeros)`);
      }
      const start = sizes.map((size) => rng.floats(size));
      grads.forEach((g, i) => be.write(g, start[i]));
      backward(grads);
      for (let i = 0; i < grads.length; i++) {
        const got = await be.read(grads[i]);
        const err = relError(got, start[i].map((s, j) => s + once[i][j]));
        assert.ok(err <= 2.5e-7, `${op} gradient ${i}: the pre-filled value was not added to (error ${err})`);
      }
    }
  });

  test("freeing a group member frees the group; any use after free is a one-line UserError", async (be) => {
    const group = be.allocGroup([2, 3, 4]), loose = be.alloc(3), live = be.alloc(3);
    be.free(group[1]);
    be.free(loose);
    for (const t of [group[0], group[1], group[2], loose]) {
      assert.throws(() => be.zero(t), userError(/used after free/));
      assert.throws(() => be.write(t, new Float32Array(1)), userError(/used after free/));
      await assert.rejects(be.read(t), userError(/used after free/));
      assert.throws(() => be.copy(live, t, 1), userError(/used after free/));
      assert.throws(() => be.add(live, live, t, 2), userError(/used after free/));
      assert.throws(() => be.sumSquares(live, [t]), userError(/used after free/));
      assert.throws(() => be.free(t), userError(/used after free/));
    }
    be.zero(live); // the rest still works
    assert.deepEqual(Array.from(await be.read(live)), [0, 0, 0]);
  });

  test("aliasing: rope in place and add's out = a are allowed, every other alias is refused alike", async (be) => {
    const t = () => be.alloc(64);
    const [a, b, c, d, e, f, g] = [t(), t(), t(), t(), t(), t(), t()];
    const ids = be.alloc(4, "i32");
    const rope: RopeShape = { b: 1, t: 2, nHeads: 2, headSize: 4, base: 10000, posOffset: 0 };
    const att: AttentionShape = {
      b: 1,
      tq: 2,
      kvLen: 2,
      kvStride: 2,
      nHead: 2,
      nQueryGroups: 1,
      headSize: 4,
    };
    be.write(a, new Float32Array(64).fill(1));
    be.write(b, new Float32Array(64).fill(2));
    be.add(a, a, b, 64);
    assert.deepEqual(Array.from(await be.read(a, 0, 2)), [3, 3]);
    be.ropeForward(a, a, rope);
    const refused: [string, () => void][] = [
      ["add: out is the same tensor as b", () => be.add(b, a, b, 8)],
      ["ropeBackward: dx is the same tensor as dout", () => be.ropeBackward(a, a, rope)],
      ["matmulForward: out is the same tensor as x", () => be.matmulForward(a, a, b, 2, 2, 2)],
      ["matmulForward: out is the same tensor as w", () => be.matmulForward(b, a, b, 2, 2, 2)],
      ["matmulBackward: dw is the same tensor as dx", () => be.matmulBackward(a, a, b, c, d, 2, 2, 2)],
      ["matmulBackward: dx is the same tensor as dout", () => be.matmulBackward(a, null, a, c, d, 2, 2, 2)],
      ["embeddingForward: out is the same tensor as table", () => be.embeddingForward(a, a, ids, 2, 2)],
      ["embeddingBackward: dtable is the same tensor as dout", () => be.embeddingBackward(a, a, ids, 2, 2)],
      ["rmsnormForward: rstd is the same tensor as out", () => be.rmsnormForward(a, a, b, c, 2, 2, 1e-5)],
      ["rmsnormForward: out is the same tensor as x", () => be.rmsnormForward(a, b, a, c, 2, 2, 1e-5)],
      ["rmsnormBackward: dx is the same tensor as x", () => be.rmsnormBackward(a, b, c, a, d, e, 2, 2)],
      ["attentionForward: out is the same tensor as q", () => be.attentionForward(a, b, a, c, d, att)],
      [
        "attentionBackward: dk is the same tensor as k",
        () => be.attentionBackward(a, b, c, d, e, b, f, g, g, att),
      ],
      ["swigluForward: out is the same tensor as up", () => be.swigluForward(a, b, a, 4)],
      ["swigluBackward: dup is the same tensor as dgate", () => be.swigluBackward(a, a, b, c, d, 4)],
      ["crossEntropy: logits is the same tensor as losses", () => be.crossEntropy(a, a, ids, 2, 2, 1)],
      ["sumSquares: out is the same tensor as xs[1]", () => be.sumSquares(a, [b, a])],
      ["scaleBy: xs[1] is the same tensor as xs[0]", () => be.scaleBy([a, a], b)],
      ["scaleBy: xs[0] is the same tensor as s", () => be.scaleBy([a], a)],
      ["adamw: params[0] is the same tensor as grads[0]", () => be.adamw([a], [a], [b], [c], adam)],
      ["adamw: v[0] is the same tensor as m[0]", () => be.adamw([a], [b], [c], [c], adam)],
      ["clipFactor: s is the same tensor as normSq", () => be.clipFactor(a, a, 1)],
    ];
    for (const [message, call] of refused) {
      const before = await be.read(a);
      assert.throws(call, userError(new RegExp(`^${escape(message)}$`)), message);
      assert.deepEqual(await be.read(a), before, `${message}: refused after writing`);
    }
  });

  test("foreign tensors (another backend's, or a look-alike) are refused", async (be) => {
    const other = await create();
    try {
      const mine = be.alloc(4), theirs = other.alloc(4), fake: Tensor = { size: 4, dtype: "f32" };
      for (const t of [theirs, fake]) {
        assert.throws(() => be.add(mine, mine, t, 4), userError(/does not belong/));
        assert.throws(() => be.write(t, new Float32Array(4)), userError(/does not belong/));
        await assert.rejects(be.read(t), userError(/does not belong/));
        assert.throws(() => be.copy(mine, t, 4), userError(/does not belong/));
        assert.throws(() => be.free(t), userError(/does not belong/));
      }
    } finally {
      other.destroy();
    }
  });

  test("a read waits for every queued op and sees a later write only after it", async (be) => {
    const rng = new Random(14);
    const n = 64, x = rng.floats(n * n), w = rng.floats(n * n);
    const [tx, tw, out, acc] = [be.alloc(n * n), be.alloc(n * n), be.alloc(n * n), be.alloc(n * n)];
    be.write(tx, x);
    be.write(tw, w);
    for (let i = 0; i < 10; i++) {
      be.matmulForward(out, tx, tw, n, n, n);
      be.add(acc, acc, out, n * n);
    }
    // Overwriting an input after the ops were issued must not change what they computed.
    be.write(tx, new Float32Array(n * n));
    const ref = new ReferenceBackend();
    const [rx, rw, ro] = [ref.alloc(n * n), ref.alloc(n * n), ref.alloc(n * n)];
    ref.write(rx, x);
    ref.write(rw, w);
    ref.matmulForward(ro, rx, rw, n, n, n);
    const want = (await ref.read(ro)).map((v) => 10 * v);
    ref.destroy();
    // Ten f32 additions of the same value: up to ~10 roundings of the running sum.
    assert.ok(relError(await be.read(acc), want) <= 1e-5, "acc");
    be.matmulForward(out, tx, tw, n, n, n);
    assert.ok((await be.read(out)).every((v) => v === 0), "the later write was not seen");
  });

  test("write/read/copy check bounds and dtypes; read returns a copy of the right type", async (be) => {
    const t = be.alloc(3), ids = be.alloc(2, "i32"), other = be.alloc(4);
    be.write(t, new Float32Array([0.1, 0.2]), 1);
    const got = await be.read(t, 1, 2);
    assert.ok(got instanceof Float32Array);
    assert.deepEqual(Array.from(got), [Math.fround(0.1), Math.fround(0.2)]);
    got[0] = 5; // a copy, not a view
    assert.deepEqual(Array.from(await be.read(t)), [0, Math.fround(0.1), Math.fround(0.2)]);
    assert.equal((await be.read(t, 3, 0)).length, 0);
    be.write(ids, new Int32Array([7, -1]));
    const back = await be.read(ids);
    assert.ok(back instanceof Int32Array);
    assert.deepEqual(Array.from(back), [7, -1]);
    assert.throws(
      () => be.write(t, new Float32Array(3), 1),
      userError(/^write: 3 elements at offset 1 overflow a tensor of 3$/),
    );
    assert.throws(() => be.write(t, new Float32Array(1), -1), userError(/overflow/));
    assert.throws(() => be.write(t, new Float32Array(1), 0.5), userError(/overflow/));
    assert.throws(
      () => be.write(ids, new Float32Array(1)),
      userError(/^write: Float32Array data into a i32 tensor$/),
    );
    assert.throws(
      () => be.write(t, new Int32Array(1)),
      userError(/^write: Int32Array data into a f32 tensor$/),
    );
    await assert.rejects(be.read(t, 2, 2), userError(/^read: 2 elements at offset 2 exceed 3$/));
    await assert.rejects(be.read(t, -1, 1), userError(/exceed/));
    assert.throws(() => be.copy(t, ids, 1), userError(/^copy: i32 into f32$/));
    assert.throws(() => be.copy(other, t, 4), userError(/^copy: 4 elements overflow \(dst 4, src 3\)$/));
    assert.throws(() => be.copy(t, other, 2, 2), userError(/overflow/));
    assert.throws(() => be.copy(t, other, 1, 0, -1), userError(/must be a non-negative integer/));
    assert.throws(() => be.alloc(-1), userError(/must be a non-negative integer/));
  });

  test("bad shapes, dtypes, ids and targets are the same one-line UserError on every backend", async (be) => {
    const f = (n: number) => be.alloc(n),
      i32 = (data: number[]) => {
        const t = be.alloc(data.length, "i32");
        be.write(t, new Int32Array(data));
        return t;
      };
    const x = f(6), w = f(6), out = f(4), ids = i32([1, 2]), small = f(1);
    const s: AttentionShape = { b: 1, tq: 2, kvLen: 2, kvStride: 2, nHead: 2, nQueryGroups: 1, headSize: 2 };
    const rope: RopeShape = { b: 1, t: 1, nHeads: 1, headSize: 2, base: 10000, posOffset: 0 };
    const hp = adam;
    const bad: [string, () => void][] = [
      ["matmulForward: out has 4 elements, the shape needs 6", () => be.matmulForward(out, x, w, 2, 3, 3)],
      [
        "matmulForward: n must be a non-negative integer, got 1.5",
        () => be.matmulForward(out, x, w, 1.5, 3, 2),
      ],
      [
        "matmulBackward: dw has 1 elements, the shape needs 6",
        () => be.matmulBackward(null, small, out, x, w, 1, 3, 2),
      ],
      ["embeddingForward: ids must be i32, got f32", () => be.embeddingForward(out, x, w, 2, 2)],
      [
        "embeddingForward: table must be f32 or bf16, got i32",
        () => be.embeddingForward(out, i32([0, 0, 0, 0]), ids, 2, 2),
      ],
      [
        "embeddingForward: token id 3 is outside the table's 3 rows",
        () => be.embeddingForward(out, x, i32([1, 3]), 2, 2),
      ],
      [
        "embeddingForward: token id -1 is outside the table's 3 rows",
        () => be.embeddingForward(out, x, i32([-1, 0]), 2, 2),
      ],
      [
        "embeddingBackward: token id 3 is outside the table's 3 rows",
        () => be.embeddingBackward(x, out, i32([0, 3]), 2, 2),
      ],
      [
        "rmsnormForward: rstd has 1 elements, the shape needs 2",
        () => be.rmsnormForward(out, small, x, w, 2, 2, 1e-5),
      ],
      [
        "rmsnormBackward: weight has 1 elements, the shape needs 3",
        () => be.rmsnormBackward(x, w, f(6), f(6), small, f(2), 2, 3),
      ],
      ["ropeForward: headSize must be even, got 3", () => be.ropeForward(x, w, { ...rope, headSize: 3 })],
      ["ropeForward: base must be positive, got 0", () => be.ropeForward(x, w, { ...rope, base: 0 })],
      [
        "ropeBackward: dx has 1 elements, the shape needs 6",
        () => be.ropeBackward(small, x, { ...rope, t: 3 }),
      ],
      [
        "attentionForward: nHead (3) must be a multiple of nQueryGroups (2)",
        () => be.attentionForward(x, out, w, f(6), f(6), { ...s, nHead: 3, nQueryGroups: 2 }),
      ],
      [
        "attentionForward: need tq ≤ kvLen ≤ kvStride, got 2, 1, 2",
        () => be.attentionForward(x, out, w, f(6), f(6), { ...s, kvLen: 1 }),
      ],
      [
        "attentionForward: need tq ≤ kvLen ≤ kvStride, got 2, 3, 2",
        () => be.attentionForward(x, out, w, f(6), f(6), { ...s, kvLen: 3 }),
      ],
      [
        "attentionBackward: lse has 1 elements, the shape needs 4",
        () => be.attentionBackward(f(8), f(4), f(4), f(8), f(8), f(4), f(4), f(8), small, s),
      ],
      ["swigluForward: up has 1 elements, the shape needs 4", () => be.swigluForward(out, x, small, 4)],
      [
        "swigluBackward: dgate must be f32, got i32",
        () => be.swigluBackward(ids, small, small, small, small, 1),
      ],
      ["add: b has 1 elements, the shape needs 4", () => be.add(out, x, small, 4)],
      ["crossEntropy: targets must be i32, got f32", () => be.crossEntropy(f(2), x, w, 2, 3, 1)],
      [
        "crossEntropy: target 3 at row 1 is outside the vocabulary 3",
        () => be.crossEntropy(f(2), x, i32([0, 3]), 2, 3, 1),
      ],
      ["sumSquares: out has 0 elements, the shape needs 1", () => be.sumSquares(f(0), [x])],
      ["sumSquares: xs[1] must be f32, got i32", () => be.sumSquares(small, [x, ids])],
      ["scaleBy: xs[0] must be f32, got i32", () => be.scaleBy([ids], small)],
      ["clipFactor: normSq has 0 elements, the shape needs 1", () => be.clipFactor(small, f(0), 1)],
      [
        "adamw: params, grads, m, v (and the decay mask) must have the same length",
        () => be.adamw([x], [w], [f(6)], [], hp),
      ],
      ["adamw: m[0] has 4 elements, the shape needs 6", () => be.adamw([x], [w], [out], [f(6)], hp)],
      ["adamw: step must be ≥ 1, got 0", () => be.adamw([x], [w], [f(6)], [f(6)], { ...hp, step: 0 })],
    ];
    for (const [message, call] of bad) {
      const before = await be.read(x);
      assert.throws(call, userError(new RegExp(`^${escape(message)}$`)), message);
      assert.deepEqual(await be.read(x), before, `${message}: refused after writing`);
    }
  });

  test("info says what the backend is", (be) => {
    assert.ok(be.info.name.length > 0 && be.info.device.length > 0);
    assert.equal(typeof be.info.gpu, "boolean");
    assert.ok(Number.isInteger(be.info.maxTensorElements) && be.info.maxTensorElements >= 2 ** 20);
    assert.ok(be.info.memoryBytes === null || be.info.memoryBytes >= be.info.maxTensorElements * 4);
    return Promise.resolve();
  });
}

const adam: AdamWParams = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 };

/** A predicate for `assert.throws`: a one-line {@link UserError} whose message matches. */
function userError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    if (!isUserError(e)) throw e;
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), `more than one line: ${e.message}`);
    return true;
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Allocates a case's tensors on `be`, runs it and reads its outputs back. */
async function runCase(be: Backend, c: Case, layout: "group" | "loose"): Promise<Record<string, Data>> {
  const names = Object.keys(c.inputs);
  const tensors: Record<string, Tensor> = {};
  const groups = [...(c.groups ?? [])];
  if (layout === "group") {
    const grouped = new Set(groups.flat());
    groups.push(names.filter((n) => !grouped.has(n) && c.inputs[n] instanceof Float32Array));
  }
  for (const group of groups) {
    const members = be.allocGroup(group.map((n) => c.inputs[n].length));
    group.forEach((n, i) => (tensors[n] = members[i]));
  }
  for (const n of names) {
    tensors[n] ??= be.alloc(c.inputs[n].length, c.inputs[n] instanceof Int32Array ? "i32" : "f32");
    be.write(tensors[n], c.inputs[n]);
  }
  c.run(be, tensors);
  const out: Record<string, Data> = {};
  for (const n of c.outputs) out[n] = await be.read(tensors[n]);
  return out;
}

/** The reference's attention forward on f32 inputs (rounded to f32, as a backend would hold them). */
async function referenceAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: AttentionShape,
): Promise<{ out: Float32Array; lse: Float32Array }> {
  const ref = new ReferenceBackend();
  const put = (d: Float32Array) => {
    const t = ref.alloc(d.length);
    ref.write(t, d);
    return t;
  };
  const out = ref.alloc(q.length), lse = ref.alloc(s.b * s.nHead * s.tq);
  ref.attentionForward(out, lse, put(q), put(k), put(v), s);
  const result = { out: (await ref.read(out)) as Float32Array, lse: (await ref.read(lse)) as Float32Array };
  ref.destroy();
  return result;
}
