/**
 * The {@link GgufVocab} of a tokenizer file, for embedding in an exported GGUF: a SentencePiece
 * `tokenizer.model` becomes llama.cpp's `llama` model (pieces, scores and types as stored); a Hugging
 * Face `tokenizer.json` with a ByteLevel pre-tokenizer becomes `gpt2` (tokens, merges, types, and the
 * `tokenizer.ggml.pre` name llama.cpp maps to the same split regex), and one in SentencePiece's layout
 * (Metaspace, byte fallback) becomes `llama`, each merged piece scored by its merge rank so that
 * llama.cpp's score-ordered merging follows the merge list.
 *
 * @example
 * ```ts
 * import { ggufVocabFromTokenizerFile } from "./gguf_tokenizer_files.ts";
 * const vocab = await ggufVocabFromTokenizerFile("tests/fixtures/model/gqa_a/tokenizer.model");
 * console.log(vocab.model, vocab.tokens.length); // llama 96
 * ```
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { decodeModelProto } from "@tinyllama-ts/tokenizer";
import { GgufTokenType, type GgufVocab, readGgufVocab } from "@tinyllama-ts/gguf";
import { openGguf } from "@tinyllama-ts/gguf";

/** Which special ids the checkpoint's config states (they win over the tokenizer's own). */
export interface SpecialIds {
  bosTokenId?: number | null;
  eosTokenId?: number | null;
}

/**
 * Reads `path` (`tokenizer.model` or `tokenizer.json`, told by content, or the tokenizer embedded in a
 * `.gguf`) into a {@link GgufVocab}.
 *
 * @example
 * ```ts
 * import { ggufVocabFromTokenizerFile } from "./gguf_tokenizer_files.ts";
 * const vocab = await ggufVocabFromTokenizerFile("tests/fixtures/model/gqa_a/tokenizer.model", { bosTokenId: 1 });
 * console.log(vocab.bosId); // 1
 * ```
 */
