/**
 * A Llama as llama.cpp stores it in GGUF: architecture `llama`, its hyperparameters under `llama.*`,
 * tensors under llama.cpp's names (`token_embd`, `blk.N.attn_q`, ...), and the rows of every `attn_q`
 * and `attn_k` permuted as llama.cpp's Hugging Face converter permutes them: within each head, HF's
 * rotate-half layout (first half of the rotary pairs, then the second) becomes interleaved pairs, the
 * layout of llama.cpp's rope. {@link saveGguf} writes that; {@link openGgufCheckpoint} reads it back
 * (undoing the permutation) from any tensor type of `gguf_quants.ts`, dequantized to f32, and
 * `loadHfCheckpoint` takes a `.gguf` path wherever it takes a checkpoint directory.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { loadHfCheckpoint, saveGguf } from "@tinyllama-ts/checkpoint";
 * const { model } = await loadHfCheckpoint("tests/fixtures/model/gqa_b", new ReferenceBackend());
 * const path = `${await Deno.makeTempDir()}/gqa_b.gguf`;
 * await saveGguf(model, path, { type: "q8_0" });
 * const back = await loadHfCheckpoint(path, new ReferenceBackend());
 * console.log(back.config.rope_base); // 500
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { headSize, Model, type ModelConfig, paramSpecs, parseConfig } from "@tinyllama-ts/model";
import {
  type GgufFile,
  type GgufTensorToWrite,
  type GgufValue,
  openGguf,
  writeGguf,
} from "@tinyllama-ts/gguf";
import { GgmlType, ggmlTypeName, quantizeQ8_0 } from "@tinyllama-ts/gguf";
import { type GgufVocab, readGgufVocab, vocabMetadata } from "@tinyllama-ts/gguf";
import { encode } from "./safetensors.ts";
import type { CheckpointReader } from "./hf.ts";

/** Tensor storage of an export: all F32, F16 matrices, or Q8_0 matrices (F16 where rows are not 32k long). */
export type GgufExportType = "f32" | "f16" | "q8_0";

/** `general.file_type` (llama.cpp's `LlamaFileType`) of each export type. */
const FILE_TYPE: Record<GgufExportType, number> = { f32: 0, f16: 1, q8_0: 7 };

/** llama.cpp's name of each of our (Hugging Face) parameter names. */
function ggufName(hfName: string): string {
  if (hfName === "model.embed_tokens.weight") return "token_embd.weight";
  if (hfName === "model.norm.weight") return "output_norm.weight";
  if (hfName === "lm_head.weight") return "output.weight";
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hfName);
  const part = m && LAYER_PARTS[m[2]];
  if (!part) throw new Error(`no GGUF name for ${hfName}`);
  return `blk.${m[1]}.${part}.weight`;
}

const LAYER_PARTS: Record<string, string> = {
  "input_layernorm": "attn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "post_attention_layernorm": "ffn_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};

/**
 * Reorders the rows of a `[heads * headSize, cols]` Q or K matrix between Hugging Face's layout and
 * llama.cpp's: `toGguf` moves row `s * headSize/2 + i` of each head to `2i + s` (llama.cpp's converter,
 * `reshape(heads, 2, headSize/2, cols).swapaxes(1, 2)`), the inverse moves it back.
 */
