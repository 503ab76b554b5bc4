// Safetensors against files PyTorch/transformers wrote (F32, BF16, F16, sharded) and PyTorch's own
// roundings (conversions.safetensors), our writer read back, and malformed files.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import {
  decode,
  encode,
  openSafetensors,
  writeSafetensors,
  writeSafetensorsCheckpoint,
} from "./safetensors.ts";
import { FIXTURES, rawSafetensors } from "../../tests/_harness.ts";

const userError = (re: RegExp) => (e: unknown) => {
  assert.ok(isUserError(e), `not a UserError: ${e}`);
  assert.match((e as Error).message, re);
  assert.ok(!(e as Error).message.includes("\n"), "one line");
  return true;
};

Deno.test("safetensors: reads transformers' F32 checkpoint (names, shapes, metadata)", async () => {
  const st = await openSafetensors(`${FIXTURES}gqa_a`);
  try {
    assert.equal(st.names().length, 21);
    assert.equal(st.metadata.format, "pt");
    const q = st.info("model.layers.1.self_attn.k_proj.weight");
    assert.deepEqual([q.dtype, q.shape], ["F32", [16, 32]]);
    const w = await st.read("model.norm.weight");
    assert.equal(w.length, 32);
    assert.ok(w.every((x) => Number.isFinite(x) && x !== 0));
    // Concurrent reads of one file queue up instead of interleaving their seeks.
    const together = await Promise.all(st.names().map((n) => st.read(n)));
    for (const [i, n] of st.names().entries()) assert.deepEqual(together[i], await st.read(n), n);
  } finally {
    st.close();
  }
});

Deno.test("safetensors: encode/decode equal PyTorch's BF16 and F16 conversions bit for bit", async () => {
  const st = await openSafetensors(`${FIXTURES}conversions.safetensors`);
  try {
    const values = await st.read("values");
    for (const [dtype, key] of [["BF16", "values_bf16"], ["F16", "values_f16"]] as const) {
      const torchBytes = await st.readRaw(key);
      // NaN has several encodings (PyTorch's vectorised BF16 path writes 0xffff, its scalar path and we
      // 0x7fc0): NaNs must stay NaN, every other value must match bit for bit.
      const ours = new Uint16Array(encode(values, dtype).buffer),
        theirs = new Uint16Array(torchBytes.slice().buffer);
      const back = decode(torchBytes, dtype);
      let nans = 0;
      for (let i = 0; i < values.length; i++) {
        if (Number.isNaN(values[i])) {
          nans++;
          assert.ok(
            Number.isNaN(back[i]) && Number.isNaN(decode(encode(values.subarray(i, i + 1), dtype), dtype)[0]),
          );
        } else {
          assert.equal(ours[i], theirs[i], `${dtype} of ${values[i]} (index ${i})`);
        }
      }
      assert.equal(nans, 2);
      // Decoding our bytes and encoding again is the identity.
      assert.deepEqual(encode(decode(encode(values, dtype), dtype), dtype), encode(values, dtype));
      assert.deepEqual(await st.read(key), decode(torchBytes, dtype));
    }
    assert.deepEqual(encode(values, "F32"), await st.readRaw("values"));
  } finally {
    st.close();
  }
});

Deno.test("safetensors: BF16, F16 and sharded copies of gqa_b hold gqa_b's tensors", async () => {
  const f32 = await openSafetensors(`${FIXTURES}gqa_b`);
  const bf16 = await openSafetensors(`${FIXTURES}gqa_b_bf16`);
  const f16 = await openSafetensors(`${FIXTURES}gqa_b_f16`);
  const sharded = await openSafetensors(`${FIXTURES}gqa_b_sharded`);
  try {
    assert.deepEqual(sharded.names().sort(), f32.names().sort());
    assert.ok(sharded.info("model.norm.weight").file.endsWith("model-00003-of-00004.safetensors"));
    for (const name of f32.names()) {
      const x = await f32.read(name);
      assert.deepEqual(await sharded.readRaw(name), await f32.readRaw(name), name);
      assert.equal(bf16.info(name).dtype, "BF16");
      assert.equal(f16.info(name).dtype, "F16");
      // transformers' half-precision files are the rounding of the F32 tensors.
      assert.deepEqual(await bf16.readRaw(name), encode(x, "BF16"), name);
      assert.deepEqual(await f16.readRaw(name), encode(x, "F16"), name);
    }
  } finally {
    for (const s of [f32, bf16, f16, sharded]) s.close();
  }
});

