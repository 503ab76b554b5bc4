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

/**
 * The result in a file of JSON lines (the scripts print one line per figure as it is measured, among
 * log lines): the objects merged in order, objects under the same key merged one level deep, so that a
 * run killed midway still yields what it measured.
 *
 * @example
 * ```ts
 * import { mergeJsonLines } from "./report.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, '{"matmul":{"n":8,"forward_tflops":1}}\nlog\n{"matmul":{"backward_dx_tflops":2}}\n');
 * console.log(await mergeJsonLines(path)); // { matmul: { n: 8, forward_tflops: 1, backward_dx_tflops: 2 } }
 * ```
 */
export async function mergeJsonLines(path: string): Promise<Json> {
  const merged: Json = {};
  let found = false;
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue; // a log line
    }
    if (!v || typeof v !== "object" || Array.isArray(v)) continue;
    found = true;
    for (const [key, value] of Object.entries(v as Json)) {
      const old = merged[key];
      const isObject = (x: unknown) => x !== null && typeof x === "object" && !Array.isArray(x);
      merged[key] = isObject(old) && isObject(value) ? { ...(old as Json), ...(value as Json) } : value;
    }
  }
  if (!found) throw new UserError(`${path}: no JSON result (the run failed; see its log)`);
  return merged;
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
    }${
      typeof ta.micro_batch === "number" && ga.micro_batch !== ta.micro_batch
        ? " (different micro-batches: PyTorch did not fit ours)"
        : ""
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
  const checks = Object.values(g("checks")) as Json[];
  const failed = checks.filter((c) => !c.ok).map((c) => String(c.name));
  const ar = g("adapter_report");
  const yesNo = (v: unknown) => (v === true ? "yes" : v === false ? "no" : "n/a");
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
    `Adapter features: subgroups ${yesNo(ar.subgroups)}, shader-f16 ${yesNo(ar.shader_f16)}. ` +
    `Correctness on the GPU (against the reference backend, outputs poisoned): ${
      checks.length === 0
        ? "not run"
        : failed.length === 0
        ? `all ${checks.length} checks passed`
        : `${failed.length} of ${checks.length} FAILED (${failed.join(", ")}; those ops are not timed)`
    }. Per WebGPU training step: ${ga.dispatches_per_step ?? "?"} dispatches, ${
      ga.submits_per_step ?? "?"
    } submits, ${ga.blocking_reads_per_step ?? "?"} blocking reads. PyTorch attention backend: ${
      t("attention").sdpa_backend ?? "n/a"
    }.`,
    "",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.main) {
  await runMain(async () => {
    const [gpuPath, torchPath] = Deno.args;
    if (!gpuPath || !torchPath) throw new UserError("usage: report.ts WEBGPU.json TORCH.json");
    const torch = await mergeJsonLines(torchPath).catch((e) => ({ error: String(e.message ?? e) }));
    console.log(renderResults(await mergeJsonLines(gpuPath), torch, new Date().toISOString().slice(0, 10)));
  });
}
