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
import type { Backend, BackendInfo } from "@tinyllama-ts/backend";
import {
  headSize,
  Model,
  type ModelConfig,
  paramSpecs,
  parseConfig,
  type WeightDType,
} from "@tinyllama-ts/model";
import { type FloatDType, openSafetensors, writeSafetensorsCheckpoint } from "./safetensors.ts";
import { openGgufCheckpoint } from "./gguf.ts";

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

/**
 * Parameters of a config, from its sizes alone (no list of tensors is built, so an absurd config costs
 * nothing to measure): embedding and head `V·C` each, per layer two norms `C`, `q`/`o` `C·C`, `k`/`v`
 * `C·kvDim`, the MLP `3·I·C`, and the final norm.
 *
 * @example
 * ```ts
 * import { parameterCount } from "@tinyllama-ts/checkpoint";
 * import { PRESETS } from "@tinyllama-ts/model";
 * console.log(parameterCount(PRESETS["tinyllama-1.1b"])); // 1100048384
 * ```
 */
export function parameterCount(c: ModelConfig): number {
  const C = c.n_embd, kvDim = c.n_query_groups * headSize(c), I = c.intermediate_size;
  const layer = 2 * C + 2 * C * C + 2 * kvDim * C + 3 * I * C;
  return 2 * c.vocab_size * C + c.n_layer * layer + C;
}

/** The number of tensors of a config's checkpoint (an untied head included). */
export function tensorCount(c: ModelConfig): number {
  return 9 * c.n_layer + 3;
}

/**
 * The most parameters any model may have here, whatever the backend: 2^34 (16 billion, fifteen times
 * TinyLlama). A sanity bound on sizes read from files, for backends whose total memory is not known.
 */
export const MAX_PARAMETERS = 2 ** 34;

/**
 * Checks, before anything is allocated, that `config`'s parameters fit `info`'s backend: the largest
 * tensor (embedding or head) within `info.maxTensorElements`; where one memory holds every tensor
 * (`info.memoryBytes`: wasm32's 4 GiB), the whole parameter group at `weightBytes` a parameter too;
 * anywhere, at most {@link MAX_PARAMETERS}. A
 * {@link UserError} naming `source` and the sizes otherwise: a config of 10⁹ layers is refused in
 * microseconds instead of running the allocator out of memory.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { checkConfigFits } from "@tinyllama-ts/checkpoint";
 * import { PRESETS } from "@tinyllama-ts/model";
 * checkConfigFits(PRESETS["micro-4l-4k"], new ReferenceBackend().info, "micro-4l-4k");
 * ```
 */
export function checkConfigFits(
  config: ModelConfig,
  info: BackendInfo,
  source: string,
  weightBytes: 2 | 4 = 4,
): void {
  const largest = Math.max(
    config.vocab_size * config.n_embd,
    config.intermediate_size * config.n_embd,
    config.n_embd * config.n_embd,
  );
  const total = parameterCount(config);
  // Where one memory holds every tensor, the parameter group must fit it (bf16: twice the parameters).
  const fitting = (bytes: number) =>
    info.memoryBytes === null
      ? MAX_PARAMETERS
      : Math.min(Math.floor(info.memoryBytes / bytes), MAX_PARAMETERS);
  const maxTotal = fitting(weightBytes);
  let need: string | undefined, limit = 0;
  if (largest > info.maxTensorElements) {
    [need, limit] = [`a tensor of ${sci(largest)} elements`, info.maxTensorElements];
  } else if (total > maxTotal) [need, limit] = [`${sci(total)} parameters`, maxTotal];
  if (need !== undefined) {
    throw new UserError(
      `${source}: the model (vocab_size ${config.vocab_size}, n_embd ${config.n_embd}, n_layer ${config.n_layer}, ` +
        `intermediate_size ${config.intermediate_size}) needs ${need}; the ${info.name} backend holds at most ` +
        sci(limit) +
        (weightBytes === 4 && total <= fitting(2)
          ? " (bf16 weights would fit: --weights bf16 to evaluate or generate)"
          : ""),
    );
  }
}

function sci(n: number): string {
  return n.toExponential(3);
}

