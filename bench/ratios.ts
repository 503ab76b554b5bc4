/**
 * The ratios a benchmark run is judged by: each is ours ÷ the peer's, measured side by side in one round
 * (higher is better for us), summarised over the rounds of a run as min, median and max. `bench/main.ts`
 * reports them and `bench/guard.ts` compares them with the previous run's.
 *
 * @module
 */

/** One round's parts, by part name (`cpu`, `torch`, `tokenizer`, `data`, …), as each part printed them. */
export type BenchRound = Record<string, unknown>;

/** A ratio over the rounds of one run. */
export interface RatioSummary {
  /** One value per round that measured it. */
  rounds: number[];
  min: number;
  median: number;
  max: number;
}

type Json = Record<string, unknown>;

function ratio(ours: unknown, theirs: unknown): number | null {
  return typeof ours === "number" && typeof theirs === "number" && ours > 0 && theirs > 0
    ? ours / theirs
    : null;
}

/**
 * The named ratios of one round: `cpu.matmul` and `cpu.train.<config>` (ours ÷ PyTorch on the same
 * threads), `tokenizer.encode` (ours ÷ llama-tokenizer-js, one core), `tokenizer.byte_level.<name>.<text>`
 * (ours ÷ Hugging Face tokenizers, one thread). A part that did not run, or a peer
 * that was missing, gives no ratio.
 *
 * @example
 * ```ts
 * import { roundRatios } from "./ratios.ts";
 * const r = roundRatios({ cpu: { matmul_gflops: 100 }, torch: { matmul_gflops: 200 } });
 * console.log(r["cpu.matmul"]); // 0.5
 * ```
 */
export function roundRatios(round: BenchRound): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (name: string, value: number | null) => {
    if (value !== null) out[name] = value;
  };
  const cpu = round.cpu as Json | undefined, torch = round.torch as Json | undefined;
  if (cpu && torch) {
    put("cpu.matmul", ratio(cpu.matmul_gflops, torch.matmul_gflops));
    const theirs = (torch.train ?? {}) as Record<string, Json>;
    for (const [name, o] of Object.entries((cpu.train ?? {}) as Record<string, Json>)) {
      put(`cpu.train.${name}`, ratio(o.tokens_per_sec, theirs[name]?.tokens_per_sec));
    }
  }
  const oneB = round["1b"] as Json | undefined;
  if (oneB) {
    const ours = (oneB.ours ?? {}) as Json;
    for (const dtype of ["float32", "bfloat16"]) {
      const t = oneB[`torch_${dtype}`] as Json | undefined;
      if (!t) continue;
      put(`1b.prefill.${dtype}`, ratio(ours.prefill_tokens_per_sec, t.prefill_tokens_per_sec));
      put(`1b.decode.${dtype}`, ratio(ours.decode_tokens_per_sec, t.decode_tokens_per_sec));
      // Memory as theirs ÷ ours, so that above 1 is better here too.
      put(`1b.memory.${dtype}`, ratio(t.peak_rss_mb, ours.peak_rss_mb));
    }
  }
  const tok = round.tokenizer as Json | undefined;
  if (tok) {
    const encode = (tok.encode ?? []) as Json[];
    const ours = encode.find((e) => String(e.name).trim() === "ours tokenizer.model, cold cache");
    const theirs = encode.find((e) => String(e.name).trim().startsWith("llama-tokenizer-js"));
    put("tokenizer.encode", ratio(ours?.tokens_per_second, theirs?.tokens_per_second));
    // Byte-level BPE beside HF tokenizers: the part pairs them itself, round by round; its median counts.
    for (const b of (tok.byte_level_vs_hf_tokenizers ?? []) as Json[]) {
      const inner = ((b.rounds ?? []) as Json[]).map((r) => r.ratio).filter((r) => typeof r === "number");
      if (inner.length > 0) put(`tokenizer.byte_level.${b.tokenizer}.${b.text}`, median(inner as number[]));
    }
  }
  // MPI: allreduce GB/s ours ÷ the same MPI from C, per family and size; 2 ranks ÷ 1 process tokens/s.
  const mpi = round.mpi as Json | undefined;
  if (mpi && !mpi.skipped) {
    for (const [family, sizes] of Object.entries((mpi.allreduce ?? {}) as Record<string, Json>)) {
      for (const [size, r] of Object.entries(sizes as Record<string, Json>)) {
        const inner = ((r.ratios ?? []) as unknown[]).filter((x): x is number => typeof x === "number");
        if (inner.length > 0) put(`mpi.allreduce.${family}.${size}`, median(inner));
      }
    }
    const train = (mpi.train ?? {}) as Json;
    for (const key of ["ratio_vs_1x1", "ratio_vs_1x2"]) {
      const inner = ((train[key] ?? []) as unknown[]).filter((x): x is number => typeof x === "number");
      if (inner.length > 0) put(`mpi.train.${key.slice("ratio_vs_".length)}`, median(inner));
    }
  }
  return out;
}

/** The median of non-empty `xs` (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Every ratio of a run, over its rounds.
 *
 * @example
 * ```ts
 * import { summarizeRatios } from "./ratios.ts";
 * const rounds = [1, 2, 3].map((r) => ({ cpu: { matmul_gflops: r }, torch: { matmul_gflops: 2 } }));
 * console.log(summarizeRatios(rounds)["cpu.matmul"].median); // 1
 * ```
 */
export function summarizeRatios(rounds: readonly BenchRound[]): Record<string, RatioSummary> {
  const values = new Map<string, number[]>();
  for (const round of rounds) {
    for (const [name, value] of Object.entries(roundRatios(round))) {
      values.set(name, [...(values.get(name) ?? []), value]);
    }
  }
  const out: Record<string, RatioSummary> = {};
  for (const [name, xs] of [...values].sort(([a], [b]) => a.localeCompare(b))) {
    out[name] = { rounds: xs, min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
  }
  return out;
}

/** A table of ratios (ours ÷ peer; min, median, max over the rounds). */
export function formatRatios(ratios: Record<string, RatioSummary>): string {
  const rows = [["ratio (ours ÷ peer)", "rounds", "min", "median", "max"]];
  for (const [name, r] of Object.entries(ratios)) {
    rows.push([name, String(r.rounds.length), r.min.toFixed(3), r.median.toFixed(3), r.max.toFixed(3)]);
  }
  if (rows.length === 1) return "no ratios: no part ran beside its peer";
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}
