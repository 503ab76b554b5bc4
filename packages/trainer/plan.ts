/**
 * `deno task pretrain … --plan`: the memory a run's tensors take (`memoryPlan` of the model package)
 * for its config, micro-batch, sequence length and recomputation, and with `--memory-gb N` the largest
 * micro-batch that fits N GB, with and without recomputation. Prints; trains nothing.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { maxMicroBatch, memoryPlan, resolveConfig } from "@tinyllama-ts/model";
import type { PretrainFlags } from "./flags.ts";
import { DEFAULT_HPARAMS } from "./hparams.ts";
import { DEFAULT_CONFIG } from "./train.ts";

/** The largest total the wasm backend holds: its 32-bit memory. */
const WASM32_BYTES = 2 ** 32;

/**
 * The plan's lines for a command line's flags.
 *
 * @example
 * ```ts
 * import { planLines } from "./plan.ts";
 * import { parsePretrainFlags } from "./flags.ts";
 * const flags = parsePretrainFlags(["--config", "tinyllama-1.1b", "--seq-len", "2048", "--plan", "--memory-gb", "80"]);
 * console.log((await planLines(flags)).join("\n"));
 * ```
 */
export async function planLines(flags: PretrainFlags): Promise<string[]> {
  if (flags.initFrom !== undefined || flags.resume !== undefined) {
    throw new UserError("--plan takes --config (a preset or a config file), not --init-from or --resume");
  }
  const config = await resolveConfig(flags.config ?? DEFAULT_CONFIG);
  const microBatch = flags.hparams.microBatchSize ?? DEFAULT_HPARAMS.microBatchSize;
  const seqLen = flags.hparams.seqLen ?? DEFAULT_HPARAMS.seqLen ?? config.block_size;
  const backend = flags.hparams.backend ?? DEFAULT_HPARAMS.backend;
  const recompute = flags.recompute ?? false;
  const plan = memoryPlan(config, { microBatch, seqLen, recompute });
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(3).padStart(9)} GB`;
  const lines = [
    `memory plan: ${config.name}, micro-batch ${microBatch} × seq ${seqLen}, backend ${backend}, ` +
    `recompute ${recompute ? "on" : "off"} (f32; bytes of the tensors the backend allocates)`,
  ];
  for (
    const k of ["parameters", "gradients", "moments", "activations", "logits", "workspace", "total"] as const
  ) {
    lines.push(`  ${k.padEnd(12)}${gb(plan[k])}`);
  }
  if (backend === "wasm" && plan.total > WASM32_BYTES) {
    lines.push(`  does not fit the wasm backend's 4 GiB memory (wasm32)`);
  }
  if (flags.memoryGb !== undefined) {
    const memoryBytes = flags.memoryGb * 1e9;
    for (const r of [false, true]) {
      const b = maxMicroBatch(config, { seqLen, memoryBytes, recompute: r });
      lines.push(
        `  in ${flags.memoryGb} GB at seq ${seqLen}${r ? " with --recompute" : ""}: ` +
          (b === 0 ? "not even micro-batch 1 fits" : `micro-batch ${b} fits`) +
          (b > 0
            ? ` (${(memoryPlan(config, { microBatch: b, seqLen, recompute: r }).total / 1e9).toFixed(1)} GB)`
            : ""),
      );
    }
  }
  return lines;
}
