/**
 * Hugging Face `tokenizer.json` for SentencePiece-style BPE models (Llama 2's layout): a BPE model
 * with merges and byte fallback, spaces turned into `▁` either by a Prepend + Replace normalizer or by
 * a Metaspace pre-tokenizer; and for byte-level BPE models (GPT-2, Llama 3, Qwen 2, SmolLM), told by
 * their ByteLevel pre-tokenizer. Other model types and normalizers are refused with a clear error
 * rather than encoded wrongly.
 *
 * @module
 */

import { UserError } from "@tinyllama-ts/cli";
import { BpeTokenizer } from "./_bpe_tokenizer.ts";
import { isByteLevelJson, parseByteLevelJson } from "./_hf_byte_level.ts";
import { BYTE_PIECE, PieceKind, type Tokenizer } from "./tokenizer.ts";

const SPACE_SYMBOL = "\u2581";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Builds the tokenizer a `tokenizer.json` describes. Encoding follows the Hugging Face BPE model
 * (merges by rank, characters outside the vocabulary become byte pieces first), except that added
 * special tokens are never matched in text; decoding follows SentencePiece (control pieces vanish,
 * `<unk>` prints as ` ⁇ `). Throws a {@link UserError} naming `name` and the problem.
 *
 * @example
 * ```ts
 * import { parseHfTokenizerJson } from "@tinyllama-ts/tokenizer";
 * const tok = parseHfTokenizerJson(JSON.stringify({
 *   model: { type: "BPE", vocab: { "<unk>": 0, "▁": 1, "a": 2, "▁a": 3 }, merges: ["▁ a"], unk_token: "<unk>" },
 *   normalizer: { type: "Sequence", normalizers: [
 *     { type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" },
 *   ] },
 * }), "tokenizer.json");
 * tok.encode("a a"); // [3, 3]
 * ```
 */
export function parseHfTokenizerJson(text: string, name = "tokenizer.json"): Tokenizer {
  const fail = (msg: string): never => {
    throw new UserError(`${name}: ${msg}`);
  };
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    return fail(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(root) || !isObject(root.model)) {
    return fail('not a Hugging Face tokenizer.json (no "model" object)');
  }
  const model = root.model;
  const type = model.type ?? (model.merges !== undefined ? "BPE" : undefined);
  if (type !== "BPE") fail(`a ${String(type ?? "untyped")} tokenizer; only BPE models are supported`);
  if (isByteLevelJson(root)) return parseByteLevelJson(root, fail);
  if (typeof model.dropout === "number" && model.dropout > 0) fail("BPE dropout is not supported");
  if (model.continuing_subword_prefix) fail("continuing_subword_prefix is not supported");
  if (model.end_of_word_suffix) fail("end_of_word_suffix is not supported");
  if (model.ignore_merges) fail("ignore_merges is not supported");
  if (!isObject(model.vocab)) return fail("model.vocab is not an object");
  if (!Array.isArray(model.merges)) return fail("model.merges is not an array");

  // Pieces by id: the model vocabulary, then added tokens.
  const byId: (string | undefined)[] = [];
  for (const [piece, id] of Object.entries(model.vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= 1 << 21) {
      fail(`vocab entry ${JSON.stringify(piece)} has id ${JSON.stringify(id)}`);
    }
    if (byId[id as number] !== undefined) fail(`vocab ids ${id} used twice`);
    byId[id as number] = piece;
  }
  const special = new Set<number>();
  for (const t of Array.isArray(root.added_tokens) ? root.added_tokens : []) {
    if (!isObject(t) || !Number.isInteger(t.id) || typeof t.content !== "string") {
      fail("malformed added_tokens entry");
    }
    const { id, content } = t as { id: number; content: string };
    if (byId[id] !== undefined && byId[id] !== content) {
      fail(
        `added token ${JSON.stringify(content)} has id ${id}, which the vocab gives to ${
          JSON.stringify(byId[id])
        }`,
      );
    }
    if (t.special !== true) {
      fail(`added token ${JSON.stringify(content)} is not special; such tokens are not supported`);
    }
    byId[id] = content;
    special.add(id);
  }
  const n = byId.length;
  for (let id = 0; id < n; id++) if (byId[id] === undefined) fail(`no token has id ${id}`);
  const pieces = byId as string[];
  const index = new Map<string, number>();
  pieces.forEach((p, id) => {
    if (!index.has(p)) index.set(p, id);
  });

  const byteFallback = model.byte_fallback === true;
  const unkToken = model.unk_token;
  if (typeof unkToken !== "string" || !index.has(unkToken)) {
    fail("model.unk_token is missing or not in the vocab");
  }
  const unkId = index.get(unkToken as string)!;
  const kinds = new Uint8Array(n).fill(PieceKind.NORMAL);
  for (const id of special) kinds[id] = PieceKind.CONTROL;
  kinds[unkId] = PieceKind.UNKNOWN;
  if (byteFallback) {
    for (let id = 0; id < n; id++) {
      if (kinds[id] === PieceKind.NORMAL && BYTE_PIECE.test(pieces[id])) kinds[id] = PieceKind.BYTE;
    }
  }

  const merges: [number, number][] = [];
  for (let r = 0; r < model.merges.length; r++) {
    const m = model.merges[r];
    let parts: unknown[];
    if (typeof m === "string") parts = m.split(" ");
    else if (Array.isArray(m)) parts = m;
    else parts = [];
    const a = typeof parts[0] === "string" ? index.get(parts[0]) : undefined;
    const b = typeof parts[1] === "string" ? index.get(parts[1]) : undefined;
    if (parts.length !== 2 || a === undefined || b === undefined) {
      fail(`merge ${r} ${JSON.stringify(m)} is not two vocab tokens`);
    }
    if (!index.has(pieces[a!] + pieces[b!])) {
      fail(`merge ${r} ${JSON.stringify(m)} makes a token not in the vocab`);
    }
    merges.push([a!, b!]);
  }
  if (merges.length >= 1 << 21) fail(`too many merges (${merges.length})`);

  const spaces = readSpaceHandling(root, fail);
  const controlId = (piece: string) => {
    const id = index.get(piece);
    return id !== undefined && kinds[id] === PieceKind.CONTROL ? id : -1;
  };
  return new BpeTokenizer({
    pieces,
    kinds,
    mode: "merges",
    merges,
    unkId,
    bosId: controlId("<s>"),
    eosId: controlId("</s>"),
    byteFallback,
    fuseUnk: model.fuse_unk === true,
    ...spaces,
    removeExtraWhitespaces: false,
    unkSurface: " \u2047 ",
  });
}

