import assert from "node:assert/strict";
import {
  Deduplicator,
  exactDedupKey,
  lshParams,
  minhashSignature,
  normalizeText,
  shingleHashes,
  signatureSimilarity,
} from "./dedup.ts";

const FIX = JSON.parse(
  Deno.readTextFileSync(new URL("../../tests/fixtures/data/dedup_expected.json", import.meta.url)),
);
const DOCS: string[] = FIX.docs;
const PAIRS: { a: number; b: number; jaccard: number }[] = FIX.pairs;

Deno.test("normalizeText: SlimPajama's preprocess_string (from Python)", () => {
  for (const [input, expected] of FIX.normalize as [string, string][]) {
    assert.equal(normalizeText(input), expected);
  }
});

Deno.test("lshParams: datasketch's optimal banding", () => {
  assert.deepEqual(lshParams(FIX.lsh.threshold, FIX.lsh.num_perm), {
    bands: FIX.lsh.bands,
    rows: FIX.lsh.rows,
  });
  for (const [t, p, bands, rows] of FIX.lsh_more as number[][]) {
    assert.deepEqual(lshParams(t, p), { bands, rows }, `${t} ${p}`);
  }
});

Deno.test("minhash: signature agreement estimates the exact word 13-gram Jaccard from Python", () => {
  const sigs = DOCS.map(minhashSignature);
  for (const { a, b, jaccard } of PAIRS) {
    const est = signatureSimilarity(sigs[a], sigs[b]);
    // 128 permutations: standard error at most 0.044; 4 of them is a loose but failing bound.
    assert.ok(Math.abs(est - jaccard) < 0.18, `docs ${a},${b}: estimate ${est}, exact ${jaccard}`);
  }
  assert.equal(shingleHashes(DOCS[0]).length, 400 - 13 + 1);
  assert.equal(shingleHashes("two words").length, 1);
  assert.equal(shingleHashes(" ... ").length, 0);
});

Deno.test("exactDedupKey: equal after normalisation, different otherwise", () => {
  assert.equal(exactDedupKey(DOCS[0]), exactDedupKey(DOCS[1]));
  assert.equal(exactDedupKey(DOCS[5]), exactDedupKey(DOCS[6]));
  assert.notEqual(exactDedupKey(DOCS[0]), exactDedupKey(DOCS[2]));
  assert.match(exactDedupKey("x"), /^[0-9a-f]{16}$/);
});

Deno.test("Deduplicator: exact and minhash modes keep the first of each group", () => {
  const run = (mode: "none" | "exact" | "minhash") => {
    const d = new Deduplicator(mode);
    return DOCS.map((t, i) => d.check(i, { exact: exactDedupKey(t), signature: minhashSignature(t) }));
  };
  assert.ok(run("none").every((v) => !v.duplicate));
  assert.deepEqual(run("exact"), [
    { duplicate: false },
    { duplicate: true, of: 0, kind: "exact" },
    { duplicate: false },
    { duplicate: false },
    { duplicate: false },
    { duplicate: false },
    { duplicate: true, of: 5, kind: "exact" },
  ]);
  // Doc 2 shares 98% of doc 0's 13-grams; doc 3 only 32% and doc 4 none: kept.
  assert.deepEqual(run("minhash"), [
    { duplicate: false },
    { duplicate: true, of: 0, kind: "exact" },
    { duplicate: true, of: 0, kind: "near" },
    { duplicate: false },
    { duplicate: false },
    { duplicate: false },
    { duplicate: true, of: 5, kind: "exact" },
  ]);
});
