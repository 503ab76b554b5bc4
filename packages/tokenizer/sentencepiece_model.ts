/**
 * SentencePiece's `tokenizer.model`: the `ModelProto` protobuf read into plain objects, written back,
 * and turned into a {@link Tokenizer}. Field numbers follow `sentencepiece_model.proto`; proto2
 * defaults apply to absent fields.
 *
 * @module
 */

import { UserError } from "@tinyllama-ts/cli";
import { BpeTokenizer } from "./_bpe_tokenizer.ts";
import { ProtobufError, ProtoReader, ProtoWriter } from "./_protobuf.ts";
import { BYTE_PIECE, bytePiece, PieceKind, type Tokenizer } from "./tokenizer.ts";

/** One entry of `ModelProto.pieces`. */
export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceKind;
}

/** The `TrainerSpec` fields this package reads or writes; absent fields are undefined. */
export interface TrainerSpec {
  /** 1 UNIGRAM (the proto default), 2 BPE, 3 WORD, 4 CHAR. */
  modelType?: number;
  vocabSize?: number;
  characterCoverage?: number;
  maxSentencepieceLength?: number;
  splitByUnicodeScript?: boolean;
  splitByWhitespace?: boolean;
  splitByNumber?: boolean;
  treatWhitespaceAsSuffix?: boolean;
  splitDigits?: boolean;
  allowWhitespaceOnlyPieces?: boolean;
  byteFallback?: boolean;
  unkId?: number;
  bosId?: number;
  eosId?: number;
  padId?: number;
  unkSurface?: string;
  unkPiece?: string;
  bosPiece?: string;
  eosPiece?: string;
  padPiece?: string;
}

/** The `NormalizerSpec` fields; absent fields are undefined. */
export interface NormalizerSpec {
  name?: string;
  precompiledCharsmap?: Uint8Array;
  addDummyPrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  escapeWhitespaces?: boolean;
}

/** A `ModelProto` as plain data. */
export interface ModelProto {
  pieces: SentencePiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
  /** Present only when the file has one. */
  denormalizerSpec?: NormalizerSpec;
}

const MODEL_TYPE_NAMES: Record<number, string> = { 1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR" };
const MODEL_TYPE_BPE = 2;

// [field number, key, kind] of the TrainerSpec fields above.
const TRAINER_FIELDS: [number, keyof TrainerSpec, "int" | "bool" | "float" | "string"][] = [
  [3, "modelType", "int"],
  [4, "vocabSize", "int"],
  [10, "characterCoverage", "float"],
  [20, "maxSentencepieceLength", "int"],
  [21, "splitByUnicodeScript", "bool"],
  [22, "splitByWhitespace", "bool"],
  [23, "splitByNumber", "bool"],
  [24, "treatWhitespaceAsSuffix", "bool"],
  [25, "splitDigits", "bool"],
  [26, "allowWhitespaceOnlyPieces", "bool"],
  [35, "byteFallback", "bool"],
  [40, "unkId", "int"],
  [41, "bosId", "int"],
  [42, "eosId", "int"],
  [43, "padId", "int"],
  [44, "unkSurface", "string"],
  [45, "unkPiece", "string"],
  [46, "bosPiece", "string"],
  [47, "eosPiece", "string"],
  [48, "padPiece", "string"],
];

// ignoreBOM keeps a piece that is U+FEFF (Llama 2 has one) instead of stripping it as a byte-order mark.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function readString(r: ProtoReader): string {
  const b = r.bytes();
  try {
    return utf8.decode(b);
  } catch {
    throw new ProtobufError(`field ${r.field} is not valid UTF-8`);
  }
}

function readPiece(bytes: Uint8Array): SentencePiece {
  const r = new ProtoReader(bytes);
  const p: SentencePiece = { piece: "", score: 0, type: PieceKind.NORMAL };
  while (r.next()) {
    if (r.field === 1) p.piece = readString(r);
    else if (r.field === 2) p.score = r.float();
    else if (r.field === 3) p.type = r.varint() as PieceKind;
    else r.skip();
  }
  return p;
}

function readTrainerSpec(bytes: Uint8Array): TrainerSpec {
  const r = new ProtoReader(bytes);
  const spec: Record<string, unknown> = {};
  const byField = new Map(TRAINER_FIELDS.map(([f, k, t]) => [f, [k, t] as const]));
  while (r.next()) {
    const known = byField.get(r.field);
    if (!known) {
      r.skip();
      continue;
    }
    const [key, kind] = known;
    if (kind === "int") spec[key] = r.varint();
    else if (kind === "bool") spec[key] = r.varint() !== 0;
    else if (kind === "float") spec[key] = r.float();
    else spec[key] = readString(r);
  }
  return spec as TrainerSpec;
}

