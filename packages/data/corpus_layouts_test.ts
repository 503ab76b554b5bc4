// SlimPajama and Starcoderdata in their published layouts (fixtures written by
// tests/fixtures/data/make_corpus_layouts.py): prepare's --exclude and --languages filters and their counts.
import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { readManifest } from "./manifest.ts";
import { formatPrepareSummary, prepareDataset, type PrepareOptions } from "./prepare.ts";
import { ShardReader } from "./shard_reader.ts";
import { BYTE_TOKENIZER_MODULE, writeByteTokenizer } from "./_test_tokenizer.ts";

const FIXTURES = new URL("../../tests/fixtures/data/", import.meta.url).pathname;
const EXPECTED: { slimpajama: Record<string, number>; starcoderdata: Record<string, number> } = JSON.parse(
  Deno.readTextFileSync(`${FIXTURES}corpus_layouts_expected.json`),
);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function prepareInTemp(opts: Omit<PrepareOptions, "tokenizer" | "out">) {
  const dir = await Deno.makeTempDir();
  try {
    const summary = await prepareDataset({
      tokenizer: await writeByteTokenizer(dir),
      out: `${dir}/out`,
      tokenizerModule: BYTE_TOKENIZER_MODULE,
      progress: false,
      workers: 1,
      ...opts,
    });
    const m = readManifest(`${dir}/out`)!;
    const r = ShardReader.open(m.splits.train.files.map((f) => `${dir}/out/${f}`));
    const tokens = new Int32Array(r.totalTokens);
    r.read(0, r.totalTokens, tokens);
    r.close();
    const text = new TextDecoder().decode(Uint8Array.from(tokens.filter((t) => t >= 3), (t) => t - 3));
    return { summary, text };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SlimPajama layout: --exclude meta.redpajama_set_name=RedPajamaGithub drops and counts GitHub", async () => {
  const all = sum(Object.values(EXPECTED.slimpajama));
  const github = EXPECTED.slimpajama.RedPajamaGithub;
  assert.ok(github > 0 && all > github);
  const rule = "meta.redpajama_set_name=RedPajamaGithub";
  const { summary, text } = await prepareInTemp({ inputs: [`${FIXTURES}slimpajama`], exclude: [rule] });
  assert.equal(summary.files, 4);
  assert.equal(summary.records, all);
  assert.deepEqual(summary.excluded, { [rule]: github });
  assert.equal(summary.documents, all - github);
  assert.equal(summary.train.documents, all - github);
  assert.ok(!text.includes("def f"), "GitHub documents (Python code) left in the shards");
  assert.match(formatPrepareSummary(summary), new RegExp(`excluded by ${rule}: ${github} records`));

  // Two rules, each counted on its own; without rules nothing is dropped.
  const two = await prepareInTemp({
    inputs: [`${FIXTURES}slimpajama`],
    exclude: [rule, "meta.redpajama_set_name=RedPajamaBook"],
  });
  assert.deepEqual(two.summary.excluded, {
    [rule]: github,
    "meta.redpajama_set_name=RedPajamaBook": EXPECTED.slimpajama.RedPajamaBook,
  });
  const none = await prepareInTemp({ inputs: [`${FIXTURES}slimpajama`] });
  assert.equal(none.summary.documents, all);
  assert.ok(none.text.includes("def f"));
});

Deno.test("Starcoderdata layout: --languages reads only those directories and counts per language", async () => {
  const { summary, text } = await prepareInTemp({
    inputs: [`${FIXTURES}starcoderdata`],
    languages: ["python", "java"],
  });
  const { python, java } = EXPECTED.starcoderdata;
  assert.equal(summary.files, 3);
  assert.equal(summary.documents, python + java);
  assert.deepEqual(
    Object.fromEntries(Object.entries(summary.languages!).map(([l, x]) => [l, [x.files, x.documents]])),
    { python: [2, python], java: [1, java] },
  );
  assert.equal(sum(Object.values(summary.languages!).map((x) => x.tokens)), summary.train.tokens);
  assert.ok(text.includes("def f") && text.includes("class C") && !text.includes("# Title"));
  assert.match(formatPrepareSummary(summary), new RegExp(`language python: 2 files, ${python} documents`));
});

Deno.test("corpus filters: bad rules and absent languages are one-line errors", async () => {
  for (
    const [opts, msg] of [
      [
        { inputs: [`${FIXTURES}starcoderdata`], languages: ["python", "rust"] },
        /--languages rust: no input file/,
      ],
      [{ inputs: [`${FIXTURES}slimpajama`], exclude: ["meta.redpajama_set_name"] }, /expected FIELD=VALUE/],
      [{ inputs: [`${FIXTURES}slimpajama`], exclude: ["meta..x=1"] }, /expected FIELD=VALUE/],
    ] as [Omit<PrepareOptions, "tokenizer" | "out">, RegExp][]
  ) {
    await assert.rejects(
      prepareInTemp(opts),
      (e: unknown) => isUserError(e) && msg.test((e as Error).message),
    );
  }
});
