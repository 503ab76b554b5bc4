import assert from "node:assert/strict";
import type { DocumentItem } from "./read_documents.ts";
import { readManifest } from "./manifest.ts";
import { ShardReader } from "./shard_reader.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const INPUTS = `${ROOT}tests/fixtures/data/inputs`;
const CLI = new URL("./prepare_cli.ts", import.meta.url).pathname;

async function runCli(args: string[]) {
  // The permissions of the `prepare` task.
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", CLI, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const { code, stdout, stderr } = await cmd.output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

async function withTemp(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("prepare CLI: bad flags and paths exit 2 with one line and write nothing", async () => {
  await withTemp(async (tmp) => {
    const tok = `${tmp}/t.model`;
    await Deno.writeTextFile(tok, "x");
    const cases: [string[], RegExp][] = [
      [["--input", INPUTS, "--out", `${tmp}/o`], /^error: missing --tokenizer \(usage: /],
      [["--tokenizer", tok, "--input", INPUTS, "--out", `${tmp}/o`, "--bogus"], /^error: .*bogus/],
      [
        ["--tokenizer", tok, "--input", `${tmp}/missing.jsonl`, "--out", `${tmp}/o`],
        /^error: --input .*missing\.jsonl: no such file or directory$/,
      ],
      [
        ["--tokenizer", `${tmp}/none.model`, "--input", INPUTS, "--out", `${tmp}/o`],
        /^error: --tokenizer .*none\.model: no such file$/,
      ],
      [
        ["--tokenizer", tok, "--input", INPUTS, "--out", `${tmp}/o`, "--chunk-size", "4k"],
        /^error: --chunk-size must be an integer from 1 to 134217728, got "4k"$/,
      ],
      [
        ["--tokenizer", tok, "--input", INPUTS, "--out", `${tmp}/o`, "--dedup", "fuzzy"],
        /^error: --dedup fuzzy: expected none, exact or minhash$/,
      ],
      [
        ["--tokenizer", tok, "--input", INPUTS, "--out", `${tmp}/o`, "--val-fraction", "half"],
        /^error: --val-fraction must be a number ≥ 0 and < 1, got "half"$/,
      ],
      [
        ["--tokenizer", tok, "--input", INPUTS, "--out", `${tmp}/o`, "--workers", "0"],
        /^error: .*t\.model: /,
      ],
      [
        ["--tokenizer", tok, "--input", INPUTS, "--out", `${tmp}/o`, "--exclude", "meta.redpajama_set_name"],
        /^error: --exclude meta\.redpajama_set_name: expected FIELD=VALUE/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], pattern);
      assert.equal(await Deno.stat(`${tmp}/o`).catch(() => undefined), undefined, "nothing written");
    }
  });
});

Deno.test("prepare CLI end to end with the real tokenizer: shards hold SentencePiece's ids plus EOS", async () => {
  const sp = JSON.parse(await Deno.readTextFile(`${ROOT}tests/fixtures/data/sentencepiece_ids.json`));
  const model = `${ROOT}${sp.model}`;
  const expectedItems: Record<string, DocumentItem[]> = JSON.parse(
    await Deno.readTextFile(`${ROOT}tests/fixtures/data/expected_documents.json`),
  );
  const order = [
    "code.parquet",
    "docs.jsonl",
    "docs.jsonl.gz",
    "nested/doc.txt",
    "nested/docs.jsonl.zst",
    "nested/text_zstd.parquet",
  ];
  const docs = order.flatMap((f) => expectedItems[f]).flatMap((i) => "text" in i ? [i.text] : []);
  const jsonlTexts = expectedItems["docs.jsonl"].flatMap((i) => "text" in i ? [i.text] : []);
  const spIds = new Map<string, number[]>(jsonlTexts.map((t, i) => [t, sp.ids[i]]));

  const { loadTokenizer } = await import("@tinyllama-ts/tokenizer");
  const tok = await loadTokenizer(model);
  await withTemp(async (tmp) => {
    const out = `${tmp}/out`;
    const r = await runCli([
      "--tokenizer",
      model,
      "--input",
      INPUTS,
      "--out",
      out,
      "--chunk-size",
      "256",
      "--workers",
      "2",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /documents read: 41 of \d+ records/);
    assert.match(r.stderr, /skipped: \d+ \(missing_field \d+, invalid_json 3, empty \d+, blank_line 3\)/);
    assert.match(r.stderr, /tokens written: \d+ in \d+ shards/);
    const m = readManifest(out)!;
    const reader = ShardReader.open(m.splits.train.files.map((f) => `${out}/${f}`));
    const stream = new Int32Array(reader.totalTokens);
    reader.read(0, reader.totalTokens, stream);
    reader.close();
    const expected = docs.flatMap((t) => [...tok.encode(t, { bos: false, eos: false }), tok.eosId]);
    assert.deepEqual([...stream.subarray(0, expected.length)], expected);
    assert.ok(stream.subarray(expected.length).every((t) => t === tok.bosId));
    assert.equal(m.splits.train.tokens, expected.length);
    assert.equal(m.tokenizer.vocabSize, tok.vocabSize);
    // Independent reference: SentencePiece's own ids for the same model.
    const fromSp = docs.flatMap((t) => [...spIds.get(t)!, sp.eos]);
    assert.deepEqual(expected, fromSp);
    assert.equal(m.tokenizer.bosId, sp.bos);
    assert.equal(m.tokenizer.vocabSize, sp.vocab_size);
  });
});

Deno.test("prepare CLI on SlimPajama and Starcoderdata layouts: --exclude and --languages counts in the summary", async () => {
  const expected = JSON.parse(
    await Deno.readTextFile(`${ROOT}tests/fixtures/data/corpus_layouts_expected.json`),
  );
  const model = `${ROOT}tests/fixtures/data/spm_llama_like.model`;
  await withTemp(async (tmp) => {
    const slim = await runCli([
      "--tokenizer",
      model,
      "--input",
      `${ROOT}tests/fixtures/data/slimpajama`,
      "--out",
      `${tmp}/slim`,
      "--exclude",
      "meta.redpajama_set_name=RedPajamaGithub",
      "--workers",
      "1",
    ]);
    assert.equal(slim.code, 0, slim.stderr);
    const github = expected.slimpajama.RedPajamaGithub;
    assert.match(
      slim.stderr,
      new RegExp(`^excluded by meta\\.redpajama_set_name=RedPajamaGithub: ${github} records$`, "m"),
    );
    const code = await runCli([
      "--tokenizer",
      model,
      "--input",
      `${ROOT}tests/fixtures/data/starcoderdata`,
      "--out",
      `${tmp}/code`,
      "--languages",
      "python,java",
      "--workers",
      "1",
    ]);
    assert.equal(code.code, 0, code.stderr);
    assert.match(
      code.stderr,
      new RegExp(`^language python: 2 files, ${expected.starcoderdata.python} documents, `, "m"),
    );
    assert.match(
      code.stderr,
      new RegExp(`^language java: 1 files, ${expected.starcoderdata.java} documents, `, "m"),
    );
    assert.equal(
      readManifest(`${tmp}/code`)!.summary.documents,
      expected.starcoderdata.python + expected.starcoderdata.java,
    );
  });
});