function readNormalizerSpec(bytes: Uint8Array): NormalizerSpec {
  const r = new ProtoReader(bytes);
  const spec: NormalizerSpec = {};
  while (r.next()) {
    if (r.field === 1) spec.name = readString(r);
    else if (r.field === 2) spec.precompiledCharsmap = r.bytes().slice();
    else if (r.field === 3) spec.addDummyPrefix = r.varint() !== 0;
    else if (r.field === 4) spec.removeExtraWhitespaces = r.varint() !== 0;
    else if (r.field === 5) spec.escapeWhitespaces = r.varint() !== 0;
    else r.skip();
  }
  return spec;
}

/**
 * Reads a serialized `ModelProto`. Throws an Error saying what is malformed (truncated field,
 * invalid UTF-8, wrong wire type).
 *
 * @example
 * ```ts
 * import { decodeModelProto, encodeModelProto } from "@tinyllama-ts/tokenizer";
 * const bytes = encodeModelProto({
 *   pieces: [{ piece: "<unk>", score: 0, type: 2 }], trainerSpec: { modelType: 2 }, normalizerSpec: {},
 * });
 * decodeModelProto(bytes).pieces[0].piece; // "<unk>"
 * ```
 */
export function decodeModelProto(bytes: Uint8Array): ModelProto {
  return decodeWithPresence(bytes).model;
}

// The model and the top-level field numbers present in the file.
function decodeWithPresence(bytes: Uint8Array): { model: ModelProto; present: Set<number> } {
  const r = new ProtoReader(bytes);
  const model: ModelProto = { pieces: [], trainerSpec: {}, normalizerSpec: {} };
  const present = new Set<number>();
  while (r.next()) {
    present.add(r.field);
    if (r.field === 1) model.pieces.push(readPiece(r.bytes()));
    else if (r.field === 2) model.trainerSpec = readTrainerSpec(r.bytes());
    else if (r.field === 3) model.normalizerSpec = readNormalizerSpec(r.bytes());
    else if (r.field === 5) model.denormalizerSpec = readNormalizerSpec(r.bytes());
    else r.skip();
  }
  return { model, present };
}

/**
 * Serializes a `ModelProto`, fields in field-number order, writing only the fields that are set.
 *
 * @example
 * ```ts
 * import { encodeModelProto } from "@tinyllama-ts/tokenizer";
 * const bytes = encodeModelProto({
 *   pieces: [{ piece: "<unk>", score: 0, type: 2 }], trainerSpec: { modelType: 2 }, normalizerSpec: {},
 * });
 * ```
 */
export function encodeModelProto(model: ModelProto): Uint8Array<ArrayBuffer> {
  const w = new ProtoWriter();
  for (const p of model.pieces) {
    const pw = new ProtoWriter().string(1, p.piece).float(2, p.score);
    // NORMAL is the default type; SentencePiece leaves it out, and so do we.
    if (p.type !== PieceKind.NORMAL) pw.int32(3, p.type);
    w.bytes(1, pw.finish());
  }
  const tw = new ProtoWriter();
  const spec = model.trainerSpec as Record<string, unknown>;
  for (const [field, key, kind] of [...TRAINER_FIELDS].sort((a, b) => a[0] - b[0])) {
    const v = spec[key];
    if (v === undefined) continue;
    if (kind === "int") tw.int32(field, v as number);
    else if (kind === "bool") tw.bool(field, v as boolean);
    else if (kind === "float") tw.float(field, v as number);
    else tw.string(field, v as string);
  }
  w.bytes(2, tw.finish());
  w.bytes(3, encodeNormalizerSpec(model.normalizerSpec));
  if (model.denormalizerSpec) w.bytes(5, encodeNormalizerSpec(model.denormalizerSpec));
  return w.finish();
}

function encodeNormalizerSpec(spec: NormalizerSpec): Uint8Array {
  const w = new ProtoWriter();
  if (spec.name !== undefined) w.string(1, spec.name);
  if (spec.precompiledCharsmap !== undefined) w.bytes(2, spec.precompiledCharsmap);
  if (spec.addDummyPrefix !== undefined) w.bool(3, spec.addDummyPrefix);
  if (spec.removeExtraWhitespaces !== undefined) w.bool(4, spec.removeExtraWhitespaces);
  if (spec.escapeWhitespaces !== undefined) w.bool(5, spec.escapeWhitespaces);
  return w.finish();
}

/**
 * Builds the tokenizer a `ModelProto` describes, checking what SentencePiece checks when it loads a
 * model. Throws a {@link UserError} naming `name` and the problem for anything it cannot load:
 * malformed protobuf, no pieces, a non-BPE model, a normalizer with a character map.
 *
 * @example
 * ```ts
 * import { parseSentencePieceModel } from "@tinyllama-ts/tokenizer";
 * const bytes = await Deno.readFile("tests/fixtures/tokenizer/tiny.model");
 * const tok = parseSentencePieceModel(bytes, "tiny.model");
 * tok.encode("hello"); // ids
 * ```
 */
