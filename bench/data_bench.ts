/**
 * Prepare throughput: MB/s of raw text through `prepareDataset` (read, parse, tokenize, pack, write) on
 * the built-in corpus, with one worker and with one per core. Prints one JSON object on one line.
 *
 * ```sh
 * deno run --allow-read --allow-write bench/data_bench.ts [--tokenizer PATH] [--corpus DIR] [--repeats N]
 *   [--copies N]
 * ```
 *
 * Three tokenizers: the tokenizer package's fixture model (or `--tokenizer`); Llama 2's (32000 pieces,
 * rebuilt from llama-tokenizer-js's data), the realistic case; and a byte-level one, which shows what the
 * pipeline costs without real tokenization. Seconds are the whole `prepareDataset` call, so they include
 * starting the workers and loading the tokenizer in each (about 0.2 s for Llama 2's). Each worker also
 * starts with a cold tokenizer cache, which on a corpus this small costs about as much as the rest of
 * its tokenizing; `--copies N` lists the corpus N times so that these per-worker costs are spread over
 * more text (the copies then hit a warm cache, so that MB/s is above what new text would give).
 * @module
 */
import { parseArgs } from "node:util";
import { materializeBuiltinCorpus, prepareDataset, type PrepareSummary } from "@tinyllama-ts/data";
import { BYTE_TOKENIZER_MODULE, writeByteTokenizer } from "../packages/data/_test_tokenizer.ts";
import { llama2ModelBytes } from "../packages/tokenizer/_llama2_reference.ts";

const { values } = parseArgs({
  args: Deno.args,
  strict: true,
  options: {
    tokenizer: { type: "string" },
    corpus: { type: "string", default: "runs/builtin-corpus" },
    repeats: { type: "string", default: "1" },
    copies: { type: "string", default: "1" },
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
const llama2 = `${tmp}/llama2.model`;
await Deno.writeFile(llama2, llama2ModelBytes());
const cores = navigator.hardwareConcurrency;
const copies = Number(values.copies);
if (!Number.isSafeInteger(copies) || copies < 1) {
  throw new Error(`--copies ${values.copies}: expected N >= 1`);
}

async function run(label: string, tok: string, module: string | undefined, workers: number) {
  let best: PrepareSummary | undefined;
  for (let r = 0; r < Number(values.repeats); r++) {
    const out = `${tmp}/${label}-${workers}-${r}`;
    const s = await prepareDataset({
      tokenizer: tok,
      tokenizerModule: module,
      inputs: Array.from({ length: copies }, () => [corpus.natural, corpus.code]).flat(),
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
  for (const workers of [1, cores]) results.push(await run("llama2", llama2, undefined, workers));
  for (const workers of [1, cores]) {
    results.push(await run("bytes", byteTokenizer, BYTE_TOKENIZER_MODULE, workers));
  }
  // One line: `deno task bench` reads the last stdout line as JSON.
  console.log(JSON.stringify({
    bench: "data.prepare",
    corpus: copies === 1 ? "built-in (SOTU + code)" : `built-in (SOTU + code) x${copies}`,
    cores,
    deno: Deno.version.deno,
    results,
  }));
} finally {
  await Deno.remove(tmp, { recursive: true });
}
