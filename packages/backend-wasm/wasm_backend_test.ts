// What only the WASM backend has: its memory grows (detaching old views) and its kernels run on worker
// threads with results that do not depend on how many. Every op's values and contract are checked by
// the conformance suite (conformance_test.ts).
import assert from "node:assert/strict";
import type { AttentionShape } from "@tinyllama-ts/backend";
import { Random } from "@tinyllama-ts/random";
import { WasmBackend } from "./wasm_backend.ts";

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

Deno.test("wasm: results are the same bit for bit on one thread and on several", async () => {
  const run = async (threads: number) => {
    // The workers are shared by every backend; the newest backend's thread count applies to all.
    const be = await WasmBackend.create({ threads });
    assert.equal(be.threads, threads);
    const rng = new Random(9);
    const [n, k, m] = [130, 300, 270];
    const s: AttentionShape = {
      b: 3,
      tq: 70,
      kvLen: 70,
      kvStride: 70,
      nHead: 4,
      nQueryGroups: 2,
      headSize: 8,
    };
    const qn = s.b * s.tq * s.nHead * s.headSize, kvn = s.b * s.tq * s.nQueryGroups * s.headSize;
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
