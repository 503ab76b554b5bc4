import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { readManifest } from "./manifest.ts";
import { prepareDataset, type PrepareOptions, REMOVED_FILE } from "./prepare.ts";
import type { DocumentItem } from "./read_documents.ts";
import { openDataset } from "./sampler.ts";
import { ShardReader } from "./shard_reader.ts";
import { iterateBlocks } from "./validation_blocks.ts";
import { BYTE_TOKENIZER_MODULE, writeByteTokenizer } from "./_test_tokenizer.ts";

const INPUTS = new URL("../../tests/fixtures/data/inputs", import.meta.url).pathname;
const EXPECTED: Record<string, DocumentItem[]> = JSON.parse(
  Deno.readTextFileSync(new URL("../../tests/fixtures/data/expected_documents.json", import.meta.url)),
);
// listInputFiles' order: sorted, recursively.
const FILE_ORDER = [
  "code.parquet",
  "docs.jsonl",
  "docs.jsonl.gz",
  "nested/doc.txt",
  "nested/docs.jsonl.zst",
  "nested/text_zstd.parquet",
];
const ALL_ITEMS = FILE_ORDER.flatMap((f) => EXPECTED[f]);
const ALL_DOCS = ALL_ITEMS.flatMap((i) => "text" in i ? [i.text] : []);

const byteIds = (text: string) => [...new TextEncoder().encode(text)].map((b) => b + 3);

