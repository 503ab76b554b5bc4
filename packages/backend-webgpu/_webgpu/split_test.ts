// The arithmetic that fits work to the adapter's limits, without a GPU.
import assert from "node:assert/strict";
import { adjacentRuns, flatGrid, matmulBlocks, MAX_GROUPS_PER_DIM, packGroup, pieces } from "./split.ts";

Deno.test("split: flat grids cover every workgroup within the per-dimension limit", () => {
  for (const groups of [1, 255, MAX_GROUPS_PER_DIM, MAX_GROUPS_PER_DIM + 1, 1_000_003, 4_300_000]) {
    const [x, y, z] = flatGrid(groups);
    assert.ok(x <= MAX_GROUPS_PER_DIM && y <= MAX_GROUPS_PER_DIM && z === 1);
    assert.ok(x * y >= groups && x * (y - 1) < groups, `${groups}: ${x}×${y}`);
  }
  assert.deepEqual(flatGrid(0), [1, 1, 1]);
});

Deno.test("split: pieces tile a range exactly", () => {
  assert.deepEqual(pieces(10, 4), [[0, 4], [4, 4], [8, 2]]);
  assert.deepEqual(pieces(8, 4), [[0, 4], [4, 4]]);
  assert.deepEqual(pieces(3, Infinity), [[0, 3]]);
  assert.deepEqual(pieces(0, 4), []);
  assert.throws(() => pieces(5, 0), RangeError);
});

Deno.test("split: group members are 256-byte aligned and spill into a new buffer at the size limit", () => {
  const { placements, bufferBytes } = packGroup([10, 100, 64, 5], 1 << 20);
  assert.deepEqual(placements, [{ buffer: 0, offset: 0 }, { buffer: 0, offset: 64 }, {
    buffer: 0,
    offset: 192,
  }, {
    buffer: 0,
    offset: 256,
  }]);
  assert.deepEqual(bufferBytes, [261 * 4]);
  const split = packGroup([100, 100, 300, 10], 1600);
  assert.deepEqual(split.placements.map((p) => p.buffer), [0, 0, 1, 1]);
  assert.deepEqual(split.placements.map((p) => p.offset), [0, 128, 0, 320]);
  assert.ok(split.bufferBytes.every((b) => b <= 1600));
});

Deno.test("split: runs merge tensors adjacent in every list at once, and only those", () => {
  const at = (bufferId: number, offset: number, size: number) => ({ bufferId, offset, size });
  const a = [at(1, 0, 64), at(1, 64, 64), at(1, 192, 64), at(1, 256, 8), at(2, 0, 8)];
  const b = [at(3, 0, 64), at(3, 64, 64), at(3, 192, 64), at(3, 256, 8), at(3, 264, 8)];
  assert.deepEqual(adjacentRuns([a]), [[0, 2], [2, 2], [4, 1]]);
  assert.deepEqual(adjacentRuns([a, b]), [[0, 2], [2, 2], [4, 1]]);
  assert.deepEqual(adjacentRuns([b]), [[0, 2], [2, 3]]);
  assert.deepEqual(adjacentRuns([b], (i) => i === 3), [[0, 2], [2, 1], [3, 1], [4, 1]]);
  assert.deepEqual(adjacentRuns([[]]), []);
});

Deno.test("split: matmul blocks keep every operand window within the binding", () => {
  const all = { a: true, b: true, c: true };
  assert.deepEqual(matmulBlocks(130, 257, 70, true, true, all, 100), { rows: 130, cols: 257, depth: 70 });
  // TinyLlama's head on lavapipe: logits [N, 32000] and w [32000, 2048] exceed 128 MiB windows.
  const cap = (128 * 2 ** 20) / 4 - 64;
  const head = matmulBlocks(8192, 32000, 2048, true, true, { a: true, b: false, c: false }, cap)!;
  assert.ok(head.rows * 32000 <= cap && head.cols * 2048 <= cap && head.depth === 2048);
  assert.equal(head.rows % 128, 0);
  // Its weight gradient: dout stored [N, M] read as A(m, n) constrains the depth (rows of dout).
  const dw = matmulBlocks(32000, 2048, 8192, false, false, { a: false, b: true, c: false }, cap)!;
  assert.ok(dw.depth * 32000 <= cap && dw.rows * 2048 <= cap && dw.depth % 16 === 0);
  assert.equal(matmulBlocks(4, 4, 1000, true, true, { a: false, b: true, c: true }, 500), null);
});
