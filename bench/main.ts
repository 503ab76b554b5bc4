/**
 * `deno task bench`: every benchmark of the project, each beside its peer in the same run on the same
 * machine, reported as ratios.
 *
 * - CPU (WASM core): matmul GFLOP/s at 1024³ and training tokens/s for the two CPU configs, beside
 *   PyTorch (`bench/torch_peer.py`, when a Python with torch is found) on the same two threads.
 * - Tokenizer: encode throughput beside llama-tokenizer-js (Llama 2) and Hugging Face tokenizers
 *   (byte-level BPE, when a Python with `tokenizers` is found).
 * - Data: `prepare` throughput (MB/s of raw text).
 * - MPI: allreduce GB/s beside the same MPI from C, and 2-rank training tokens/s beside one process
 *   (`bench/mpi_bench.ts`, which prints its own lines).
 * - 1b: TinyLlama-1.1B on the CPU (bf16 weights): prefill and decode tokens/s and peak RSS beside
 *   transformers in float32 and bfloat16 on the same two threads (`one_b_bench.ts`; the peers need the
 *   Python with torch, which this passes on as `TINYLLAMA_BENCH_PYTHON`).
 *
 * Each part runs as its own subprocess with its own permissions and prints one JSON object as its last
 * stdout line. The whole set runs `--rounds` times (default 3), ours and the peer back to back in each
 * round, and the ratios ours ÷ peer are reported per round with their min, median and max: runners are
 * noisy, ratios measured side by side are not. Flags: `--json FILE` writes the combined result (what
 * `bench/guard.ts` compares with the previous run); `--only cpu,tokenizer,data,mpi` picks parts; `--python
 * PATH` names the Python with torch (default: `$TINYLLAMA_BENCH_PYTHON`, then `python3`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runMain, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import { PRESETS } from "@tinyllama-ts/model";
import { type BenchRound, formatRatios, summarizeRatios } from "./ratios.ts";

type Json = Record<string, unknown>;

interface Part {
  name: string;
  script: string;
  permissions: string[];
  args?: string[];
}

const here = new URL(".", import.meta.url).pathname;

const PARTS: Part[] = [
  { name: "cpu", script: "cpu_bench.ts", permissions: ["--allow-read", "--allow-env"] },
  {
    name: "tokenizer",
    script: "tokenizer_bench.ts",
    permissions: ["--allow-read", "--allow-write", "--allow-run", "--allow-env"],
    args: ["--json"],
  },
  { name: "data", script: "data_bench.ts", permissions: ["--allow-read", "--allow-write"] },
  {
    name: "mpi",
    script: "mpi_bench.ts",
    permissions: ["--allow-read", "--allow-write", "--allow-run", "--allow-env"],
  },
  {
    name: "1b",
    script: "one_b_bench.ts",
    permissions: ["--allow-read", "--allow-write", "--allow-run", "--allow-env"],
  },
];

/** The two configs of the CPU speed issue: GQA 8/2, d 256, 6 layers, FFN 688, seq 256, micro-batch 8. */
export const CPU_TRAIN_CONFIGS = ["tiny-6l-4k", "tiny-6l-32k"].map((name) => ({
  ...PRESETS[name],
  micro_batch: 8,
  seq_len: 256,
}));

async function runJson(cmd: string, args: string[]): Promise<Json> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new UserError(`${args.at(-1) ?? cmd} failed with exit code ${out.code}`);
  // A part prints one JSON object: either alone (possibly pretty-printed) or as its last line.
  for (const candidate of [text, text.split("\n").at(-1) ?? ""]) {
    try {
      return JSON.parse(candidate) as Json;
    } catch {
      // try the next form
    }
  }
  throw new UserError(`${args.at(-1) ?? cmd}: its stdout does not end in a JSON object`);
}

async function findTorchPython(explicit?: string): Promise<string | null> {
  const candidates = [explicit, Deno.env.get("TINYLLAMA_BENCH_PYTHON"), "python3"].filter(
    (c): c is string => !!c,
  );
  for (const py of candidates) {
    try {
      const r = await new Deno.Command(py, { args: ["-c", "import torch, transformers"], stderr: "null" })
        .output();
      if (r.success) return py;
    } catch {
      // not installed: try the next one
    }
  }
  return null;
}

function ratio(ours: unknown, theirs: unknown): number | null {
  return typeof ours === "number" && typeof theirs === "number" && theirs > 0 ? ours / theirs : null;
}

function fmt(x: unknown, digits = 1): string {
  return typeof x === "number" ? x.toFixed(digits) : "-";
}