function permuteRows(w: Float32Array, heads: number, cols: number, toGguf: boolean): Float32Array {
  const rows = w.length / cols, hs = rows / heads, half = hs / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < half; i++) {
        const hfRow = h * hs + s * half + i, ggRow = h * hs + 2 * i + s;
        const [from, to] = toGguf ? [hfRow, ggRow] : [ggRow, hfRow];
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/** Heads whose rows {@link permuteRows} reorders in tensor `hfName`, or 0 for other tensors. */
function permutedHeads(hfName: string, c: ModelConfig): number {
  if (hfName.endsWith("self_attn.q_proj.weight")) return c.n_head;
  if (hfName.endsWith("self_attn.k_proj.weight")) return c.n_query_groups;
  return 0;
}

/** Options of {@link saveGguf}. */
export interface GgufSaveOptions {
  /** Tensor storage (default f32). */
  type?: GgufExportType;
  /** The tokenizer to embed (llama.cpp needs one to run the file). */
  vocab?: GgufVocab;
  /** `general.name` (default the config's name). */
  name?: string;
}

/**
 * Writes a model (or an open checkpoint, read one tensor at a time) as a GGUF v3 file of architecture
 * `llama`, atomically, with every hyperparameter
 * llama.cpp reads for it and the tokenizer `opts.vocab`. Norm weights stay F32; matrices are F32, F16
 * or Q8_0 by `opts.type`, Q8_0 falling back to F16 for matrices whose rows are not a multiple of 32
 * values long, as llama.cpp's converter does. A head equal to the embedding is left out (a tied model,
 * which llama.cpp runs from `token_embd`).
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { saveGguf } from "@tinyllama-ts/checkpoint";
 * import { Model, resolveConfig } from "@tinyllama-ts/model";
 * const model = new Model(new ReferenceBackend(), await resolveConfig("micro-4l-4k"));
 * model.init(0);
 * await saveGguf(model, `${await Deno.makeTempDir()}/m.gguf`, { type: "f16" });
 * ```
 */
export async function saveGguf(
  source: Model | CheckpointReader,
  path: string,
  opts: GgufSaveOptions = {},
): Promise<void> {
  const type = opts.type ?? "f32";
  if (!(type in FILE_TYPE)) throw new UserError(`unsupported GGUF type "${type}" (f32, f16, q8_0)`);
  const c = source.config;
  const read = source instanceof Model
    ? (name: string) => source.readParam(source.indexOf(name))
    : (name: string) => source.read(name);
  const u32 = (value: number): GgufValue => ({ type: "uint32", value });
  const f32 = (value: number): GgufValue => ({ type: "float32", value });
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.type", { type: "string", value: "model" }],
    ["general.name", { type: "string", value: opts.name ?? c.name }],
    ["llama.block_count", u32(c.n_layer)],
    ["llama.context_length", u32(c.block_size)],
    ["llama.embedding_length", u32(c.n_embd)],
    ["llama.feed_forward_length", u32(c.intermediate_size)],
    ["llama.attention.head_count", u32(c.n_head)],
    ["llama.attention.head_count_kv", u32(c.n_query_groups)],
    ["llama.rope.freq_base", f32(c.rope_base)],
    ["llama.attention.layer_norm_rms_epsilon", f32(c.norm_eps)],
    ["llama.attention.key_length", u32(headSize(c))],
    ["llama.attention.value_length", u32(headSize(c))],
    ["general.file_type", u32(FILE_TYPE[type])],
    ["llama.vocab_size", u32(c.vocab_size)],
    ["llama.rope.dimension_count", u32(headSize(c))],
    ["general.quantization_version", u32(2)],
  ];
  if (opts.vocab) {
    if (opts.vocab.tokens.length !== c.vocab_size) {
      throw new UserError(
        `${path}: the tokenizer has ${opts.vocab.tokens.length} tokens, the model's vocab_size is ${c.vocab_size}`,
      );
    }
    metadata.push(...vocabMetadata(opts.vocab));
  }
  const tied = sameValues(await read("model.embed_tokens.weight"), await read("lm_head.weight"));
  const tensors: GgufTensorToWrite[] = [];
  for (const { name: hfName, shape } of paramSpecs(c)) {
    if (tied && hfName === "lm_head.weight") continue;
    const dims = [...shape].reverse();
    const ggmlType = shape.length === 1 || type === "f32"
      ? GgmlType.F32
      : type === "q8_0" && dims[0] % 32 === 0
      ? GgmlType.Q8_0
      : GgmlType.F16;
    tensors.push({
      name: ggufName(hfName),
      dims,
      type: ggmlType,
      data: async () => {
        let w = await read(hfName);
        const heads = permutedHeads(hfName, c);
        if (heads) w = permuteRows(w, heads, shape[1], true);
        if (ggmlType === GgmlType.Q8_0) return quantizeQ8_0(w);
        return encode(w, ggmlType === GgmlType.F16 ? "F16" : "F32");
      },
    });
  }
  await writeGguf(path, metadata, tensors);
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length),
    y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The shortest decimal that rounds to the same f32 as `x` (GGUF stores epsilon and rope base as f32;
 * 1e-5 comes back as 1e-5, not 0.000009999999747).
 */