/**
 * Refuses to save parameters that are not all finite: a diverged run's weights are worth nothing and
 * would overwrite a good checkpoint. One reduction over the whole group on the backend; only when it
 * is not finite are the tensors read back to name the first bad one (a sum of squares can overflow on
 * finite values: then nothing is refused).
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { checkFiniteParams } from "@tinyllama-ts/checkpoint";
 * import { Model, resolveConfig } from "@tinyllama-ts/model";
 * const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"));
 * model.init(1);
 * await checkFiniteParams(model); // fine
 * ```
 */
export async function checkFiniteParams(model: Model): Promise<void> {
  const be = model.backend;
  // The f32 parameters in one reduction on the device; bf16 ones (inference weights) are read back.
  const f32 = model.params.filter((p) => p.dtype === "f32");
  let total = 0;
  if (f32.length > 0) {
    const sum = be.alloc(1);
    try {
      be.sumSquares(sum, f32);
      total = (await be.read(sum))[0];
    } finally {
      be.free(sum);
    }
  }
  if (Number.isFinite(total) && f32.length === model.params.length) return;
  for (let i = 0; i < model.params.length; i++) {
    if (Number.isFinite(total) && model.params[i].dtype === "f32") continue;
    const data = await model.readParam(i);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new UserError(
        `not saving: parameter "${model.names[i]}" holds ${data[bad]} at element ${bad} (the run diverged; ` +
          `resume from an earlier checkpoint with a lower --lr)`,
      );
    }
  }
}

/** What {@link loadHfCheckpoint} returns. */
export interface LoadedCheckpoint {
  model: Model;
  config: ModelConfig;
  extras: HfExtras;
  /** `tokenizer.model` or `tokenizer.json` in the directory (that order), or null. */
  tokenizerPath: string | null;
}

/**
 * An open checkpoint whose parameters are read one at a time (so converting a 1B model never holds it
 * whole): what {@link openHfCheckpoint} returns.
 */
export interface CheckpointReader {
  config: ModelConfig;
  extras: HfExtras;
  /** The tokenizer file that goes with the checkpoint, or null. */
  tokenizerPath: string | null;
  /** Whether every matrix is stored as BF16 (then bf16 weights hold the file exactly). */
  bf16Matrices: boolean;
  /** The parameter of that (Hugging Face) name as f32, shape checked; a tied head reads the embedding. */
  read(name: string): Promise<Float32Array>;
  /** The parameter's BF16 bits as stored, or null where it is not stored as BF16. */
  readBf16(name: string): Promise<Uint16Array | null>;
  close(): void;
}

/**
 * Opens `dir/config.json` and its safetensors for reading parameter by parameter. Every tensor the
 * config implies must be present with that shape and an F32/BF16/F16 dtype; an extra tensor is an
 * error (old `rotary_emb.inv_freq` buffers excepted). All of that is checked here, from the headers
 * alone, before a single tensor is read. Errors are {@link UserError}s naming the file and tensor. A
 * path ending in `.gguf` is opened by `openGgufCheckpoint` instead.
 *
 * @example
 * ```ts
 * import { openHfCheckpoint } from "@tinyllama-ts/checkpoint";
 * const ckpt = await openHfCheckpoint("tests/fixtures/model/gqa_a");
 * const embedding = await ckpt.read("model.embed_tokens.weight");
 * ckpt.close();
 * console.log(embedding.length === ckpt.config.vocab_size * ckpt.config.n_embd); // true
 * ```
 */