await runMain(async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "string" },
      only: { type: "string" },
      python: { type: "string" },
      rounds: { type: "string", default: "3" },
    },
    strict: true,
  });
  const rounds = Number(values.rounds);
  if (!/^\d+$/.test(values.rounds) || !Number.isSafeInteger(rounds) || rounds < 1 || rounds > 100) {
    throw new UserError(`--rounds must be an integer from 1 to 100, got "${values.rounds}"`);
  }
  const only = values.only ? new Set(values.only.split(",")) : null;
  for (const name of only ?? []) {
    if (!PARTS.some((p) => p.name === name)) throw new UserError(`--only: unknown part "${name}"`);
  }
  const py = !only || only.has("cpu") || only.has("1b") ? await findTorchPython(values.python) : null;
  if ((!only || only.has("cpu")) && py === null) {
    console.log("PyTorch not found (set TINYLLAMA_BENCH_PYTHON): the CPU numbers below are ours alone.");
  }
  const results: BenchRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} of ${rounds}`);
    const result: BenchRound = {};
    for (const part of PARTS) {
      if (only && !only.has(part.name)) continue;
      console.error(`bench: ${part.name} (round ${round}) ...`);
      result[part.name] = await runJson(Deno.execPath(), [
        "run",
        "--quiet",
        ...part.permissions,
        `${here}${part.script}`,
        ...(part.args ?? []),
        ...(part.name === "1b" && py !== null ? ["--python", py] : []),
      ]);
      if (part.name === "cpu" && py !== null) {
        // The peer runs right after ours, in the same round, so that both see the same machine.
        console.error(`bench: PyTorch peer (${py}, round ${round}) ...`);
        result.torch = await runJson(py, [
          `${here}torch_peer.py`,
          "--threads",
          "2",
          "--configs",
          JSON.stringify(CPU_TRAIN_CONFIGS),
        ]);
      }
    }
    if (result.cpu) printCpuTable(result.cpu as Json, (result.torch ?? null) as Json | null);
    if (result.tokenizer) printTokenizer(result.tokenizer as Json);
    if (result.data) printData(result.data as Json);
    if (result["1b"]) printOneB(result["1b"] as Json);
    results.push(result);
  }
  const ratios = summarizeRatios(results);
  console.log(formatRatios(ratios));
  const result: Json = {
    date: new Date().toISOString(),
    cores: navigator.hardwareConcurrency,
    rounds: results,
    ratios,
  };

  if (values.json) {
    await writeFileAtomic(values.json, new TextEncoder().encode(JSON.stringify(result, null, 2) + "\n"));
  }
  console.log(JSON.stringify(result));
});

function printCpuTable(ours: Json | undefined, torch: Json | null): void {
  if (!ours) return;
  const rows: string[][] = [["measure", "ours", "PyTorch", "ratio"]];
  rows.push([
    `matmul ${ours.matmul_n ?? 1024}³ GFLOP/s`,
    fmt(ours.matmul_gflops),
    fmt(torch?.matmul_gflops),
    fmt(ratio(ours.matmul_gflops, torch?.matmul_gflops), 2),
  ]);
  const ourTrain = (ours.train ?? {}) as Record<string, Json>;
  const theirTrain = (torch?.train ?? {}) as Record<string, Json>;
  for (const [name, o] of Object.entries(ourTrain)) {
    const t = theirTrain[name];
    rows.push([
      `train ${name} tok/s`,
      fmt(o.tokens_per_sec, 0),
      fmt(t?.tokens_per_sec, 0),
      fmt(ratio(o.tokens_per_sec, t?.tokens_per_sec), 2),
    ]);
    rows.push([`train ${name} peak RSS MB`, fmt(o.peak_rss_mb, 0), fmt(t?.peak_rss_mb, 0), "-"]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
}

function printTokenizer(t: Json): void {
  const encode = (t.encode ?? []) as Json[];
  const ours = encode.find((e) => String(e.name).trim() === "ours tokenizer.model, cold cache");
  const theirs = encode.find((e) => String(e.name).trim().startsWith("llama-tokenizer-js"));
  console.log(
    `tokenizer encode (Llama 2, one core): ours ${fmt(Number(ours?.tokens_per_second) / 1e6, 2)}M tok/s ` +
      `(${fmt(ours?.megabytes_per_second)} MB/s), llama-tokenizer-js ` +
      `${fmt(Number(theirs?.tokens_per_second) / 1e6, 2)}M tok/s, ratio ` +
      `${fmt(ratio(ours?.tokens_per_second, theirs?.tokens_per_second))}x`,
  );
  for (const b of (t.byte_level_vs_hf_tokenizers ?? []) as Json[]) {
    const rounds = (b.rounds ?? []) as Json[];
    console.log(
      `tokenizer encode (byte-level ${b.tokenizer}, ${b.text}, one core) ours/HF tokenizers per round: ` +
        `${
          rounds.map((r) => fmt(r.ratio, 2) + "x").join(", ")
        }; texts with different ids: ${b.mismatched_documents}`,
    );
  }
}

function printOneB(r: Json): void {
  const ours = (r.ours ?? {}) as Json;
  for (const dtype of ["float32", "bfloat16"]) {
    const t = (r[`torch_${dtype}`] ?? {}) as Json;
    console.log(
      `1b vs transformers ${dtype}: prefill ${fmt(ours.prefill_tokens_per_sec)} / ${
        fmt(t.prefill_tokens_per_sec)
      } tok/s, decode ${fmt(ours.decode_tokens_per_sec, 2)} / ${fmt(t.decode_tokens_per_sec, 2)} tok/s, ` +
        `peak RSS ${fmt(ours.peak_rss_mb, 0)} / ${fmt(t.peak_rss_mb, 0)} MB`,
    );
  }
}

function printData(d: Json): void {
  for (const r of (d.results ?? []) as Json[]) {
    console.log(`prepare (${r.tokenizer}, ${r.workers} worker(s)): ${fmt(r.mb_per_s, 2)} MB/s of text`);
  }
}