export function parseSentencePieceModel(bytes: Uint8Array, name = "tokenizer.model"): Tokenizer {
  let decoded: { model: ModelProto; present: Set<number> };
  try {
    decoded = decodeWithPresence(bytes);
  } catch (e) {
    if (e instanceof ProtobufError) throw new UserError(`${name}: not a SentencePiece model (${e.message})`);
    throw e;
  }
  const { model, present } = decoded;
  // Every file sentencepiece writes has both specs; a file cut at a field boundary parses but lacks them.
  if (model.pieces.length > 0 && !(present.has(2) && present.has(3))) {
    throw new UserError(
      `${name}: truncated or not a SentencePiece model (no trainer_spec or normalizer_spec)`,
    );
  }
  return tokenizerFromModelProto(model, name);
}

/**
 * The tokenizer for an already decoded {@link ModelProto}; errors as in {@link parseSentencePieceModel}.
 *
 * @example
 * ```ts
 * import { decodeModelProto, tokenizerFromModelProto } from "@tinyllama-ts/tokenizer";
 * const proto = decodeModelProto(await Deno.readFile("tests/fixtures/tokenizer/tiny.model"));
 * const tok = tokenizerFromModelProto(proto, "tiny.model");
 * ```
 */
export function tokenizerFromModelProto(model: ModelProto, name = "tokenizer.model"): BpeTokenizer {
  const fail = (msg: string): never => {
    throw new UserError(`${name}: ${msg}`);
  };
  const ts = model.trainerSpec;
  const ns = model.normalizerSpec;
  if (model.pieces.length === 0) fail("not a SentencePiece model (no pieces)");
  const modelType = ts.modelType ?? 1;
  if (modelType !== MODEL_TYPE_BPE) {
    fail(
      `${
        MODEL_TYPE_NAMES[modelType] ?? `type ${modelType}`
      } model; only BPE SentencePiece models are supported`,
    );
  }
  if ((ns.precompiledCharsmap?.length ?? 0) > 0) {
    fail(`normalizer "${ns.name ?? ""}" uses a character map; only identity normalization is supported`);
  }
  if (ts.treatWhitespaceAsSuffix) fail("treat_whitespace_as_suffix models are not supported");
  if (model.pieces.length >= 1 << 21) fail(`too many pieces (${model.pieces.length})`);

  const n = model.pieces.length;
  const pieces: string[] = new Array(n);
  const kinds = new Uint8Array(n);
  const scores = new Float32Array(n);
  const seen = new Map<string, number>();
  let unkId = -1;
  for (let id = 0; id < n; id++) {
    const p = model.pieces[id];
    if (p.piece.length === 0) fail(`piece ${id} is empty`);
    if (seen.has(p.piece)) {
      fail(`piece ${JSON.stringify(p.piece)} appears twice (ids ${seen.get(p.piece)} and ${id})`);
    }
    seen.set(p.piece, id);
    if (p.type < PieceKind.NORMAL || p.type > PieceKind.BYTE) fail(`piece ${id} has unknown type ${p.type}`);
    if (p.type === PieceKind.BYTE && !BYTE_PIECE.test(p.piece)) {
      fail(`byte piece ${id} is ${JSON.stringify(p.piece)}, not <0xNN>`);
    }
    if (p.type === PieceKind.UNKNOWN) {
      if (unkId >= 0) fail(`two unknown pieces (ids ${unkId} and ${id})`);
      unkId = id;
    }
    pieces[id] = p.piece;
    kinds[id] = p.type;
    scores[id] = p.score;
  }
  if (unkId < 0) fail("no unknown piece (<unk>)");
  const byteFallback = ts.byteFallback ?? false;
  if (byteFallback) {
    for (let b = 0; b < 256; b++) {
      const piece = bytePiece(b);
      const id = seen.get(piece);
      if (id === undefined || kinds[id] !== PieceKind.BYTE) {
        fail(`byte_fallback is on but byte piece ${piece} is missing`);
      }
    }
  }
  const controlId = (piece: string) => {
    const id = seen.get(piece);
    return id !== undefined && kinds[id] === PieceKind.CONTROL ? id : -1;
  };
  return new BpeTokenizer({
    pieces,
    kinds,
    mode: "scores",
    scores,
    unkId,
    bosId: controlId(ts.bosPiece ?? "<s>"),
    eosId: controlId(ts.eosPiece ?? "</s>"),
    byteFallback,
    fuseUnk: true,
    addDummyPrefix: ns.addDummyPrefix ?? true,
    escapeWhitespaces: ns.escapeWhitespaces ?? true,
    removeExtraWhitespaces: ns.removeExtraWhitespaces ?? true,
    splitAtEverySpace: false,
    unkSurface: ts.unkSurface ?? " \u2047 ",
  });
}