export async function openHfCheckpoint(dir: string): Promise<CheckpointReader> {
  // A GGUF file stands wherever a checkpoint directory does (its tokenizer is inside it).
  if (/\.gguf$/i.test(dir)) return await openGgufCheckpoint(dir);
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
  // Parameter name → the stored tensor that holds it (a tied head reads the embedding).
  const source = new Map<string, string>();
  try {
    // The config against the tensors, sizes only: the count first (a config of 10⁹ layers never lists
    // its tensors), then every name and shape.
    const stored = st.names().filter((n) => !n.endsWith("rotary_emb.inv_freq"));
    const tied = extras.tiedEmbeddings && !st.has("lm_head.weight");
    const want = tensorCount(config) - (tied ? 1 : 0);
    // A difference of up to a layer's worth is reported tensor by tensor below (which one is missing or
    // extra); a larger one means the config does not describe these files at all.
    if (Math.abs(stored.length - want) > 9) {
      throw new UserError(
        `${configPath}: num_hidden_layers ${config.n_layer} implies ${want} tensors, the safetensors hold ` +
          `${stored.length}`,
      );
    }
    const specs = paramSpecs(config);
    const expected = new Set(specs.map((s) => s.name));
    for (const n of stored) {
      if (!expected.has(n)) {
        throw new UserError(`${st.info(n).file}: unexpected tensor "${n}" (not part of a Llama model)`);
      }
    }
    for (const { name: paramName, shape } of specs) {
      const tensorName = paramName === "lm_head.weight" && tied ? "model.embed_tokens.weight" : paramName;
      if (!st.has(tensorName)) throw new UserError(`${dir}: missing tensor "${tensorName}"`);
      const info = st.info(tensorName);
      if (info.shape.length !== shape.length || info.shape.some((d, k) => d !== shape[k])) {
        throw new UserError(
          `${info.file}: tensor "${tensorName}" has shape [${info.shape}], ${configPath} implies [${shape}]`,
        );
      }
      source.set(paramName, tensorName);
    }
  } catch (e) {
    st.close();
    throw e;
  }
  let tokenizerPath: string | null = null;
  for (const f of ["tokenizer.model", "tokenizer.json"]) {
    if (await exists(`${dir}/${f}`)) {
      tokenizerPath = `${dir}/${f}`;
      break;
    }
  }
  const matrices = st.names().filter((n) => st.info(n).shape.length === 2);
  const tensorOf = (paramName: string): string => {
    const tensorName = source.get(paramName);
    if (tensorName === undefined) throw new Error(`${paramName} is not a parameter of a Llama model`);
    return tensorName;
  };
  return {
    config,
    extras,
    tokenizerPath,
    bf16Matrices: matrices.length > 0 && matrices.every((n) => st.info(n).dtype === "BF16"),
    read: async (paramName) => await st.read(tensorOf(paramName)),
    async readBf16(paramName) {
      const tensorName = tensorOf(paramName);
      return st.info(tensorName).dtype === "BF16" ? bf16Bits(await st.readRaw(tensorName)) : null;
    },
    close: () => st.close(),
  };
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
 * Reads a checkpoint ({@link openHfCheckpoint}: `dir/config.json` and its safetensors, or a `.gguf`
 * file) into a new {@link Model} on `backend`. The config is checked against the tensors and against
 * what the backend can hold at the chosen weight width ({@link checkConfigFits}) before anything is
 * allocated. BF16 tensors go into bf16 parameters as their bits, unconverted. Errors are
 * {@link UserError}s naming the file and tensor.
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
  const ckpt = await openHfCheckpoint(dir);
  try {
    let weightDtype = opts.weightDtype ?? "f32";
    if (weightDtype === "auto") weightDtype = ckpt.bf16Matrices ? "bf16" : "f32";
    const source = /\.gguf$/i.test(dir) ? dir : `${dir}/config.json`;
    checkConfigFits(ckpt.config, backend.info, source, weightDtype === "bf16" ? 2 : 4);
    const model = new Model(backend, ckpt.config, { weightDtype });
    try {
      for (let i = 0; i < model.names.length; i++) {
        const bits = weightDtype === "bf16" ? await ckpt.readBf16(model.names[i]) : null;
        model.writeParam(i, bits ?? await ckpt.read(model.names[i]));
      }
    } catch (e) {
      model.destroy();
      throw e;
    }
    return { model, config: ckpt.config, extras: ckpt.extras, tokenizerPath: ckpt.tokenizerPath };
  } finally {
    ckpt.close();
  }
}

/** A BF16 tensor's raw little-endian bytes as its 16-bit patterns. */
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
 * tokenizer files. Parameters that are not all finite are refused before anything is written
 * ({@link checkFiniteParams}). Every file is written atomically and the output depends only on the model and the
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
  await checkFiniteParams(model);
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