async function withTemp(f: (dir: string, tokenizer: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir, await writeByteTokenizer(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function prepare(opts: Omit<PrepareOptions, "tokenizerModule" | "progress">) {
  return prepareDataset({ tokenizerModule: BYTE_TOKENIZER_MODULE, progress: false, ...opts });
}

/** A split's whole token stream, and the documents in it (cut at EOS = 2), and what follows the last. */
function readSplit(dir: string, split: "train" | "val") {
  const m = readManifest(dir)!;
  if (m.splits[split].files.length === 0) return { stream: [], docs: [], tail: [] };
  const r = ShardReader.open(m.splits[split].files.map((f) => `${dir}/${f}`));
  const all = new Int32Array(r.totalTokens);
  r.read(0, r.totalTokens, all);
  r.close();
  const docs: number[][] = [];
  let cur: number[] = [];
  let end = 0;
  all.forEach((t, i) => {
    cur.push(t);
    if (t === 2) {
      docs.push(cur);
      cur = [];
      end = i + 1;
    }
  });
  return { stream: [...all], docs, tail: [...all.subarray(end)] };
}

Deno.test("prepare: exact token accounting — every document's ids plus EOS once, in order, then only BOS", async () => {
  await withTemp(async (tmp, tokenizer) => {
    const out = `${tmp}/out`;
    const s = await prepare({ tokenizer, inputs: [INPUTS], out, chunkSize: 64, workers: 0 });
    const { docs, tail } = readSplit(out, "train");
    assert.deepEqual(docs, ALL_DOCS.map((t) => [...byteIds(t), 2]));
    const tokens = ALL_DOCS.reduce((a, t) => a + byteIds(t).length + 1, 0);
    assert.ok(tail.length < 64 && tail.every((t) => t === 1), "only BOS padding after the last document");
    assert.equal(s.train.tokens, tokens);
    assert.equal(s.train.paddingTokens, tail.length);
    assert.equal(s.train.shards, Math.ceil(tokens / 64));
    assert.equal(s.train.documents, ALL_DOCS.length);
    assert.deepEqual(s.val, { documents: 0, tokens: 0, paddingTokens: 0, shards: 0 });
    // The summary counts every record and every reason for skipping one.
    assert.equal(s.files, 6);
    assert.equal(s.ignoredFiles, 1);
    assert.equal(s.records, ALL_ITEMS.length);
    assert.equal(s.documents, ALL_DOCS.length);
    const count = (r: string) => ALL_ITEMS.filter((i) => "skip" in i && i.skip === r).length;
    assert.deepEqual(s.skipped, {
      missing_field: count("missing_field"),
      invalid_json: count("invalid_json"),
      empty: count("empty"),
      blank_line: count("blank_line"),
      invalid_utf8: count("invalid_utf8"),
    });
    assert.ok(s.skipped.missing_field >= 8 && s.skipped.invalid_json === 3);
    assert.equal(s.textBytes, ALL_DOCS.reduce((a, t) => a + new TextEncoder().encode(t).length, 0));
    // The manifest records it all; nothing else is left in the directory.
    const m = readManifest(out)!;
    assert.equal(m.chunkSize, 64);
    assert.equal(m.dtype, "uint16");
    assert.equal(m.padToken, 1);
    assert.deepEqual(m.tokenizer.vocabSize, 259);
    assert.match(m.tokenizer.sha256, /^[0-9a-f]{64}$/);
    assert.equal(m.splits.train.tokens, tokens);
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(names, ["manifest.json", ...m.splits.train.files]);
    // The loader leaves the recorded padding out: blocks hold document tokens only.
    const blocks = [...iterateBlocks(out, { seqLen: 15, split: "train" })];
    assert.equal(blocks.length, Math.floor(tokens / 16));
    assert.ok(blocks.every((b) => b.every((t) => t !== 1)));
  });
});

Deno.test("prepare: two workers write exactly the bytes one thread writes", async () => {
  await withTemp(async (tmp, tokenizer) => {
    const opts = { tokenizer, inputs: [INPUTS], chunkSize: 50, valFraction: 0.3, dedup: "minhash" as const };
    const a = await prepare({ ...opts, out: `${tmp}/a`, workers: 0 });
    const b = await prepare({ ...opts, out: `${tmp}/b`, workers: 2 });
    assert.deepEqual({ ...a, seconds: 0 }, { ...b, seconds: 0 });
    const ma = readManifest(`${tmp}/a`)!;
    for (const f of [...ma.splits.train.files, ...ma.splits.val.files, REMOVED_FILE]) {
      assert.deepEqual(await Deno.readFile(`${tmp}/a/${f}`), await Deno.readFile(`${tmp}/b/${f}`), f);
    }
  });
});

Deno.test("prepare: files cut into many pieces over several workers — same bytes, records numbered per file", async () => {
  await withTemp(async (tmp, tokenizer) => {
    // Two files of many pieces each, and a small one between them, with repeats to report: line 5i+3 of
    // b.jsonl repeats line i of a.jsonl (a.jsonl's lines are all distinct).
    const line = (i: number) => JSON.stringify({ text: `document ${i}: ${"lorem ipsum é ".repeat(i % 50)}` });
    const a = Array.from({ length: 6000 }, (_, i) => line(i));
    const b = Array.from({ length: 6000 }, (_, i) => i % 5 === 2 ? line(Math.floor(i / 5)) : `{"x":${i}}`);
    await Deno.mkdir(`${tmp}/in`);
    await Deno.writeTextFile(`${tmp}/in/a.jsonl`, a.join("\n") + "\n");
    await Deno.writeTextFile(`${tmp}/in/a2.txt`, "a small file between two large ones");
    await Deno.writeTextFile(`${tmp}/in/b.jsonl`, b.join("\n"));
    const opts = {
      tokenizer,
      inputs: [`${tmp}/in`],
      chunkSize: 100_000,
      valFraction: 0.1,
      dedup: "exact" as const,
    };
    const s = await prepare({ ...opts, out: `${tmp}/w0`, workers: 0 });
    assert.equal(s.records, 12001);
    assert.equal(s.skipped.missing_field, 4800);
    assert.equal(s.duplicates.exact, 1200);
    const removed = Deno.readTextFileSync(`${tmp}/w0/${REMOVED_FILE}`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(removed[1000], {
      file: `${tmp}/in/b.jsonl`,
      record: 5003,
      kind: "exact",
      duplicateOf: { file: `${tmp}/in/a.jsonl`, record: 1001 },
    });
    for (const workers of [1, 3]) {
      const out = `${tmp}/w${workers}`;
      assert.deepEqual({ ...await prepare({ ...opts, out, workers }), seconds: 0 }, { ...s, seconds: 0 });
      const m = readManifest(out)!;
      for (const f of [...m.splits.train.files, ...m.splits.val.files, REMOVED_FILE, "manifest.json"]) {
        const x = await Deno.readFile(`${tmp}/w0/${f}`);
        const y = await Deno.readFile(`${out}/${f}`);
        // The manifest differs only in the run time.
        if (f === "manifest.json") {
          const strip = (u: Uint8Array) => new TextDecoder().decode(u).replace(/"seconds": [0-9.e-]+/, "");
          assert.equal(strip(x), strip(y));
        } else assert.deepEqual(x, y, f);
      }
    }
  });
});

Deno.test("prepare: the validation split holds out whole documents; together the splits hold each once", async () => {
  await withTemp(async (tmp, tokenizer) => {
    const out = `${tmp}/out`;
    const s = await prepare({
      tokenizer,
      inputs: [INPUTS],
      out,
      chunkSize: 40,
      valFraction: 0.4,
      workers: 1,
    });
    const train = readSplit(out, "train");
    const val = readSplit(out, "val");
    assert.ok(s.val.documents > 0 && s.train.documents > 0, `${s.train.documents} / ${s.val.documents}`);
    assert.equal(s.train.documents + s.val.documents, ALL_DOCS.length);
    const expected = ALL_DOCS.map((t) => [...byteIds(t), 2]);
    const key = (d: number[]) => d.join(",");
    assert.deepEqual([...train.docs, ...val.docs].map(key).sort(), expected.map(key).sort());
    // Each split keeps the input order: its documents are a subsequence of the input's.
    for (const split of [train, val]) {
      let at = -1;
      for (const d of split.docs) {
        at = expected.findIndex((e, i) => i > at && key(e) === key(d));
        assert.ok(at >= 0, "out of order");
      }
      assert.ok(split.tail.every((t) => t === 1));
    }
    // Identical texts always land in the same split (the split is a hash of the text).
    const trainKeys = new Set(train.docs.map(key));
    assert.ok(val.docs.every((d) => !trainKeys.has(key(d))));
    assert.equal(readManifest(out)!.splits.val.files.length, s.val.shards);
  });
});

Deno.test("prepare: exact and minhash dedup remove repeats and report each one", async () => {
  await withTemp(async (tmp, tokenizer) => {
    // docs.jsonl, docs.jsonl.gz and docs.jsonl.zst hold the same documents; doc.txt and the parquet
    // files repeat some of them too.
    const out = `${tmp}/exact`;
    const s = await prepare({
      tokenizer,
      inputs: [INPUTS],
      out,
      chunkSize: 4096,
      dedup: "exact",
      workers: 0,
    });
    const unique = new Map<string, string>();
    const norm = (t: string) =>
      t.toLowerCase().replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, "").replace(/\s+/g, " ").trim();
    for (const t of ALL_DOCS) if (!unique.has(norm(t))) unique.set(norm(t), t);
    assert.equal(s.duplicates.exact, ALL_DOCS.length - unique.size);
    assert.equal(s.duplicates.near, 0);
    assert.equal(s.train.documents, unique.size);
    assert.deepEqual(readSplit(out, "train").docs, [...unique.values()].map((t) => [...byteIds(t), 2]));
    const removed = Deno.readTextFileSync(`${out}/${REMOVED_FILE}`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(removed.length, s.duplicates.exact);
    const first = removed.find((r) => r.file.endsWith("docs.jsonl.gz") && r.record === 1);
    assert.deepEqual(first, {
      file: `${INPUTS}/docs.jsonl.gz`,
      record: 1,
      kind: "exact",
      duplicateOf: { file: `${INPUTS}/code.parquet`, record: 1 },
    });
    const m = await prepare({
      tokenizer,
      inputs: [INPUTS],
      out: `${tmp}/minhash`,
      chunkSize: 4096,
      dedup: "minhash",
      workers: 0,
    });
    assert.ok(m.duplicates.exact + m.duplicates.near >= s.duplicates.exact);
  });
});

Deno.test("prepare: bad input fails with one line naming the problem and leaves nothing in --out", async () => {
  await withTemp(async (tmp, tokenizer) => {
    const gz = await Deno.readFile(`${INPUTS}/docs.jsonl.gz`);
    await Deno.mkdir(`${tmp}/in`);
    await Deno.writeTextFile(`${tmp}/in/a.jsonl`, '{"text":"fine"}\n'.repeat(2000));
    await Deno.writeFile(`${tmp}/in/b.jsonl.gz`, gz.subarray(0, gz.length - 30));
    await Deno.writeTextFile(`${tmp}/blank.jsonl`, '\n\n{"text":" "}\n{"x":1}\n');
    await Deno.mkdir(`${tmp}/existing`);
    const fails = async (opts: Partial<PrepareOptions>, pattern: RegExp, out = `${tmp}/out`) => {
      await assert.rejects(
        () => prepare({ tokenizer, inputs: [`${tmp}/in`], out, chunkSize: 16, workers: 0, ...opts }),
        (e) => isUserError(e) && pattern.test((e as Error).message) && !(e as Error).message.includes("\n"),
        String(pattern),
      );
    };
    await fails({ workers: 2 }, /b\.jsonl\.gz: corrupt gzip data/);
    await fails({}, /b\.jsonl\.gz: corrupt gzip data/, `${tmp}/existing`);
    await fails(
      { inputs: [`${tmp}/blank.jsonl`] },
      /^empty corpus: no documents in .*: missing_field 1, empty 1, blank_line 2\)$/,
    );
    await fails({ inputs: [`${tmp}/nope`] }, /--input .*nope: no such file or directory/);
    await fails({ tokenizer: `${tmp}/none.model` }, /--tokenizer .*none\.model: no such file/);
    await fails({ tokenizer: `${tmp}/in/a.jsonl` }, /a\.jsonl: not a byte-tokenizer file/);
    await fails({ chunkSize: 0 }, /--chunk-size must be an integer from 1 to 134217728, got 0/);
    await fails({ valFraction: 1 }, /--val-fraction 1: must be at least 0 and below 1/);
    await fails({ dedup: "fuzzy" as "exact" }, /--dedup fuzzy: expected none, exact or minhash/);
    // Nothing was left behind: the new --out was removed, the existing one is still empty.
    assert.equal(await Deno.stat(`${tmp}/out`).catch(() => undefined), undefined);
    assert.deepEqual([...Deno.readDirSync(`${tmp}/existing`)], []);
    // A directory that already holds a dataset is refused.
    await prepare({
      tokenizer,
      inputs: [`${tmp}/in/a.jsonl`],
      out: `${tmp}/done`,
      chunkSize: 16,
      workers: 0,
    });
    await fails(
      { inputs: [`${tmp}/in/a.jsonl`] },
      /--out .*done: already holds a prepared dataset/,
      `${tmp}/done`,
    );
  });
});

Deno.test("prepare: a prepared directory trains through the sampler", async () => {
  await withTemp(async (tmp, tokenizer) => {
    const out = `${tmp}/out`;
    await prepare({ tokenizer, inputs: [INPUTS], out, chunkSize: 128, workers: 0 });
    const s = openDataset([{ dir: out, weight: 1 }], { seqLen: 8, seed: 0 });
    assert.equal(s.vocabSize, 259);
    const b = s.nextBatch(4);
    assert.ok(b.inputs.every((t) => t >= 2 && t < 259));
    s.close();
  });
});
