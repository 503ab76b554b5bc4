/**
 * Prepare throughput: MB/s of raw text through `prepareDataset` (read, tokenize, pack, write) on the
 * built-in corpus, with one worker and with one per core. Prints one JSON object on one line.
 *
 * ```sh
 * deno run --allow-read --allow-write bench/data_bench.ts [--tokenizer PATH] [--corpus DIR]
 * ```
 *
 * Without `--tokenizer` it uses the tokenizer package's fixture model. A byte-level tokenizer run
 * shows what the pipeline costs without real tokenization.
 * @module
 */
import { parseArgs } from "node:util";
import { materializeBuiltinCorpus, prepareDataset, type PrepareSummary } from "@tinyllama-ts/data";
import { BYTE_TOKENIZER_MODULE, writeByteTokenizer } from "../packages/data/_test_tokenizer.ts";

const { values } = parseArgs({
  args: Deno.args,
  strict: true,
  options: {
    tokenizer: { type: "string" },
    corpus: { type: "string", default: "runs/builtin-corpus" },
    repeats: { type: "string", default: "1" },
  },
});
const root = new URL("../", import.meta.url).pathname;
const fixtures = `${root}tests/fixtures/tokenizer`;
const tokenizer = values.tokenizer ??
  [`${fixtures}/tiny.model`, `${fixtures}/spm_bpe_bytefallback.model`].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
if (tokenizer === undefined) throw new Error("no tokenizer model: pass --tokenizer PATH");

const corpus = await materializeBuiltinCorpus(values.corpus);
const tmp = await Deno.makeTempDir();
const byteTokenizer = await writeByteTokenizer(tmp);
const cores = navigator.hardwareConcurrency;

async function run(label: string, tok: string, module: string | undefined, workers: number) {
  let best: PrepareSummary | undefined;
  for (let r = 0; r < Number(values.repeats); r++) {
    const out = `${tmp}/${label}-${workers}-${r}`;
    const s = await prepareDataset({
      tokenizer: tok,
      tokenizerModule: module,
      inputs: [corpus.natural, corpus.code],
      out,
      workers,
      progress: false,
    });
    await Deno.remove(out, { recursive: true });
    if (best === undefined || s.seconds < best.seconds) best = s;
  }
  return {
    tokenizer: label,
    workers,
    mb_text: +(best!.textBytes / 1e6).toFixed(2),
    seconds: +best!.seconds.toFixed(3),
    mb_per_s: +(best!.textBytes / 1e6 / best!.seconds).toFixed(2),
    tokens: best!.train.tokens + best!.val.tokens,
    tokens_per_s: Math.round((best!.train.tokens + best!.val.tokens) / best!.seconds),
  };
}

try {
  const results = [];
  for (const workers of [1, cores]) {
    results.push(await run(tokenizer.split("/").pop()!, tokenizer, undefined, workers));
  }
  for (const workers of [1, cores]) {
    results.push(await run("bytes", byteTokenizer, BYTE_TOKENIZER_MODULE, workers));
  }
  // One line: `deno task bench` reads the last stdout line as JSON.
  console.log(JSON.stringify({
    bench: "data.prepare",
    corpus: "built-in (SOTU + code)",
    cores,
    deno: Deno.version.deno,
    results,
  }));
} finally {
  await Deno.remove(tmp, { recursive: true });
}
