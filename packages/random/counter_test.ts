import assert from "node:assert/strict";
import { FeistelPermutation, fmix32, uniform } from "./counter.ts";

Deno.test("FeistelPermutation: a bijection of [0, n) for many sizes and keys", () => {
  for (const n of [1, 2, 3, 4, 5, 7, 16, 17, 100, 255, 256, 257, 1000, 4097]) {
    for (const key of [0, 1, 12345]) {
      const p = new FeistelPermutation(n, key);
      const seen = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const j = p.at(i);
        assert.ok(Number.isInteger(j) && j >= 0 && j < n, `n=${n} i=${i} -> ${j}`);
        seen[j]++;
      }
      assert.ok(seen.every((c) => c === 1), `n=${n} key=${key}`);
    }
  }
  assert.throws(() => new FeistelPermutation(10, 0).at(10), RangeError);
  assert.throws(() => new FeistelPermutation(0, 0), RangeError);
});

Deno.test("FeistelPermutation: works past 2^32 and different keys give different orders", () => {
  const big = new FeistelPermutation(2 ** 40 + 3, 9);
  const images = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const j = big.at(2 ** 40 - 997 + i);
    assert.ok(j >= 0 && j < 2 ** 40 + 3 && Number.isInteger(j));
    images.add(j);
  }
  assert.equal(images.size, 1000);
  const a = Array.from({ length: 50 }, (_, i) => new FeistelPermutation(50, 1).at(i));
  const b = Array.from({ length: 50 }, (_, i) => new FeistelPermutation(50, 2).at(i));
  assert.notDeepEqual(a, b);
  // Not the identity nor a rotation: a shuffle moves most elements.
  assert.ok(a.filter((v, i) => v === i).length < 10);
});

Deno.test("uniform: in [0, 1), deterministic, and evenly spread (chi-square over 20 bins)", () => {
  const n = 40000;
  const bins = new Array(20).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const u = uniform(42, 7, i);
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 20)]++;
    sum += u;
  }
  assert.equal(uniform(42, 7, 123), uniform(42, 7, 123));
  assert.notEqual(uniform(42, 7, 123), uniform(43, 7, 123));
  const e = n / 20;
  const chi2 = bins.reduce((a, c) => a + (c - e) ** 2 / e, 0);
  assert.ok(chi2 < 43.8, `chi2 ${chi2} (19 dof, p=0.001 critical value 43.8)`);
  assert.ok(Math.abs(sum / n - 0.5) < 0.01);
  assert.equal(fmix32(0), 0);
  assert.notEqual(fmix32(1), 1);
});
