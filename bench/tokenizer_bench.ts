/**
 * Tokenizer benchmark: Llama 2 encode throughput of `@tinyllama-ts/tokenizer` beside
 * llama-tokenizer-js on the same few MB of mixed text, in one run on one core; plus load time and
 * training time. Every document's ids are compared between the two, so a fast wrong answer shows.
 *
 *     deno run --allow-read bench/tokenizer_bench.ts [--json] [--reps N] [--mb N] [--skip-train]
 *
 * The text: State of the Union addresses (natural language, as `deno task pretrain` uses), lodash's
 * source (code), and the 6022 varied texts of the exactness fixture (other scripts, emoji,
 * whitespace runs, control characters), each document encoded by one `encode` call, as data
 * preparation does. "cold" starts from a fresh tokenizer (empty chunk cache); "warm" encodes the
 * same text again.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BpeTokenizer } from "../packages/tokenizer/_bpe_tokenizer.ts";
import {
  llama2ModelBytes,
  llama2TokenizerJson,
  llamaTokenizerJs,
} from "../packages/tokenizer/_llama2_reference.ts";
import { codeSample, sotuAddresses } from "../packages/tokenizer/_sample_corpus.ts";
import { readGzipJson } from "../packages/tokenizer/_testing.ts";
import {
  parseHfTokenizerJson,
  parseSentencePieceModel,
  type Tokenizer,
  trainBpeTokenizer,
} from "@tinyllama-ts/tokenizer";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    reps: { type: "string", default: "3" },
    mb: { type: "string", default: "4" },
    "skip-train": { type: "boolean", default: false },
  },
  strict: true,
});
const reps = Number(values.reps);
const targetBytes = Number(values.mb) * 1e6;
const log = (s: string) => values.json ? undefined : console.log(s);

// ---- the text
const encoder = new TextEncoder();
const fixtureTexts = (await readGzipJson<{ texts: string[] }>("llama2_cases.json.gz")).texts;
const code = await codeSample();
const codeDocs: string[] = [];
const codeLines = code.split("\n");
for (let i = 0; i < codeLines.length; i += 200) codeDocs.push(codeLines.slice(i, i + 200).join("\n"));
const docs: string[] = [...codeDocs, ...fixtureTexts];
let bytes = docs.reduce((n, d) => n + encoder.encode(d).length, 0);
const addresses = (await sotuAddresses()).reverse();
for (const a of addresses) {
  if (bytes >= targetBytes) break;
  docs.push(a);
  bytes += encoder.encode(a).length;
}
// Interleave the kinds of text deterministically, as a shuffled dataset would present them.
docs.sort((a, b) => hash(a) - hash(b));
log(`text: ${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB`);

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i += 7) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

// ---- timing helpers
function encodeAll(tok: { encode(t: string): number[] }, texts = docs): { seconds: number; tokens: number } {
  const t0 = performance.now();
  let tokens = 0;
  for (const d of texts) tokens += tok.encode(d).length;
  return { seconds: (performance.now() - t0) / 1000, tokens };
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
interface Row {
  name: string;
  seconds: number;
  tokens: number;
  tokensPerSecond: number;
  mbPerSecond: number;
}
const rows: Row[] = [];
function record(name: string, runs: { seconds: number; tokens: number }[], textBytes = bytes): Row {
  const seconds = median(runs.map((r) => r.seconds));
  const row = {
    name,
    seconds,
    tokens: runs[0].tokens,
    tokensPerSecond: runs[0].tokens / seconds,
    mbPerSecond: textBytes / 1e6 / seconds,
  };
  rows.push(row);
  log(
    `${name.padEnd(44)} ${(row.tokensPerSecond / 1e6).toFixed(2).padStart(6)} M tok/s ${
      row.mbPerSecond.toFixed(2).padStart(6)
    } MB/s  (${seconds.toFixed(3)} s, median of ${runs.length})`,
  );
  return row;
}

// ---- loading
const modelBytes = llama2ModelBytes();
const jsonText = llama2TokenizerJson("legacy");
let t0 = performance.now();
const spTok = parseSentencePieceModel(modelBytes, "llama2.model") as BpeTokenizer;
const loadModelSeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
const jsonTok = parseHfTokenizerJson(jsonText, "llama2.json") as BpeTokenizer;
const loadJsonSeconds = (performance.now() - t0) / 1000;
log(`load: tokenizer.model ${loadModelSeconds.toFixed(3)} s, tokenizer.json ${loadJsonSeconds.toFixed(3)} s`);

// ---- encoding, side by side
const fresh = (base: BpeTokenizer, chunking = true) => new BpeTokenizer(base.spec, { chunking });
const ours: number[][] = [];
const cold = record(
  "ours tokenizer.model, cold cache",
  Array.from({ length: reps }, (_, rep) => {
    const tok = fresh(spTok);
    return encodeAll(rep === 0 ? { encode: (t) => ours[ours.push(tok.encode(t)) - 1] } : tok);
  }),
);
const warmTok: Tokenizer = fresh(spTok);
encodeAll(warmTok);
const warm = record(
  "ours tokenizer.model, warm cache",
  Array.from({ length: reps }, () => encodeAll(warmTok)),
);
record("ours tokenizer.json, cold cache", Array.from({ length: reps }, () => encodeAll(fresh(jsonTok))));
record(
  "ours, no chunk cache (BPE on every text)",
  Array.from({ length: reps }, () => encodeAll(fresh(spTok, false))),
);
// The peer is slow on long documents, so it runs once; its ids are checked against ours.
let mismatches = 0;
let docIndex = 0;
const peer = record("llama-tokenizer-js 1.2.2 (one run)", [encodeAll({
  encode: (t) => {
    const ids = llamaTokenizerJs.encode(t, false, true);
    const mine = ours[docIndex++];
    if (ids.length !== mine.length || ids.some((x, i) => x !== mine[i])) mismatches++;
    return ids;
  },
})]);
log(`documents whose ids differ from llama-tokenizer-js: ${mismatches} of ${docs.length}`);
const docMismatches = mismatches;
// The same text cut into lines of at most 300 characters: llama-tokenizer-js's best case (its cost
// grows faster than linearly with the length of a text), and what a chat or eval workload looks like.
const lines = docs.flatMap((d) => d.split("\n")).flatMap((l) => l.match(/[^]{1,300}/gu) ?? []);
const lineBytes = lines.reduce((n, l) => n + encoder.encode(l).length, 0);
log(`the same text as ${lines.length} lines of <= 300 characters (${(lineBytes / 1e6).toFixed(2)} MB):`);
const oursLines: number[][] = [];
const coldLines = record(
  "  ours tokenizer.model, cold cache",
  Array.from({ length: reps }, (_, rep) => {
    const tok = fresh(spTok);
    return encodeAll(
      rep === 0 ? { encode: (t) => oursLines[oursLines.push(tok.encode(t)) - 1] } : tok,
      lines,
    );
  }),
  lineBytes,
);
let lineIndex = 0;
const peerLines = record(
  "  llama-tokenizer-js 1.2.2 (one run)",
  [encodeAll({
    encode: (t) => {
      const ids = llamaTokenizerJs.encode(t, false, true);
      const mine = oursLines[lineIndex++];
      if (ids.length !== mine.length || ids.some((x, i) => x !== mine[i])) mismatches++;
      return ids;
    },
  }, lines)],
  lineBytes,
);
log(`  lines whose ids differ from llama-tokenizer-js: ${mismatches - docMismatches} of ${lines.length}`);
log(
  `speed-up over llama-tokenizer-js on lines: cold ${
    (coldLines.tokensPerSecond / peerLines.tokensPerSecond).toFixed(1)
  }x`,
);
log(
  `speed-up over llama-tokenizer-js: cold ${
    (cold.tokensPerSecond / peer.tokensPerSecond).toFixed(1)
  }x, warm ${(warm.tokensPerSecond / peer.tokensPerSecond).toFixed(1)}x`,
);

// ---- training
let train: { seconds: number; mb: number; vocabSize: number } | undefined;
if (!values["skip-train"]) {
  const texts: string[] = [];
  let n = 0;
  for (const a of addresses) {
    if (n >= 5e6) break;
    texts.push(a);
    n += encoder.encode(a).length;
  }
  t0 = performance.now();
  const tok = trainBpeTokenizer(texts, { vocabSize: 4096 });
  train = { seconds: (performance.now() - t0) / 1000, mb: n / 1e6, vocabSize: tok.vocabSize };
  log(`train: vocab ${train.vocabSize} on ${train.mb.toFixed(2)} MB in ${train.seconds.toFixed(2)} s`);
}

if (values.json) {
  console.log(JSON.stringify(
    {
      bench: "tokenizer",
      deno: Deno.version.deno,
      text: { documents: docs.length, megabytes: bytes / 1e6 },
      load_seconds: { tokenizer_model: loadModelSeconds, tokenizer_json: loadJsonSeconds },
      mismatches_vs_llama_tokenizer_js: { documents: docMismatches, lines: mismatches - docMismatches },
      encode: rows.map((r) => ({
        name: r.name,
        seconds: r.seconds,
        tokens: r.tokens,
        tokens_per_second: r.tokensPerSecond,
        megabytes_per_second: r.mbPerSecond,
      })),
      speedup_vs_llama_tokenizer_js: {
        documents_cold: cold.tokensPerSecond / peer.tokensPerSecond,
        documents_warm: warm.tokensPerSecond / peer.tokensPerSecond,
        lines_cold: coldLines.tokensPerSecond / peerLines.tokensPerSecond,
      },
      lines: lines.length,
      train,
    },
    null,
    2,
  ));
}
