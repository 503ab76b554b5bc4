import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { uniform } from "@tinyllama-ts/random";
import { openDataset, type SamplerState } from "./sampler.ts";
import { ShardWriter } from "./shard_writer.ts";
import { iterateBatches, iterateBlocks } from "./validation_blocks.ts";

/** A directory whose train stream is `base, base+1, ...` (`tokens` of them) in shards of `chunk`. */
async function makeDir(base: number, tokens: number, chunk = 50, prefix = "train"): Promise<string> {
  const dir = await Deno.makeTempDir();
  const w = new ShardWriter({ dir, prefix, chunkSize: chunk, dtype: "uint16", padToken: 1 });
  await w.add(Array.from({ length: tokens }, (_, i) => base + i));
  await w.finish();
  return dir;
}

Deno.test("sampler: rows are blocks of seqLen+1 split into inputs and shifted targets", async () => {
  const dir = await makeDir(100, 200);
  try {
    const s = openDataset([{ dir, weight: 1 }], { seqLen: 9, seed: 3 });
    assert.equal(s.sources[0].blocks, 20); // 200 tokens / 10; the remainder (none here) would be skipped
    const b = s.nextBatch(3);
    assert.equal(b.inputs.length, 27);
    for (let r = 0; r < 3; r++) {
      const row = [...b.inputs.subarray(r * 9, r * 9 + 9)];
      const first = row[0];
      assert.equal((first - 100) % 10, 0, "rows start on block boundaries");
      assert.deepEqual(row, Array.from({ length: 9 }, (_, i) => first + i));
      assert.deepEqual(
        [...b.targets.subarray(r * 9, r * 9 + 9)],
        Array.from({ length: 9 }, (_, i) => first + i + 1),
      );
    }
    s.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sampler: each epoch visits every block exactly once, in a new order per epoch", async () => {
  const dir = await makeDir(0, 384, 64); // blocks cross shard boundaries (64 is not a multiple of 10)
  try {
    const s = openDataset([{ dir, weight: 1 }], { seqLen: 9, seed: 11 });
    const n = s.sources[0].blocks;
    assert.equal(n, 38); // the last 4 tokens, less than a block, are not used
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const order: number[] = Array.from({ length: n }, () => s.nextBlock()[0] / 10);
      assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
      epochs.push(order);
      assert.deepEqual(s.state().sources[0], { dir, blocks: n, epoch: e + 1, cursor: 0 });
    }
    assert.notDeepEqual(epochs[0], epochs[1]);
    assert.notDeepEqual(epochs[1], epochs[2]);
    const other = openDataset([{ dir, weight: 1 }], { seqLen: 9, seed: 12 });
    assert.notDeepEqual(Array.from({ length: n }, () => other.nextBlock()[0] / 10), epochs[0]);
    s.close();
    other.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sampler: mixture proportions within tolerance over many draws (TinyLlama's weights)", async () => {
  const a = await makeDir(1000, 400);
  const b = await makeDir(5000, 100);
  try {
    const s = openDataset([{ dir: a, weight: 0.693584 }, { dir: b, weight: 0.306416 }], {
      seqLen: 7,
      seed: 5,
    });
    const draws = 40000;
    let fromA = 0;
    for (let i = 0; i < draws; i++) if (s.nextBlock()[0] < 5000) fromA++;
    const p = fromA / draws;
    const sd = Math.sqrt(0.693584 * 0.306416 / draws); // 0.0023
    assert.ok(Math.abs(p - 0.693584) < 5 * sd, `share of A ${p}`);
    // The small source went through many epochs meanwhile.
    assert.ok(s.state().sources[1].epoch > 100);
    s.close();
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("sampler: each draw picks the source its counter-based uniform falls in (three sources)", async () => {
  // An independent restatement of the mixture draw: draw i takes source k when
  // cumulative[k-1] ≤ uniform(seed, MIXTURE_STREAM, i) < cumulative[k]. Sources hold disjoint token ranges, so
  // each block says where it came from. Unlike the proportions test, this catches a boundary off by 1e-3.
  const MIXTURE_STREAM = 0x6d6978; // sampler.ts's stream id of the mixture draws
  const dirs = [await makeDir(1000, 300), await makeDir(5000, 200), await makeDir(9000, 100)];
  const weights = [0.5, 0.3, 0.2];
  try {
    const s = openDataset(dirs.map((dir, i) => ({ dir, weight: weights[i] })), { seqLen: 4, seed: 21 });
    const cumulative = [0.5, 0.8];
    for (let i = 0; i < 5000; i++) {
      const u = uniform(21, MIXTURE_STREAM, i);
      const expected = u < cumulative[0] ? 0 : u < cumulative[1] ? 1 : 2;
      const token = s.nextBlock()[0];
      assert.equal(token < 5000 ? 0 : token < 9000 ? 1 : 2, expected, `draw ${i} (u = ${u})`);
    }
    s.close();
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sampler: state saved mid-epoch resumes with the identical continuation (through JSON)", async () => {
  const a = await makeDir(1000, 300);
  const b = await makeDir(5000, 120);
  const specs = [{ dir: a, weight: 7 }, { dir: b, weight: 3 }];
  try {
    const s = openDataset(specs, { seqLen: 5, seed: 99 });
    for (let i = 0; i < 13; i++) s.nextBatch(2); // mid-epoch for both, past an epoch end for b
    const saved: SamplerState = JSON.parse(JSON.stringify(s.state()));
    assert.ok(saved.sources.every((x) => x.cursor > 0));
    assert.ok(JSON.stringify(saved).length < 1000, "the state is small");
    const expected = Array.from({ length: 40 }, () => s.nextBatch(3));
    const resumed = openDataset(specs, { seqLen: 5, seed: 0, state: saved }); // the state's seed wins
    const got = Array.from({ length: 40 }, () => resumed.nextBatch(3));
    assert.deepEqual(got, expected);
    assert.deepEqual(resumed.state(), s.state());
    // restore() on a running sampler rewinds it the same way.
    s.restore(saved);
    assert.deepEqual(s.nextBatch(3), expected[0]);
    s.close();
    resumed.close();
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("sampler: a state that does not match the data is refused with the reason", async () => {
  const a = await makeDir(1000, 300);
  const b = await makeDir(5000, 120);
  try {
    const s = openDataset([{ dir: a, weight: 1 }], { seqLen: 5, seed: 1 });
    s.nextBatch(4);
    const st = s.state();
    const refuse = (f: () => unknown, pattern: RegExp) =>
      assert.throws(f, (e) => isUserError(e) && pattern.test((e as Error).message));
    refuse(
      () => openDataset([{ dir: a, weight: 1 }], { seqLen: 6, seed: 1, state: st }),
      /seqLen is 6, the state has 5/,
    );
    refuse(() => openDataset([{ dir: b, weight: 1 }], { seqLen: 5, seed: 1, state: st }), /source 1 is/);
    refuse(
      () => openDataset([{ dir: a, weight: 1 }, { dir: b, weight: 1 }], { seqLen: 5, seed: 1, state: st }),
      /2 data sources given, the state has 1/,
    );
    refuse(
      () => s.restore({ ...st, sources: [{ ...st.sources[0], blocks: 3 }] }),
      /now has 50 blocks, the state 3/,
    );
    refuse(() => s.restore({ ...st, sources: [{ ...st.sources[0], cursor: 50 }] }), /invalid position/);
    refuse(
      () => s.restore({ ...st, version: 2 } as unknown as SamplerState),
      /not a version 1 sampler state/,
    );
    refuse(() => openDataset([], { seqLen: 5, seed: 1 }), /no data sources/);
    refuse(() => openDataset([{ dir: a, weight: 1 }], { seqLen: 5, seed: 1, split: "val" }), /no val shards/);
    refuse(
      () => openDataset([{ dir: a, weight: 1 }], { seqLen: 300, seed: 1 }),
      /fewer than one block of 301/,
    );
    refuse(
      () => openDataset([{ dir: `${a}/nope`, weight: 1 }], { seqLen: 5, seed: 1 }),
      /nope: no such directory/,
    );
    s.close();
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("sampler: a TinyLlama-style directory with two corpora, chosen by prefix", async () => {
  const dir = await makeDir(1000, 100, 50, "train_slimpajama_0");
  const w = new ShardWriter({
    dir,
    prefix: "train_starcoder_0",
    chunkSize: 50,
    dtype: "uint16",
    padToken: 1,
  });
  await w.add(Array.from({ length: 100 }, (_, i) => 5000 + i));
  await w.finish();
  try {
    const s = openDataset([{ dir, weight: 1, prefix: "train_star" }], { seqLen: 9, seed: 1 });
    for (let i = 0; i < 30; i++) assert.ok(s.nextBlock()[0] >= 5000);
    const both = openDataset([{ dir, weight: 1 }], { seqLen: 9, seed: 1 }); // train* = both corpora
    assert.equal(both.sources[0].blocks, 20);
    s.close();
    both.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("iterateBlocks / iterateBatches: fixed sequential validation blocks", async () => {
  const dir = await makeDir(10, 47, 20, "validation_slimpajama_0"); // TinyLlama's validation prefix
  try {
    const blocks = [...iterateBlocks(dir, { seqLen: 9 })];
    // 47 tokens then 13 BOS of padding (no manifest, so padding is data): 6 blocks of 10.
    assert.equal(blocks.length, 6);
    blocks.slice(0, 4).forEach((b, k) =>
      assert.deepEqual([...b], Array.from({ length: 10 }, (_, i) => 10 + k * 10 + i))
    );
    assert.deepEqual([...blocks[4]], [50, 51, 52, 53, 54, 55, 56, 1, 1, 1]);
    assert.deepEqual([...iterateBlocks({ dir, weight: 1 }, { seqLen: 9, maxBlocks: 2 })].map((b) => b[0]), [
      10,
      20,
    ]);
    const batches = [...iterateBatches(dir, { seqLen: 9, batchSize: 4 })];
    assert.deepEqual(batches.map((b) => b.batchSize), [4, 2]);
    assert.deepEqual([...batches[1].inputs.subarray(0, 9)], [...blocks[4].subarray(0, 9)]);
    assert.deepEqual([...batches[1].targets.subarray(9)], [...blocks[5].subarray(1)]);
    assert.throws(() => [...iterateBlocks(dir, { seqLen: 9, split: "train" })], /no train shards/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
