/**
 * Hugging Face Llama checkpoints in and out: `config.json` ⇄ {@link ModelConfig}, and a directory of
 * `config.json` + safetensors (single or sharded) ⇄ a {@link Model}, with a `tokenizer.model` or
 * `tokenizer.json` beside them picked up and copied along.
 *
 * Tied embeddings (`tie_word_embeddings: true`, no `lm_head.weight`): the model keeps an untied head,
 * so loading copies `model.embed_tokens.weight` into `lm_head.weight`. Evaluation and generation are
 * then exactly the tied model's; training unties them, and a saved checkpoint is always untied
 * (`tie_word_embeddings: false`, both tensors written).
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { loadHfCheckpoint, saveHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * const { model } = await loadHfCheckpoint("tests/fixtures/model/gqa_a", new ReferenceBackend());
 * await saveHfCheckpoint(model, await Deno.makeTempDir(), { dtype: "bfloat16" });
 * ```
 * @module
 */
import { exists, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import type { Backend } from "@tinyllama-ts/backend";
import { headSize, Model, type ModelConfig, parseConfig, type WeightDType } from "@tinyllama-ts/model";
import { type FloatDType, openSafetensors, writeSafetensorsCheckpoint } from "./safetensors.ts";

/** Everything of a `config.json` that is not in {@link ModelConfig} but a checkpoint keeps. */
export interface HfExtras {
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** The checkpoint ties the head to the embedding (loading copied it). */
  tiedEmbeddings: boolean;
  /** `torch_dtype`/`dtype` of the file, if stated. */
  dtype: string | null;
}

/** Files of a tokenizer that travel with a checkpoint, if present. */
export const TOKENIZER_FILES: readonly string[] = [
  "tokenizer.model",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
];

/**
 * Converts a parsed `config.json` of a `LlamaForCausalLM` into a {@link ModelConfig}; anything this
 * implementation cannot run (another architecture, biases, rope scaling, another activation) is a
 * {@link UserError} naming the key. `rope_theta` is read from the top level or from transformers 5's
 * `rope_parameters.rope_theta`.
 *
 * @example
 * ```ts
 * import { configFromHf } from "@tinyllama-ts/checkpoint";
 * const json = JSON.parse(await Deno.readTextFile("tests/fixtures/model/gqa_b/config.json"));
 * console.log(configFromHf(json, "config.json", "gqa_b").config.rope_base); // 500
 * ```
 */
export function configFromHf(
  json: unknown,
  source = "config.json",
  name = "hf",
): { config: ModelConfig; extras: HfExtras } {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new UserError(`${source}: not a JSON object`);
  }
  const j = json as Record<string, unknown>;
  const archs = j.architectures;
  if (j.model_type !== undefined && j.model_type !== "llama") {
    throw new UserError(`${source}: key "model_type": expected "llama", got ${JSON.stringify(j.model_type)}`);
  }
  if (archs !== undefined && !(Array.isArray(archs) && archs.includes("LlamaForCausalLM"))) {
    throw new UserError(
      `${source}: key "architectures": expected ["LlamaForCausalLM"], got ${JSON.stringify(archs)}`,
    );
  }
  if (j.model_type === undefined && archs === undefined) {
    throw new UserError(`${source}: neither "model_type" nor "architectures" says this is a Llama model`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (v === undefined) throw new UserError(`${source}: missing key "${key}"`);
    if (!Number.isSafeInteger(v) || (v as number) <= 0) {
      throw new UserError(`${source}: key "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  const expect = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (j[key] !== undefined && j[key] !== null && !ok(j[key])) {
      throw new UserError(
        `${source}: key "${key}": only ${what} is supported, got ${JSON.stringify(j[key])}`,
      );
    }
  };
  expect("hidden_act", (v) => v === "silu", `"silu"`);
  expect("attention_bias", (v) => v === false, "false");
  expect("mlp_bias", (v) => v === false, "false");
  expect("pretraining_tp", (v) => v === 1, "1");
  expect("rope_scaling", () => false, "null");
  const ropeParams = j.rope_parameters as Record<string, unknown> | undefined | null;
  if (ropeParams !== undefined && ropeParams !== null) {
    if (typeof ropeParams !== "object") {
      throw new UserError(`${source}: key "rope_parameters" must be an object`);
    }
    const type = ropeParams.rope_type ?? "default";
    if (type !== "default") {
      throw new UserError(
        `${source}: key "rope_parameters.rope_type": only "default" is supported, got "${type}"`,
      );
    }
  }
  const ropeTheta = j.rope_theta ?? ropeParams?.rope_theta ?? 10000;
  if (typeof ropeTheta !== "number" || !(ropeTheta > 0)) {
    throw new UserError(
      `${source}: key "rope_theta" must be a positive number, got ${JSON.stringify(ropeTheta)}`,
    );
  }
  const eps = j.rms_norm_eps ?? 1e-6;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new UserError(
      `${source}: key "rms_norm_eps" must be a positive number, got ${JSON.stringify(eps)}`,
    );
  }
  const nHead = int("num_attention_heads");
  const config = parseConfig({
    name,
    vocab_size: int("vocab_size"),
    n_embd: int("hidden_size"),
    n_layer: int("num_hidden_layers"),
    n_head: nHead,
    n_query_groups: int("num_key_value_heads", nHead),
    intermediate_size: int("intermediate_size"),
    block_size: int("max_position_embeddings"),
    norm_eps: eps,
    rope_base: ropeTheta,
  }, source);
  if (j.head_dim !== undefined && j.head_dim !== null && j.head_dim !== headSize(config)) {
    throw new UserError(
      `${source}: key "head_dim" (${j.head_dim}) must equal hidden_size / num_attention_heads (${
        headSize(config)
      })`,
    );
  }
  const tokenId = (key: string): number | null => {
    const v = j[key];
    if (v === undefined || v === null) return null;
    if (!Number.isSafeInteger(v)) throw new UserError(`${source}: key "${key}" must be an integer`);
    return v as number;
  };
  const dtype = j.torch_dtype ?? j.dtype;
  return {
    config,
    extras: {
      bosTokenId: tokenId("bos_token_id"),
      eosTokenId: tokenId("eos_token_id"),
      tiedEmbeddings: j.tie_word_embeddings === true,
      dtype: typeof dtype === "string" ? dtype : null,
    },
  };
}

/** Stored dtypes of {@link saveHfCheckpoint}, by their torch names. */
export type HfDType = "float32" | "bfloat16" | "float16";

const SAFETENSORS_DTYPE: Record<HfDType, FloatDType> = { float32: "F32", bfloat16: "BF16", float16: "F16" };

/**
 * The `config.json` of a `LlamaForCausalLM` for `config`, as transformers writes it (keys sorted),
 * readable by transformers 4 (`rope_theta`, `torch_dtype`) and 5 (`rope_parameters`, `dtype`).
 *
 * @example
 * ```ts
 * import { configToHf } from "@tinyllama-ts/checkpoint";
 * import { PRESETS } from "@tinyllama-ts/model";
 * console.log(configToHf(PRESETS["tinyllama-1.1b"]).num_key_value_heads); // 4
 * ```
 */
export function configToHf(
  config: ModelConfig,
  opts: { dtype?: HfDType; bosTokenId?: number | null; eosTokenId?: number | null } = {},
): Record<string, unknown> {
  const dtype = opts.dtype ?? "float32";
  return {
    architectures: ["LlamaForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: opts.bosTokenId === undefined ? 1 : opts.bosTokenId,
    dtype,
    eos_token_id: opts.eosTokenId === undefined ? 2 : opts.eosTokenId,
    head_dim: headSize(config),
    hidden_act: "silu",
    hidden_size: config.n_embd,
    initializer_range: 0.02,
    intermediate_size: config.intermediate_size,
    max_position_embeddings: config.block_size,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: config.n_head,
    num_hidden_layers: config.n_layer,
    num_key_value_heads: config.n_query_groups,
    pretraining_tp: 1,
    rms_norm_eps: config.norm_eps,
    rope_parameters: { rope_theta: config.rope_base, rope_type: "default" },
    rope_scaling: null,
    rope_theta: config.rope_base,
    tie_word_embeddings: false,
    torch_dtype: dtype,
    use_cache: true,
    vocab_size: config.vocab_size,
  };
}

/** What {@link loadHfCheckpoint} returns. */
export interface LoadedCheckpoint {
  model: Model;
  config: ModelConfig;
  extras: HfExtras;
  /** `tokenizer.model` or `tokenizer.json` in the directory (that order), or null. */
  tokenizerPath: string | null;
}

/** Options of {@link loadHfCheckpoint}. */
export interface LoadOptions {
  /**
   * How the model holds its weights ({@link WeightDType}): `"f32"` (default; what training needs),
   * `"bf16"` (f32 or f16 tensors of the file are rounded to nearest even), or `"auto"`: bf16 when every
   * matrix of the file is stored BF16 (then nothing is rounded and the model is the file's exactly, at
   * half the memory), else f32.
   */
  weightDtype?: WeightDType | "auto";
}

/**
 * Reads `dir/config.json` and its safetensors into a new {@link Model} on `backend`. Every tensor the
 * config implies must be present with that shape and an F32/BF16/F16 dtype; an extra tensor is an
 * error (old `rotary_emb.inv_freq` buffers excepted). Errors are {@link UserError}s naming the file
 * and tensor. BF16 tensors go into bf16 parameters as their bits, unconverted.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * const { model, tokenizerPath } = await loadHfCheckpoint("tests/fixtures/model/gqa_a", new ReferenceBackend());
 * console.log(model.config.n_layer, tokenizerPath); // 2 "tests/fixtures/model/gqa_a/tokenizer.model"
 * ```
 */
export async function loadHfCheckpoint(
  dir: string,
  backend: Backend,
  opts: LoadOptions = {},
): Promise<LoadedCheckpoint> {
  const configPath = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(`${configPath}: not found (is ${dir} a checkpoint?)`);
    }
    throw new UserError(`${configPath}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${configPath}: not valid JSON (${(e as Error).message})`);
  }
  const name = dir.replace(/\/+$/, "").split("/").pop() || "hf";
  const { config, extras } = configFromHf(json, configPath, name);
  const st = await openSafetensors(dir);
  let weightDtype = opts.weightDtype ?? "f32";
  if (weightDtype === "auto") {
    const mats = st.names().filter((n) => st.info(n).shape.length === 2);
    weightDtype = mats.length > 0 && mats.every((n) => st.info(n).dtype === "BF16") ? "bf16" : "f32";
  }
  let model: Model;
  try {
    model = new Model(backend, config, { weightDtype });
  } catch (e) {
    st.close();
    if (e instanceof UserError && weightDtype === "f32" && /exceed/.test(e.message)) {
      throw new UserError(
        `${dir}: the f32 weights do not fit the ${backend.info.name} backend (${e.message}); ` +
          `hold them as bf16 (--weights bf16)`,
      );
    }
    throw e;
  }
  try {
    const expected = new Set(model.names);
    for (const n of st.names()) {
      if (!expected.has(n) && !n.endsWith("rotary_emb.inv_freq")) {
        throw new UserError(`${st.info(n).file}: unexpected tensor "${n}" (not part of a Llama model)`);
      }
    }
    for (let i = 0; i < model.names.length; i++) {
      const shape = model.shapes[i];
      let tensorName = model.names[i];
      if (tensorName === "lm_head.weight" && !st.has(tensorName) && extras.tiedEmbeddings) {
        tensorName = "model.embed_tokens.weight";
      }
      if (!st.has(tensorName)) throw new UserError(`${dir}: missing tensor "${tensorName}"`);
      const info = st.info(tensorName);
      if (info.shape.length !== shape.length || info.shape.some((d, k) => d !== shape[k])) {
        throw new UserError(
          `${info.file}: tensor "${tensorName}" has shape [${info.shape}], ${configPath} implies [${shape}]`,
        );
      }
      if (info.dtype === "BF16") model.writeParam(i, bf16Bits(await st.readRaw(tensorName)));
      else model.writeParam(i, await st.read(tensorName));
    }
  } catch (e) {
    model.destroy();
    throw e;
  } finally {
    st.close();
  }
  let tokenizerPath: string | null = null;
  for (const f of ["tokenizer.model", "tokenizer.json"]) {
    if (await exists(`${dir}/${f}`)) {
      tokenizerPath = `${dir}/${f}`;
      break;
    }
  }
  return { model, config, extras, tokenizerPath };
}

/** Little-endian BF16 bytes as bf16 bits (copied when the bytes are not 2-aligned). */
function bf16Bits(raw: Uint8Array): Uint16Array {
  if (raw.byteOffset % 2 !== 0) raw = raw.slice();
  return new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
}

/** Options of {@link saveHfCheckpoint}. */
export interface SaveOptions {
  /** Stored dtype (default float32). */
  dtype?: HfDType;
  /** `bos_token_id` / `eos_token_id` of config.json (default 1 and 2, Llama's). */
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  /** A directory whose tokenizer files ({@link TOKENIZER_FILES}) are copied along. */
  tokenizerFrom?: string;
  /** Shard past this many bytes (default 5 GB; see `writeSafetensorsCheckpoint`). */
  maxShardBytes?: number;
}

/**
 * Writes `model` into `dir` (created if needed) as transformers' `save_pretrained` would: the
 * safetensors (parameters read from the backend one at a time), then `config.json`, then any
 * tokenizer files. Every file is written atomically and the output depends only on the model and the
 * options, so `AutoModelForCausalLM.from_pretrained(dir)` loads it unchanged.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { saveHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * import { Model, resolveConfig } from "@tinyllama-ts/model";
 * const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"));
 * model.init(0);
 * await saveHfCheckpoint(model, await Deno.makeTempDir());
 * ```
 */
export async function saveHfCheckpoint(model: Model, dir: string, opts: SaveOptions = {}): Promise<string[]> {
  const dtype = opts.dtype ?? "float32";
  if (!(dtype in SAFETENSORS_DTYPE)) {
    throw new UserError(`unsupported dtype "${dtype}" (float32, bfloat16, float16)`);
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new UserError(`${dir}: cannot create (${(e as Error).message})`);
  }
  const tensors = model.names.map((name, i) => ({
    name,
    shape: model.shapes[i],
    data: () => model.readParam(i),
  }));
  const files = await writeSafetensorsCheckpoint(dir, tensors, {
    dtype: SAFETENSORS_DTYPE[dtype],
    maxShardBytes: opts.maxShardBytes,
  });
  const config = configToHf(model.config, {
    dtype,
    bosTokenId: opts.bosTokenId,
    eosTokenId: opts.eosTokenId,
  });
  await writeFileAtomic(
    `${dir}/config.json`,
    new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"),
  );
  files.push("config.json");
  if (opts.tokenizerFrom) {
    for (const f of TOKENIZER_FILES) {
      const src = `${opts.tokenizerFrom}/${f}`;
      if (!(await exists(src))) continue;
      await writeFileAtomic(`${dir}/${f}`, await Deno.readFile(src));
      files.push(f);
    }
  }
  return files;
}
