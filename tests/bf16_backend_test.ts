/**
 * bf16 tensors on every backend: written as bits, read widened, and as `matmulForward`'s weights and
 * `embeddingForward`'s table they compute exactly what the same values in f32 compute (bit for bit on
 * one backend; against the f64 reference within f32 rounding). WASM holds them in two bytes.
 */
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { bf16ToF32, f32ToBf16, ReferenceBackend } from "@tinyllama-ts/backend";
import { WasmBackend } from "@tinyllama-ts/backend-wasm";
import { Random } from "@tinyllama-ts/random";
import { BACKENDS, relError } from "./_harness.ts";

/** Odd shapes: the few-rows path (n < 4), the packed product, edges of every tile. */
const SHAPES = [[1, 13, 9], [3, 300, 33], [7, 67, 45], [70, 260, 90]] as const;

for (const b of BACKENDS) {
  b.test(`bf16 (${b.name}): matmul and embedding on bf16 weights equal them on the widened f32`, async () => {
    const be = await b.create();
    const ref = new ReferenceBackend();
    try {
      const rng = new Random(7);
      for (const [n, k, m] of SHAPES) {
        const x = rng.fillNormal(new Float32Array(n * k), 1);
        const bits = f32ToBf16(rng.fillNormal(new Float32Array(m * k), 1));
        const widened = bf16ToF32(bits);
        const [tx, w16, w32, o16, o32] = [
          be.alloc(n * k),
          be.alloc(m * k, "bf16"),
          be.alloc(m * k),
          be.alloc(n * m),
          be.alloc(n * m),
        ];
        be.write(tx, x);
        be.write(w16, bits);
        be.write(w32, widened);
        assert.deepEqual(await be.read(w16), widened);
        be.matmulForward(o16, tx, w16, n, k, m);
        be.matmulForward(o32, tx, w32, n, k, m);
        const got = await be.read(o16);
        assert.deepEqual(got, await be.read(o32), `${n}×${k}×${m}`);
        const [rx, rw, ro] = [ref.alloc(n * k), ref.alloc(m * k), ref.alloc(n * m)];
        ref.write(rx, x);
        ref.write(rw, widened);
        ref.matmulForward(ro, rx, rw, n, k, m);
        assert.ok(relError(got, await ref.read(ro)) < 1e-5, `${n}×${k}×${m}`);
        for (const t of [tx, w16, w32, o16, o32]) be.free(t);
      }
      // Embedding rows from a bf16 table, an odd row width so that rows start mid-f32 in WASM.
      const [v, c, rows] = [11, 5, 6];
      const bits = f32ToBf16(rng.fillNormal(new Float32Array(v * c), 1));
      const [table, ids, out] = [be.alloc(v * c, "bf16"), be.alloc(rows, "i32"), be.alloc(rows * c)];
      be.write(table, bits);
      const idList = [3, 0, 10, 3, 7, 1];
      be.write(ids, Int32Array.from(idList));
      be.embeddingForward(out, table, ids, rows, c);
      const want = bf16ToF32(bits), got = await be.read(out);
      idList.forEach((id, r) =>
        assert.deepEqual(got.subarray(r * c, (r + 1) * c), want.subarray(id * c, (id + 1) * c))
      );
      // Wrong data types are one-line errors.
      assert.throws(() => be.write(table, new Float32Array(1)), isUserError);
      assert.throws(() => be.write(out, new Uint16Array(1)), isUserError);
      // Zeroing and copying whole and partial bf16 tensors.
      const [a, z] = be.allocGroup([3, 4], "bf16");
      be.write(a, new Uint16Array([0x3f80, 0x4000, 0x4040]));
      be.write(z, new Uint16Array([0x3f80, 0x3f80, 0x3f80, 0x3f80]));
      be.copy(z, a, 2, 1, 1);
      assert.deepEqual(await be.read(z), new Float32Array([1, 2, 3, 1]));
      be.zero(a);
      assert.deepEqual(await be.read(a), new Float32Array(3));
      assert.deepEqual(await be.read(z), new Float32Array([1, 2, 3, 1]));
    } finally {
      be.destroy();
    }
  });
}

Deno.test("bf16: f32ToBf16 rounds to nearest even and bf16ToF32 widens exactly", () => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [1 + 2 ** -8, 0x3f80], // a tie: to even
    [1 + 3 * 2 ** -8, 0x3f82], // a tie: to even, upwards
    [1 + 2 ** -8 + 2 ** -20, 0x3f81], // above the tie
    [-0, 0x8000],
    [Infinity, 0x7f80],
    [3.4e38, 0x7f80], // rounds past the largest bf16
    [NaN, 0x7fc0],
  ];
  const bits = f32ToBf16(Float32Array.from(cases.map((c) => c[0])));
  cases.forEach(([x, want], i) => assert.equal(bits[i], want, `${x}`));
  const all = new Uint16Array(65536).map((_, i) => i);
  const wide = bf16ToF32(all);
  const back = f32ToBf16(wide);
  for (let i = 0; i < 65536; i++) {
    if (!Number.isNaN(wide[i])) assert.equal(back[i], i);
  }
});

Deno.test("bf16 (wasm): a bf16 tensor takes two bytes an element", async () => {
  const be = await WasmBackend.create({ threads: 1 });
  try {
    const [a, b] = be.allocGroup([5, 3], "bf16");
    // Group members lie back to back: b starts 10 bytes after a.
    const at = (t: unknown) => (t as { byteOffset: number }).byteOffset;
    assert.equal(at(b) - at(a), 10);
    be.write(a, new Uint16Array(5).fill(0x3f80));
    be.write(b, new Uint16Array([0x4000, 0x4000, 0x4000]));
    assert.deepEqual(await be.read(a), new Float32Array(5).fill(1));
    assert.deepEqual(await be.read(b), new Float32Array(3).fill(2));
  } finally {
    be.destroy();
  }
});