function shortestF32(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/**
 * The {@link ModelConfig} of a GGUF file's `llama.*` metadata, with llama.cpp's defaults (KV heads =
 * heads, rope base 10000). Another architecture, rope scaling, experts, or a rope dimension other than
 * the head size (partial rotary) are {@link UserError}s naming the key.
 *
 * @example
 * ```ts
 * import { openGguf } from "@tinyllama-ts/gguf";
 * import { configFromGguf } from "./gguf.ts";
 * const file = await openGguf("tests/fixtures/gguf/gqa_a_q8_0.gguf");
 * console.log(configFromGguf(file).n_query_groups); // 2
 * file.close();
 * ```
 */
export function configFromGguf(file: GgufFile): ModelConfig {
  const fail = (msg: string): never => {
    throw new UserError(`${file.path}: ${msg}`);
  };
  const arch = file.string("general.architecture");
  if (arch === undefined) fail("no general.architecture (not a model file)");
  if (arch !== "llama") fail(`architecture "${arch}" is not supported (only llama)`);
  const int = (key: string, fallback?: number): number => {
    const v = file.number(`llama.${key}`) ?? fallback;
    if (v === undefined) return fail(`missing metadata "llama.${key}"`);
    if (!Number.isSafeInteger(v) || v <= 0) {
      fail(`metadata "llama.${key}" must be a positive integer, got ${v}`);
    }
    return v;
  };
  const scaling = file.string("llama.rope.scaling.type");
  if (scaling !== undefined && scaling !== "none") fail(`rope scaling "${scaling}" is not supported`);
  const experts = file.number("llama.expert_count");
  if (experts !== undefined && experts > 0) {
    fail(`mixture of experts (llama.expert_count ${experts}) is not supported`);
  }
  const nHead = int("attention.head_count");
  const embd = file.tensor("token_embd.weight");
  const tokens = file.array("tokenizer.ggml.tokens");
  const vocab = file.number("llama.vocab_size") ?? tokens?.length ?? embd?.dims[1];
  const eps = file.number("llama.attention.layer_norm_rms_epsilon");
  if (eps === undefined) fail(`missing metadata "llama.attention.layer_norm_rms_epsilon"`);
  const name = file.string("general.name") ?? file.path.replace(/^.*\//, "").replace(/\.gguf$/i, "");
  const config = parseConfig({
    name: name || "gguf",
    vocab_size: vocab,
    n_embd: int("embedding_length"),
    n_layer: int("block_count"),
    n_head: nHead,
    n_query_groups: int("attention.head_count_kv", nHead),
    intermediate_size: int("feed_forward_length"),
    block_size: int("context_length"),
    norm_eps: shortestF32(eps!),
    rope_base: shortestF32(file.number("llama.rope.freq_base") ?? 10000),
  }, file.path);
  const hs = headSize(config);
  for (const key of ["rope.dimension_count", "attention.key_length", "attention.value_length"]) {
    const v = file.number(`llama.${key}`);
    if (v !== undefined && v !== hs) {
      fail(`metadata "llama.${key}" is ${v}; only the head size ${hs} is supported`);
    }
  }
  return config;
}

/**
 * Opens a GGUF file of architecture `llama` for reading parameter by parameter (as `openHfCheckpoint`
 * opens a directory): every tensor dequantized to f32 (so a quantized model trained further trains f32
 * master weights), Q/K rows put back in Hugging Face's order. Without `output.weight` the head reads
 * `token_embd` (tied). `tokenizerPath` is the file itself when it embeds a tokenizer. Missing, extra or
 * misshapen tensors are {@link UserError}s naming the tensor.
 *
 * @example
 * ```ts
 * import { openGgufCheckpoint } from "@tinyllama-ts/checkpoint";
 * const ckpt = await openGgufCheckpoint("tests/fixtures/gguf/gqa_a_q8_0.gguf");
 * console.log(ckpt.config.n_layer, ckpt.tokenizerPath); // 2 "tests/fixtures/gguf/gqa_a_q8_0.gguf"
 * ckpt.close();
 * ```
 */
export async function openGgufCheckpoint(path: string): Promise<CheckpointReader> {
  const file = await openGguf(path);
  try {
    const config = configFromGguf(file);
    const vocab = readGgufVocab(file);
    const shapes = new Map(paramSpecs(config).map((p) => [p.name, p.shape]));
    const expected = new Set([...shapes.keys()].map(ggufName));
    for (const t of file.tensors) {
      if (!expected.has(t.name)) {
        throw new UserError(`${path}: unexpected tensor "${t.name}" (not part of a Llama model)`);
      }
    }
    const tied = file.tensor("output.weight") === undefined;
    return {
      config,
      extras: {
        bosTokenId: vocab?.bosId ?? null,
        eosTokenId: vocab?.eosId ?? null,
        tiedEmbeddings: tied,
        dtype: null,
      },
      tokenizerPath: vocab ? path : null,
      // GGUF tensors are dequantized (BF16 included) and the Q/K rows unpermuted, so none is read as raw
      // bits: bf16 weights round the dequantized values (exact for BF16 tensors).
      bf16Matrices: file.tensors.filter((t) => t.dims.length === 2).every((t) => t.type === GgmlType.BF16),
      readBf16: () => Promise.resolve(null),
      async read(hfName: string): Promise<Float32Array> {
        const shape = shapes.get(hfName);
        if (!shape) throw new Error(`${hfName} is not a parameter of a Llama model`);
        const name = tied && hfName === "lm_head.weight" ? "token_embd.weight" : ggufName(hfName);
        const info = file.tensor(name);
        if (!info) throw new UserError(`${path}: missing tensor "${name}"`);
        const dims = [...shape].reverse();
        if (info.dims.length !== dims.length || info.dims.some((d, k) => d !== dims[k])) {
          throw new UserError(
            `${path}: tensor "${name}" (${
              ggmlTypeName(info.type)
            }) has dims [${info.dims}], the metadata implies [${dims}]`,
          );
        }
        const w = await file.read(name);
        const heads = permutedHeads(hfName, config);
        return heads ? permuteRows(w, heads, shape[1], false) : w;
      },
      close: () => file.close(),
    };
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * The {@link ModelConfig} of the GGUF file at `path` (as {@link configFromGguf}), without its tensors.
 *
 * @example
 * ```ts
 * import { readGgufConfig } from "@tinyllama-ts/checkpoint";
 * console.log((await readGgufConfig("tests/fixtures/gguf/gqa_a_q8_0.gguf")).n_embd); // 32
 * ```
 */
export async function readGgufConfig(path: string): Promise<ModelConfig> {
  const file = await openGguf(path);
  try {
    return configFromGguf(file);
  } finally {
    file.close();
  }
}