export async function ggufVocabFromTokenizerFile(path: string, ids: SpecialIds = {}): Promise<GgufVocab> {
  if (/\.gguf$/i.test(path)) {
    // Re-exporting a GGUF file: its embedded tokenizer travels as it is.
    const file = await openGguf(path);
    try {
      const vocab = readGgufVocab(file);
      if (!vocab) throw new UserError(`${path}: the GGUF file embeds no tokenizer`);
      return vocab;
    } finally {
      file.close();
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  const vocab = first === 0x7b
    ? fromTokenizerJson(new TextDecoder().decode(bytes), path)
    : fromModelProto(bytes, path);
  const n = vocab.tokens.length;
  const pick = (given: number | null | undefined, own: number | undefined) =>
    given !== undefined && given !== null && given >= 0 && given < n ? given : own;
  vocab.bosId = pick(ids.bosTokenId, vocab.bosId);
  vocab.eosId = pick(ids.eosTokenId, vocab.eosId);
  return vocab;
}

function fromModelProto(bytes: Uint8Array, path: string): GgufVocab {
  let proto;
  try {
    proto = decodeModelProto(bytes);
  } catch (e) {
    throw new UserError(`${path}: not a SentencePiece model (${(e as Error).message})`);
  }
  if ((proto.trainerSpec.modelType ?? 1) !== 2) {
    throw new UserError(`${path}: only BPE SentencePiece models can be exported to GGUF`);
  }
  const ts = proto.trainerSpec;
  const find = (piece: string | undefined, fallback: string) => {
    const i = proto.pieces.findIndex((p) => p.piece === (piece ?? fallback));
    return i < 0 ? undefined : i;
  };
  return {
    model: "llama",
    tokens: proto.pieces.map((p) => p.piece),
    scores: proto.pieces.map((p) => p.score),
    types: proto.pieces.map((p) => p.type),
    unkId: proto.pieces.findIndex((p) => p.type === GgufTokenType.UNKNOWN),
    bosId: find(ts.bosPiece, "<s>"),
    eosId: find(ts.eosPiece, "</s>"),
    addBos: true,
    addEos: false,
    addSpacePrefix: proto.normalizerSpec.addDummyPrefix ?? true,
  };
}

// The split regexes of the pre-tokenizers llama.cpp knows by name, as tokenizer.json files spell them.
const PRE_BY_REGEX: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    "llama-bpe",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    "qwen2",
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+": "gpt-2",
};

type Json = Record<string, unknown>;

/** The `tokenizer.ggml.pre` name of a tokenizer.json's pre-tokenizer, or a {@link UserError}. */
function preName(pre: Json | null | undefined, path: string): string {
  const steps = (pre?.type === "Sequence" ? pre.pretokenizers : [pre]) as (Json | null | undefined)[];
  const kinds = steps.map((s) => String(s?.type));
  const byteLevel = steps.find((s) => s?.type === "ByteLevel");
  if (steps.length === 1 && byteLevel && byteLevel.use_regex !== false) return "gpt-2";
  if (
    steps.length === 2 && steps[0]?.type === "Digits" && steps[0]?.individual_digits === true && byteLevel &&
    byteLevel.use_regex !== false
  ) return "smollm";
  const split = steps.find((s) => s?.type === "Split");
  const regex = (split?.pattern as Json | undefined)?.Regex;
  if (steps.length === 2 && typeof regex === "string" && byteLevel && byteLevel.use_regex === false) {
    const name = PRE_BY_REGEX[regex];
    if (name) return name;
  }
  throw new UserError(
    `${path}: pre-tokenizer [${
      kinds.join(", ")
    }] has no llama.cpp name (gpt-2, llama-bpe, qwen2, smollm are known)`,
  );
}

function fromTokenizerJson(text: string, path: string): GgufVocab {
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  const model = json.model as Json | undefined;
  if (model?.type !== "BPE") throw new UserError(`${path}: only BPE models can be exported to GGUF`);
  const vocabMap = model.vocab as Record<string, number>;
  const added = (json.added_tokens ?? []) as { id: number; content: string; special?: boolean }[];
  let n = 0;
  for (const id of Object.values(vocabMap)) n = Math.max(n, id + 1);
  for (const a of added) n = Math.max(n, a.id + 1);
  const tokens: string[] = new Array(n);
  const types: number[] = new Array(n).fill(GgufTokenType.NORMAL);
  for (const [tok, id] of Object.entries(vocabMap)) tokens[id] = tok;
  for (const a of added) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? GgufTokenType.CONTROL : GgufTokenType.USER_DEFINED;
  }
  for (let i = 0; i < n; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = GgufTokenType.UNUSED;
    }
  }
  const merges = ((model.merges ?? []) as (string | [string, string])[]).map((m) =>
    typeof m === "string" ? m : `${m[0]} ${m[1]}`
  );
  const idOf = (tok: unknown) => {
    const s = typeof tok === "string" ? tok : (tok as Json | null)?.content;
    const i = typeof s === "string" ? tokens.indexOf(s) : -1;
    return i < 0 ? undefined : i;
  };
  const unkId = idOf(model.unk_token);
  const isByteLevel = JSON.stringify(json.pre_tokenizer ?? null).includes('"ByteLevel"') ||
    (json.decoder as Json | null)?.type === "ByteLevel";
  if (isByteLevel) {
    return { model: "gpt2", tokens, types, merges, pre: preName(json.pre_tokenizer as Json, path), unkId };
  }
  // SentencePiece's layout: `▁` for spaces, `<0xNN>` byte pieces, merges in the order of the scores.
  const scores = new Array<number>(n);
  const rank = new Map<string, number>();
  merges.forEach((m, r) => {
    const piece = m.replace(" ", "");
    if (!rank.has(piece)) rank.set(piece, r);
  });
  for (let i = 0; i < n; i++) {
    if (/^<0x[0-9A-F]{2}>$/.test(tokens[i]) && types[i] === GgufTokenType.NORMAL) {
      types[i] = GgufTokenType.BYTE;
    }
    if (i === unkId) types[i] = GgufTokenType.UNKNOWN;
    const r = rank.get(tokens[i]);
    scores[i] = types[i] !== GgufTokenType.NORMAL ? 0 : r !== undefined ? -r : -(merges.length + i);
  }
  const bos = added.find((a) => a.content === "<s>"), eos = added.find((a) => a.content === "</s>");
  return {
    model: "llama",
    tokens,
    scores,
    types,
    unkId,
    bosId: bos?.id,
    eosId: eos?.id,
    addBos: true,
    addEos: false,
  };
}