// The supported ways of turning spaces into ▁: Llama 2's normalizer (Prepend "▁", Replace " " → "▁")
// or a Metaspace pre-tokenizer.
function readSpaceHandling(root: Json, fail: (msg: string) => never) {
  const out = {
    addDummyPrefix: false,
    dummyPrefixUnlessSpace: false,
    escapeWhitespaces: false,
    splitAtEverySpace: false,
  };
  const normalizers: unknown[] = [];
  const flatten = (n: unknown) => {
    if (n === null || n === undefined) return;
    if (isObject(n) && n.type === "Sequence" && Array.isArray(n.normalizers)) n.normalizers.forEach(flatten);
    else normalizers.push(n);
  };
  flatten(root.normalizer);
  for (const n of normalizers) {
    if (isObject(n) && n.type === "Prepend" && n.prepend === SPACE_SYMBOL) {
      out.addDummyPrefix = true;
    } else if (
      isObject(n) && n.type === "Replace" && isObject(n.pattern) && n.pattern.String === " " &&
      n.content === SPACE_SYMBOL
    ) {
      out.escapeWhitespaces = true;
    } else {
      fail(`normalizer ${JSON.stringify(isObject(n) ? n.type : n)} is not supported`);
    }
  }
  // The engine prepends the same symbol that spaces become; Prepend alone would need them to differ.
  if (out.addDummyPrefix && !out.escapeWhitespaces) {
    fail('a Prepend normalizer without Replace " " → "▁" is not supported');
  }
  const pre = root.pre_tokenizer;
  if (pre !== null && pre !== undefined) {
    if (!isObject(pre) || pre.type !== "Metaspace") {
      return fail(`pre_tokenizer ${JSON.stringify(isObject(pre) ? pre.type : pre)} is not supported`);
    }
    if (pre.replacement !== SPACE_SYMBOL) {
      fail(`Metaspace replacement ${JSON.stringify(pre.replacement)} is not ▁`);
    }
    out.escapeWhitespaces = true;
    const scheme = pre.prepend_scheme ?? (pre.add_prefix_space === false ? "never" : "always");
    if (scheme === "always" || scheme === "first") {
      out.addDummyPrefix = true;
      out.dummyPrefixUnlessSpace = true;
    } else if (scheme !== "never") {
      fail(`Metaspace prepend_scheme ${JSON.stringify(scheme)} is not supported`);
    }
    out.splitAtEverySpace = pre.split !== false;
  }
  return out;
}