Deno.test("safetensors: our writer reads back, single and sharded, in every dtype", async () => {
  const dir = await Deno.makeTempDir();
  const a = new Float32Array([1, -2.5, 3.25, 1e-3, 65504, -0]);
  const tensors = [
    { name: "b.weight", shape: [2, 3], data: a },
    { name: "a.weight", shape: [4], data: () => Promise.resolve(new Float32Array([0.5, 0.25, -8, 7])) },
  ];
  for (const dtype of ["F32", "BF16", "F16"] as const) {
    await writeSafetensors(`${dir}/${dtype}.safetensors`, tensors, { dtype });
    const bytes = await Deno.readFile(`${dir}/${dtype}.safetensors`);
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLen % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    assert.deepEqual(Object.keys(header), ["__metadata__", "a.weight", "b.weight"]); // sorted by name
    const st = await openSafetensors(`${dir}/${dtype}.safetensors`);
    assert.deepEqual(st.info("b.weight").shape, [2, 3]);
    assert.deepEqual(await st.read("b.weight"), decode(encode(a, dtype), dtype));
    assert.deepEqual(await st.read("a.weight"), new Float32Array([0.5, 0.25, -8, 7]));
    st.close();
  }
  const files = await writeSafetensorsCheckpoint(`${dir}/ckpt`, tensors, { maxShardBytes: 24 });
  assert.deepEqual(files, [
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
  ]);
  const index = JSON.parse(await Deno.readTextFile(`${dir}/ckpt/model.safetensors.index.json`));
  assert.deepEqual(index, {
    metadata: { total_size: 40 },
    weight_map: {
      "a.weight": "model-00002-of-00002.safetensors",
      "b.weight": "model-00001-of-00002.safetensors",
    },
  });
  const st = await openSafetensors(`${dir}/ckpt`);
  assert.deepEqual(await st.read("b.weight"), a);
  st.close();
  // Saving again unsharded into the same directory leaves no stale index or shard behind.
  const b2 = new Float32Array([6, 5, 4, 3, 2, 1]);
  await Deno.writeTextFile(`${dir}/ckpt/notes.txt`, "kept");
  assert.deepEqual(await writeSafetensorsCheckpoint(`${dir}/ckpt`, [{ ...tensors[0], data: b2 }]), [
    "model.safetensors",
  ]);
  assert.deepEqual([...Deno.readDirSync(`${dir}/ckpt`)].map((e) => e.name).sort(), [
    "model.safetensors",
    "notes.txt",
  ]);
  const again = await openSafetensors(`${dir}/ckpt`);
  assert.deepEqual(await again.read("b.weight"), b2);
  again.close();
  await assert.rejects(
    () => writeSafetensors(`${dir}/bad.safetensors`, [{ name: "x", shape: [3], data: a }]),
    userError(/tensor "x" has 6 values, shape \[3\] needs 3/),
  );
  // A failed write leaves neither the file nor a temporary beside it.
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("bad")), []);
});

Deno.test("safetensors: malformed files are one-line errors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const good = await Deno.readFile(`${FIXTURES}gqa_a/model.safetensors`);
  const write = async (name: string, bytes: Uint8Array) => {
    await Deno.writeFile(`${dir}/${name}`, bytes);
    return `${dir}/${name}`;
  };
  const open = (path: string) => openSafetensors(path);
  const f4 = new Uint8Array(new Float32Array([1, 2]).buffer);

  await assert.rejects(() => open(`${dir}/none.safetensors`), userError(/none\.safetensors: not found/));
  await assert.rejects(
    async () => open(await write("short", good.slice(0, 5))),
    userError(/short: not a safetensors file/),
  );
  await assert.rejects(
    async () => open(await write("cut-header", good.slice(0, 100))),
    userError(/cut-header: not a safetensors file or truncated \(header length \d+, file size 100 bytes\)/),
  );
  await assert.rejects(
    async () => open(await write("cut-data", good.slice(0, good.length - 10))),
    userError(/cut-data: truncated \(tensor "[^"]+" ends at data byte \d+, the file holds \d+\)/),
  );
  await assert.rejects(
    async () =>
      open(await write("text.json", new TextEncoder().encode('{"hello": "world", "padding": "......"}'))),
    userError(/text\.json: not a safetensors file/),
  );
  await assert.rejects(
    async () => open(await write("notjson", rawSafetensors([]).map((b, i) => (i === 8 ? 0x5b : b)))),
    userError(/notjson: not a safetensors file \(header is not/),
  );
  await assert.rejects(
    async () => open(await write("size", rawSafetensors([["w", "F32", [3], f4]]))),
    userError(/size: tensor "w": data_offsets span 8 bytes, shape \[3\] of F32 needs 12/),
  );
  await assert.rejects(
    async () => open(await write("dtype", rawSafetensors([["w", "F31", [2], f4]]))),
    userError(/dtype: tensor "w": unknown dtype "F31"/),
  );
  const overlap = rawSafetensors([["a", "F32", [2], f4]]);
  const header = JSON.stringify({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: {
      dtype: "F32",
      shape: [1],
      data_offsets: [4, 8],
    },
  });
  const hb = new TextEncoder().encode(header);
  const ov = new Uint8Array(8 + hb.length + 8);
  new DataView(ov.buffer).setBigUint64(0, BigInt(hb.length), true);
  ov.set(hb, 8);
  ov.set(overlap.subarray(overlap.length - 8), 8 + hb.length);
  await assert.rejects(
    async () => open(await write("overlap", ov)),
    userError(/overlap: tensor "b" overlaps/),
  );
  const trailing = new Uint8Array([...rawSafetensors([["w", "F32", [2], f4]]), 0, 0, 0, 0]);
  await assert.rejects(
    async () => open(await write("trailing", trailing)),
    userError(/trailing: 4 bytes after the last/),
  );

  const i64 = await open(await write("i64", rawSafetensors([["ids", "I64", [1], new Uint8Array(8)]])));
  await assert.rejects(() => i64.read("ids"), userError(/i64: tensor "ids" has unsupported dtype I64/));
  assert.throws(() => i64.info("nope"), userError(/i64: no tensor "nope"/));
  i64.close();

  await Deno.mkdir(`${dir}/sharded`);
  await Deno.writeTextFile(
    `${dir}/sharded/model.safetensors.index.json`,
    JSON.stringify({ weight_map: { w: "model-00001-of-00002.safetensors" } }),
  );
  await assert.rejects(
    () => open(`${dir}/sharded`),
    userError(/model-00001-of-00002\.safetensors: not found/),
  );
  await Deno.writeTextFile(`${dir}/sharded/model.safetensors.index.json`, "{");
  await assert.rejects(
    () => open(`${dir}/sharded`),
    userError(/model\.safetensors\.index\.json: not valid JSON/),
  );
  await Deno.mkdir(`${dir}/empty`);
  await assert.rejects(
    () => open(`${dir}/empty`),
    userError(/empty: no model\.safetensors or model\.safetensors\.index/),
  );
});
