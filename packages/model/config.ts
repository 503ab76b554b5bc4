/**
 * Model configurations with lit-gpt's key names, validated with zod, and the named presets.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "@tinyllama-ts/model";
 * const cfg = await resolveConfig("tinyllama-1.1b");
 * console.log(cfg.n_layer); // 22
 * ```
 * @module
 */
import { z } from "zod";
import { UserError } from "@tinyllama-ts/cli";

/** A validated model configuration: lit-gpt's key names for a Llama 2 decoder. */
export interface ModelConfig {
  /** Name of the configuration (a preset name or a free label). */
  name: string;
  vocab_size: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** Key/value heads (grouped-query attention); `n_head` means multi-head attention. */
  n_query_groups: number;
  intermediate_size: number;
  /** Context length. */
  block_size: number;
  norm_eps: number;
  rope_base: number;
}

const positiveInt = z.number().int().positive();

/**
 * The schema: a Llama 2 decoder, no biases, untied embeddings. Unknown keys are rejected; `norm_eps`
 * and `rope_base` default to lit-gpt's values (`name` is defaulted by {@link parseConfig}).
 */
export const ModelConfigSchema: z.ZodType<ModelConfig> = z.strictObject({
  /** Name of the configuration (a preset name or a free label). */
  name: z.string().min(1),
  vocab_size: positiveInt,
  n_embd: positiveInt,
  n_layer: positiveInt,
  n_head: positiveInt,
  /** Key/value heads (grouped-query attention); `n_head` means multi-head attention. */
  n_query_groups: positiveInt,
  intermediate_size: positiveInt,
  /** Context length. */
  block_size: positiveInt,
  /** lit-gpt's default, 1e-5 (Llama 2's and TinyLlama's). */
  norm_eps: z.number().positive().default(1e-5),
  /** lit-gpt's default, 10000. */
  rope_base: z.number().positive().default(10000),
}).superRefine((c, ctx) => {
  if (c.n_embd % c.n_head !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["n_embd"],
      message: `n_embd (${c.n_embd}) is not divisible by n_head (${c.n_head})`,
    });
  } else if ((c.n_embd / c.n_head) % 2 !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["n_embd"],
      message: `head size n_embd/n_head (${c.n_embd / c.n_head}) must be even for RoPE`,
    });
  }
  if (c.n_head % c.n_query_groups !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["n_query_groups"],
      message: `n_head (${c.n_head}) is not divisible by n_query_groups (${c.n_query_groups})`,
    });
  }
});

/** Head size, `n_embd / n_head`. */
export function headSize(c: ModelConfig): number {
  return c.n_embd / c.n_head;
}

/**
 * The named presets. `tinyllama-1.1b` is TinyLlama's published architecture; the others are small
 * configurations for a laptop CPU (the `-4k` ones pair with a 4096-piece tokenizer, since at these widths
 * a 32000-piece head would dominate the compute).
 */
export const PRESETS: Readonly<Record<string, ModelConfig>> = Object.freeze({
  "tinyllama-1.1b": {
    name: "tinyllama-1.1b",
    vocab_size: 32000,
    n_embd: 2048,
    n_layer: 22,
    n_head: 32,
    n_query_groups: 4,
    intermediate_size: 5632,
    block_size: 2048,
    norm_eps: 1e-5,
    rope_base: 10000,
  },
  // The CPU benchmark shape of the speed issue: GQA 8/2, d 256, 6 layers, FFN 688.
  "tiny-6l-4k": {
    name: "tiny-6l-4k",
    vocab_size: 4096,
    n_embd: 256,
    n_layer: 6,
    n_head: 8,
    n_query_groups: 2,
    intermediate_size: 688,
    block_size: 256,
    norm_eps: 1e-5,
    rope_base: 10000,
  },
  "tiny-6l-32k": {
    name: "tiny-6l-32k",
    vocab_size: 32000,
    n_embd: 256,
    n_layer: 6,
    n_head: 8,
    n_query_groups: 2,
    intermediate_size: 688,
    block_size: 256,
    norm_eps: 1e-5,
    rope_base: 10000,
  },
  // Small enough to train in minutes on two cores: the default of `deno task pretrain`.
  "micro-4l-4k": {
    name: "micro-4l-4k",
    vocab_size: 4096,
    n_embd: 128,
    n_layer: 4,
    n_head: 4,
    n_query_groups: 2,
    intermediate_size: 344,
    block_size: 128,
    norm_eps: 1e-5,
    rope_base: 10000,
  },
});

/**
 * Validates a plain object as a config; the error names the first offending key. `source` (a file
 * name or "preset") prefixes the message, and a config without `name` is named after it (a file's name
 * without `.json`), as lit-gpt's `Config` defaults `name`, `norm_eps` and `rope_base`.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@tinyllama-ts/model";
 * const c = parseConfig({
 *   vocab_size: 96, n_embd: 32, n_layer: 2, n_head: 4, n_query_groups: 2, intermediate_size: 48, block_size: 16,
 * }, "configs/tiny.json");
 * console.log(c.name, c.norm_eps, c.rope_base); // tiny 0.00001 10000
 * ```
 */
export function parseConfig(value: unknown, source = "config"): ModelConfig {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && !("name" in value)) {
    value = { name: source.replace(/^.*\//, "").replace(/\.json$/, "") || "config", ...value };
  }
  const r = ModelConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue.path.length > 0 ? issue.path.join(".") : undefined;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  }
  throw new UserError(`${source}: ${key ? `key "${key}": ` : ""}${message}`);
}

/**
 * A preset name or a path to a JSON file with a config (`name`, `norm_eps` and `rope_base` may be left
 * out: see {@link parseConfig}), validated. Errors (unknown preset, missing
 * file, not JSON, invalid keys) are one-line {@link UserError}s.
 */
export async function resolveConfig(presetOrPath: string): Promise<ModelConfig> {
  const preset = PRESETS[presetOrPath];
  if (preset) return { ...preset };
  const looksLikePath = presetOrPath.includes("/") || presetOrPath.endsWith(".json");
  if (!looksLikePath) {
    throw new UserError(
      `unknown config "${presetOrPath}": expected a preset (${
        Object.keys(PRESETS).join(", ")
      }) or a JSON file`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(presetOrPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${presetOrPath}: config file not found`);
    throw new UserError(`${presetOrPath}: cannot read config (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${presetOrPath}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(json, presetOrPath);
}
