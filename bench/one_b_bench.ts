/**
 * `deno task bench` part `1b`: TinyLlama-1.1B at its real size on the CPU. A random model of the
 * `tinyllama-1.1b` preset is saved once as a sharded BF16 Hugging Face checkpoint (`--checkpoint`,
 * default `runs/bench-1b`); then, each in its own process so that each peak RSS is its own, our WASM
 * backend (bf16 weights, two threads) and transformers (`bench/one_b_peer.py`, float32 and bfloat16, two
 * threads) load it, prefill a 512-token prompt and decode 128 tokens greedily with the KV cache.
 * Prints one JSON object: `{ours, torch_float32, torch_bfloat16}`, each with prefill and decode
 * tokens/s and peak RSS in MB.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run --allow-env bench/one_b_bench.ts [--checkpoint DIR] \
 *   [--prompt 512] [--new-tokens 128] [--threads 2] [--python PATH]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { exists, runMain, UserError } from "@tinyllama-ts/cli";
import { WasmBackend } from "@tinyllama-ts/backend-wasm";
import { loadHfCheckpoint, saveHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { Model, PRESETS } from "@tinyllama-ts/model";
import { uniform } from "@tinyllama-ts/random";

type Json = Record<string, unknown>;
const here = new URL(".", import.meta.url).pathname;

/** Peak resident set of this process (`VmHWM`), in MB. */
function peakRssMb(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to the current resident set
  }
  return Deno.memoryUsage().rss / 2 ** 20;
}

/** The random 1.1B model as a BF16 checkpoint, made once (its config.json is written last). */
async function makeCheckpoint(dir: string, threads: number): Promise<void> {
  if (await exists(`${dir}/config.json`)) return;
  const be = await WasmBackend.create({ threads });
  try {
    const model = new Model(be, PRESETS["tinyllama-1.1b"], { weightDtype: "bf16" });
    model.init(1234);
    await saveHfCheckpoint(model, dir, { dtype: "bfloat16", maxShardBytes: 1e9 });
  } finally {
    be.destroy();
  }
}

/** The prompt: `n` ids drawn from the vocabulary (BOS first), the same for both sides. */
function promptIds(n: number): number[] {
  return [1, ...Array.from({ length: n - 1 }, (_, i) => 3 + Math.floor(uniform(7, 0, i) * 31997))];
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Ours, in this process: load, prefill, decode. */
async function measure(dir: string, prompt: number[], newTokens: number, threads: number): Promise<Json> {
  const be = await WasmBackend.create({ threads });
  try {
    let t0 = performance.now();
    const { model } = await loadHfCheckpoint(dir, be, { weightDtype: "auto" });
    const load = (performance.now() - t0) / 1e3;
    const cache = model.createCache(1, prompt.length + newTokens);
    t0 = performance.now();
    let logits = await model.forwardCached(Int32Array.from(prompt), cache);
    const prefill = (performance.now() - t0) / 1e3;
    const ids: number[] = [];
    t0 = performance.now();
    for (let i = 0; i < newTokens; i++) {
      ids.push(argmax(logits));
      logits = await model.forwardCached(Int32Array.of(ids[i]), cache);
    }
    const decode = (performance.now() - t0) / 1e3;
    return {
      weights: model.weightDtype,
      threads,
      load_seconds: load,
      prefill_tokens_per_sec: prompt.length / prefill,
      decode_tokens_per_sec: newTokens / decode,
      peak_rss_mb: peakRssMb(),
      greedy_ids: ids,
    };
  } finally {
    be.destroy();
  }
}

async function runJson(cmd: string, args: string[]): Promise<Json> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new UserError(`${cmd} ${args[0]} failed with exit code ${out.code}`);
  return JSON.parse(text.split("\n").at(-1) ?? "") as Json;
}

await runMain(async () => {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      checkpoint: { type: "string", default: "runs/bench-1b" },
      prompt: { type: "string", default: "512" },
      "new-tokens": { type: "string", default: "128" },
      threads: { type: "string", default: "2" },
      python: { type: "string" },
      measure: { type: "boolean", default: false },
    },
  });
  const [n, newTokens, threads] = [values.prompt, values["new-tokens"], values.threads].map(Number);
  if (![n, newTokens, threads].every((x) => Number.isSafeInteger(x) && x > 0)) {
    throw new UserError("--prompt, --new-tokens and --threads must be positive integers");
  }
  const prompt = promptIds(n);
  const dir = values.checkpoint;
  if (values.measure) {
    console.log(JSON.stringify(await measure(dir, prompt, newTokens, threads)));
    return;
  }
  await makeCheckpoint(dir, threads);
  const result: Json = {};
  console.error("bench 1b: ours (wasm, bf16 weights) ...");
  result.ours = await runJson(Deno.execPath(), [
    "run",
    "--quiet",
    "--allow-read",
    "--allow-env",
    `${here}one_b_bench.ts`,
    "--measure",
    "--checkpoint",
    dir,
    "--prompt",
    String(n),
    "--new-tokens",
    String(newTokens),
    "--threads",
    String(threads),
  ]);
  const py = values.python ?? Deno.env.get("TINYLLAMA_BENCH_PYTHON") ?? "python3";
  for (const dtype of ["float32", "bfloat16"]) {
    console.error(`bench 1b: transformers ${dtype} (${py}) ...`);
    try {
      result[`torch_${dtype}`] = await runJson(py, [
        `${here}one_b_peer.py`,
        "--checkpoint",
        dir,
        "--dtype",
        dtype,
        "--threads",
        String(threads),
        "--prompt-ids",
        prompt.join(","),
        "--new-tokens",
        String(newTokens),
      ]);
    } catch (e) {
      console.error(`bench 1b: the ${dtype} peer failed (${(e as Error).message})`);
    }
  }
  console.log(JSON.stringify(result));
});
