import assert from "node:assert/strict";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import { writeSafetensors } from "@tinyllama-ts/checkpoint";
import { resolveConfig } from "@tinyllama-ts/model";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import { cliPretrain, TEST_TOKENIZER, testSources } from "./_test_corpus.ts";
import { memorySampler, packDocuments, safetensorsBytes, TrainingSession, unaliasedBackend } from "./mod.ts";

Deno.test("session: in Deno, the same losses as deno task pretrain, bit for bit, and the same weights", async () => {
  const dir = await Deno.makeTempDir({ prefix: "web-session-" });
  const backend = await createBackend("wasm");
  try {
    const sources = testSources();
    const hp = { maxSteps: 6, microBatchSize: 2, globalBatchSize: 4, seqLen: 32, seed: 5 };
    const cli = await cliPretrain(dir, sources, [
      ...["--max-steps", "6", "--micro-batch-size", "2", "--global-batch-size", "4"],
      ...["--seq-len", "32", "--seed", "5", "--backend", "wasm"],
    ]);
    const session = TrainingSession.create(backend, {
      config: await resolveConfig("micro-4l-4k"),
      tokenizerModel: await Deno.readFile(TEST_TOKENIZER),
      sources,
      hparams: hp,
    });
    try {
      const losses = [];
      while (!session.done) losses.push((await session.step()).loss);
      assert.deepEqual(losses, cli.losses);
      const files = await session.checkpoint();
      const weights = files.find((f) => f.name === "model.safetensors")!.bytes;
      assert.deepEqual(
        weights,
        await Deno.readFile(`${cli.out}/checkpoints/step-00000006/model.safetensors`),
      );
      assert.equal(typeof await session.sample("the people", { maxNewTokens: 8 }), "string");
    } finally {
      session.destroy();
    }
  } finally {
    backend.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("packDocuments: ids then EOS per document, whitespace-only documents skipped", async () => {
  const tok = await loadTokenizer(TEST_TOKENIZER);
  const a = tok.encode("the state of the union", { bos: false, eos: false });
  const b = tok.encode("x = 1;", { bos: false, eos: false });
  assert.deepEqual([...packDocuments(tok, ["the state of the union", " \n\t", "x = 1;"])], [
    ...a,
    tok.eosId,
    ...b,
    tok.eosId,
  ]);
});

Deno.test("memorySampler: blocks of seqLen + 1 from the stream; a stream shorter than a block is refused", () => {
  const stream = Int32Array.from({ length: 30 }, (_, i) => i);
  const sampler = memorySampler([{ name: "a", weight: 1, stream }], { seqLen: 4, seed: 3 });
  const { inputs, targets } = sampler.nextBatch(6); // all 6 blocks of 5, in some order
  const starts = [];
  for (let r = 0; r < 6; r++) {
    const row = [...inputs.subarray(r * 4, r * 4 + 4)];
    assert.deepEqual([...targets.subarray(r * 4, r * 4 + 4)], row.map((x) => x + 1));
    starts.push(row[0]);
  }
  assert.deepEqual(starts.sort((x, y) => x - y), [0, 5, 10, 15, 20, 25]);
  assert.throws(() =>
    memorySampler([{ name: "b", weight: 1, stream: new Int32Array(4) }], { seqLen: 4, seed: 0 })
  );
});

Deno.test("safetensorsBytes: the bytes writeSafetensors writes", async () => {
  const tensors = [
    { name: "b.weight", shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -0]) },
    { name: "a", shape: [1], data: new Float32Array([42]) },
  ];
  const path = `${await Deno.makeTempDir()}/x.safetensors`;
  await writeSafetensors(path, tensors);
  assert.deepEqual(safetensorsBytes(tensors), await Deno.readFile(path));
  await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
});

Deno.test("unaliasedBackend: an op given one tensor twice computes from a copy, with the right result", async () => {
  // The plain backend refuses these calls (the contract lets add's out alias only a); wrapped, they run.
  const plain = new ReferenceBackend();
  const p = plain.alloc(4);
  assert.throws(() => plain.add(p, p, p, 4), /add: out is the same tensor as b/);
  plain.destroy();
  const be = unaliasedBackend(new ReferenceBackend());
  const x = be.alloc(4);
  be.write(x, new Float32Array([1, 2, 3, 4]));
  be.add(x, x, x, 4);
  const y = be.alloc(4);
  be.write(y, new Float32Array([0.5, 0.25, 2, 1]));
  be.add(y, x, y, 4);
  assert.deepEqual([...await be.read(x), ...await be.read(y)], [2, 4, 6, 8, 2.5, 4.25, 8, 9]);
  be.destroy();
});
