/**
 * Prints the GPU benchmark's result as a Markdown section for `bench/RESULTS.md`: the WebGPU figures of
 * `bench.ts` beside PyTorch's of `torch_baseline.py`, with ratios and the matmul's share of the fp32
 * peak.
 *
 * Usage: deno run --allow-read bench/gpu/report.ts WEBGPU.json TORCH.json
 *
 * @module
 */
import { runMain, UserError } from "@tinyllama-ts/cli";
import { fp32PeakFlops } from "../../packages/trainer/mfu.ts";

type Json = Record<string, unknown>;

/** The last line of a file that parses as a JSON object (the scripts log above it). */
export async function lastJson(path: string): Promise<Json> {
  const lines = (await Deno.readTextFile(path)).trim().split("\n").reverse();
  for (const line of lines) {
    try {
      const v = JSON.parse(line);
      if (v && typeof v === "object") return v;
    } catch { /* a log line */ }
  }
  throw new UserError(`${path}: no JSON result (the run failed; see its log)`);
}

function num(v: unknown, digits: number): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "n/a";
}

function ratio(a: unknown, b: unknown): string {
  return typeof a === "number" && typeof b === "number" && b > 0 ? `${(a / b).toFixed(2)}×` : "n/a";
}

/** The Markdown section. */
export function renderResults(gpu: Json, torch: Json, date: string): string {
  const g = (k: string) => (gpu[k] ?? {}) as Json, t = (k: string) => (torch[k] ?? {}) as Json;
  const peak = fp32PeakFlops(String(gpu.adapter ?? "")) ?? fp32PeakFlops(String(torch.device ?? ""));
  const rows: string[] = [
    "| measure | WebGPU (WGSL) | PyTorch | WebGPU / PyTorch |",
    "| --- | --- | --- | --- |",
  ];
  for (const layout of ["forward", "backward_dx", "backward_dw"]) {
    const a = g("matmul")[`${layout}_tflops`], b = t("matmul")[`${layout}_tflops`];
    const share = peak && typeof a === "number" ? ` (${((a * 1e12 / peak) * 100).toFixed(0)}% of peak)` : "";
    rows.push(
      `| matmul ${g("matmul").n ?? "?"}³ ${layout}, TFLOP/s | ${num(a, 2)}${share} | ${num(b, 2)} | ${
        ratio(a, b)
      } |`,
    );
  }
  for (const pass of ["forward", "backward"]) {
    const a = g("attention")[`${pass}_ms`], b = t("attention")[`${pass}_ms`];
    rows.push(`| attention ${pass}, ms (lower is better) | ${num(a, 2)} | ${num(b, 2)} | ${ratio(a, b)} |`);
  }
  const ga = g("train"), ta = t("train");
  rows.push(
    `| ${ga.config ?? "?"} training step, tokens/s | ${num(ga.tokens_per_sec, 0)} (B ${
      ga.micro_batch ?? "?"
    }) | ${num(ta.tokens_per_sec, 0)} (B ${ta.micro_batch ?? "?"}) | ${
      ratio(ga.tokens_per_sec, ta.tokens_per_sec)
    } |`,
  );
  const gr = g("train_recompute");
  if (Object.keys(gr).length > 0) {
    rows.push(
      `| ${gr.config ?? "?"} training step with --recompute, tokens/s | ${num(gr.tokens_per_sec, 0)} (B ${
        gr.micro_batch ?? "?"
      }) | ${num(ta.tokens_per_sec, 0)} (B ${ta.micro_batch ?? "?"}, no recomputation) | ${
        ratio(gr.tokens_per_sec, ta.tokens_per_sec)
      } |`,
    );
  }
  const shape = g("attention").shape ? JSON.stringify(g("attention").shape) : "n/a";
  return [
    "## WebGPU (GPU)",
    "",
    `Measured ${date} with \`bench/gpu/run.sh\`${
      gpu.smoke ? " **in --smoke mode (tiny shapes; not a measurement)**" : ""
    }.`,
    `WebGPU adapter: ${gpu.adapter ?? "n/a"}; PyTorch ${torch.torch ?? "n/a"} on ${
      torch.device ?? torch.error ?? "n/a"
    } ` +
    `(fp32, TF32 off; attention: SDPA, ${t("attention").gqa ?? "n/a"}; train: ${
      ta.implementation ?? ta.error ?? "n/a"
    }).`,
    `Attention shape: ${shape}. Training: ${ga.config ?? "n/a"}, T ${
      ga.seq_len ?? "?"
    }, forward + backward + ` +
    "clipping + AdamW" +
    (typeof ga.mfu === "number" ? `; WebGPU MFU ${(ga.mfu * 100).toFixed(1)}% of the fp32 peak.` : "."),
    "",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  await runMain(async () => {
    const [gpuPath, torchPath] = Deno.args;
    if (!gpuPath || !torchPath) throw new UserError("usage: report.ts WEBGPU.json TORCH.json");
    const torch = await lastJson(torchPath).catch((e) => ({ error: String(e.message ?? e) }));
    console.log(renderResults(await lastJson(gpuPath), torch, new Date().toISOString().slice(0, 10)));
  });
}
