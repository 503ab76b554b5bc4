import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { ShardReader } from "./shard_reader.ts";
import { ShardWriter } from "./shard_writer.ts";

const FIXTURES = new URL("../../tests/fixtures/data/", import.meta.url).pathname;

interface LitgptCase {
  vocab_size: number;
  chunk_size: number;
  bos: number;
  docs: number[][];
  files: string[];
  block_size: number;
  blocks: number[][];
}
const LITGPT: Record<"uint16" | "int32", LitgptCase> = JSON.parse(
  Deno.readTextFileSync(`${FIXTURES}litgpt_expected.json`),
);

for (const dtype of ["uint16", "int32"] as const) {
  const c = LITGPT[dtype];
  const theirs = c.files.map((f) => `${FIXTURES}litgpt/${dtype}/${f}`);

  Deno.test(`ShardWriter (${dtype}): byte-identical to lit-gpt's PackedDatasetBuilder`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const w = new ShardWriter({ dir, prefix: "train", chunkSize: c.chunk_size, dtype, padToken: c.bos });
      for (const d of c.docs) await w.add(d);
      const ours = await w.finish();
      assert.equal(ours.length, c.files.length);
      for (let i = 0; i < ours.length; i++) {
        assert.equal(ours[i], `train_${i.toString().padStart(10, "0")}.bin`);
        assert.deepEqual(await Deno.readFile(`${dir}/${ours[i]}`), await Deno.readFile(theirs[i]), ours[i]);
      }
      const total = c.docs.reduce((a, d) => a + d.length, 0);
      assert.equal(w.tokens, total);
      assert.equal(w.paddingTokens, c.files.length * c.chunk_size - total);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ours); // no temporaries left
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`ShardReader (${dtype}): reads lit-gpt's shards back as documents then BOS padding`, () => {
    const r = ShardReader.open(theirs);
    try {
      assert.equal(r.dtype, dtype);
      assert.equal(r.totalTokens, c.files.length * c.chunk_size);
      const all = new Int32Array(r.totalTokens);
      r.read(0, r.totalTokens, all);
      const docs = c.docs.flat();
      assert.deepEqual([...all.subarray(0, docs.length)], docs);
      assert.ok(all.subarray(docs.length).every((t) => t === c.bos));
      // lit-gpt's own (unshuffled) iterator cuts blocks inside each chunk; the same tokens come out here.
      const perChunk = Math.floor(c.chunk_size / c.block_size);
      c.blocks.forEach((block, k) => {
        const start = Math.floor(k / perChunk) * c.chunk_size + (k % perChunk) * c.block_size;
        const got = new Int32Array(c.block_size);
        r.read(start, c.block_size, got);
        assert.deepEqual([...got], block, `block ${k}`);
      });
      // A read that spans three shards.
      const span = new Int32Array(c.chunk_size + 4);
      r.read(c.chunk_size - 2, span.length, span);
      assert.deepEqual([...span], [...all.subarray(c.chunk_size - 2, c.chunk_size - 2 + span.length)]);
    } finally {
      r.close();
    }
  });
}

Deno.test("ShardWriter: a sequence longer than several chunks, an exactly full chunk, nothing to finish", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = new ShardWriter({ dir, prefix: "val", chunkSize: 3, dtype: "uint16", padToken: 1 });
    await w.add([10, 11, 12, 13, 14, 15, 16]);
    await w.add([17, 18]);
    assert.deepEqual(await w.finish(), ["val_0000000000.bin", "val_0000000001.bin", "val_0000000002.bin"]);
    assert.equal(w.paddingTokens, 0);
    const r = ShardReader.open(w.files.map((f) => `${dir}/${f}`));
    const out = new Int32Array(9);
    r.read(0, 9, out);
    r.close();
    assert.deepEqual([...out], [10, 11, 12, 13, 14, 15, 16, 17, 18]);
    const empty = new ShardWriter({ dir, prefix: "none", chunkSize: 3, dtype: "uint16", padToken: 1 });
    assert.deepEqual(await empty.finish(), []);
    await assert.rejects(() => w.add([1]));
    assert.throws(
      () => new ShardWriter({ dir, prefix: "x", chunkSize: 0, dtype: "uint16", padToken: 1 }),
      RangeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ShardReader: truncated, foreign and mixed-dtype shards are one-line errors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = `${FIXTURES}litgpt/uint16/${LITGPT.uint16.files[0]}`;
    const bytes = await Deno.readFile(src);
    await Deno.writeFile(`${dir}/short.bin`, bytes.subarray(0, bytes.length - 1));
    await Deno.writeFile(`${dir}/magic.bin`, Uint8Array.from(bytes, (b, i) => i === 0 ? 0 : b));
    await Deno.writeFile(`${dir}/tiny.bin`, bytes.subarray(0, 5));
    const check = (paths: string[], pattern: RegExp) =>
      assert.throws(
        () => ShardReader.open(paths),
        (e) => isUserError(e) && pattern.test((e as Error).message),
      );
    check(
      [`${dir}/short.bin`],
      /short\.bin: size 55 bytes does not fit the header \(16 uint16 tokens need 56\)/,
    );
    check([`${dir}/magic.bin`], /magic\.bin: wrong magic/);
    check([`${dir}/tiny.bin`], /tiny\.bin: too short for a shard header/);
    check([`${dir}/missing.bin`], /missing\.bin: cannot open shard/);
    check([src, `${FIXTURES}litgpt/int32/${LITGPT.int32.files[0]}`], /int32.*differs from uint16/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
