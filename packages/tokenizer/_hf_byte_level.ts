/**
 * Hugging Face `tokenizer.json` files of byte-level BPE models: a BPE model with a ByteLevel
 * pre-tokenizer, alone or last in a Sequence after Split (Isolated) and Digits steps; an NFC
 * normalizer or none; added tokens. Anything else is refused with a one-line error rather than
 * encoded wrongly.
 *
 * @module
 */

import { type AddedToken, buildByteLevel, type ByteLevelBpeTokenizer } from "./byte_level_bpe.ts";
import type { PreTokenizerStep } from "./pre_tokenizer.ts";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether a `tokenizer.json` root describes a byte-level model (a ByteLevel pre-tokenizer anywhere). */
export function isByteLevelJson(root: Json): boolean {
  const pre = root.pre_tokenizer;
  if (!isObject(pre)) return false;
  if (pre.type === "ByteLevel") return true;
  return pre.type === "Sequence" && Array.isArray(pre.pretokenizers) &&
    pre.pretokenizers.some((p) => isObject(p) && p.type === "ByteLevel");
}

// Spellings of the start and end tokens, in order of preference, for files that do not say which
// token is which (tokenizer.json has no field for it).
const BOS_NAMES = ["<|begin_of_text|>", "<s>", "<|startoftext|>"];
const EOS_NAMES = ["<|end_of_text|>", "</s>", "<|endoftext|>"];

/**
 * The tokenizer of a byte-level `tokenizer.json` (already parsed). The start token is
 * `<|begin_of_text|>`, `<s>` or `<|startoftext|>` if one is an added token (else none); the end token
 * `<|end_of_text|>`, `</s>` or `<|endoftext|>`.
 */
export function parseByteLevelJson(root: Json, fail: (msg: string) => never): ByteLevelBpeTokenizer {
  const model = root.model as Json;
  if (typeof model.dropout === "number" && model.dropout > 0) fail("BPE dropout is not supported");
  if (model.continuing_subword_prefix) fail("continuing_subword_prefix is not supported");
  if (model.end_of_word_suffix) fail("end_of_word_suffix is not supported");
  if (model.byte_fallback === true) fail("byte_fallback with a ByteLevel pre-tokenizer is not supported");
  if (!isObject(model.vocab)) return fail("model.vocab is not an object");
  if (!Array.isArray(model.merges)) return fail("model.merges is not an array");

  const entries = Object.entries(model.vocab);
  const added0 = Array.isArray(root.added_tokens) ? root.added_tokens : [];
  // Filled in id order would be cheap; ids arrive in any order, so the array is made full-size first
  // (a growing array written out of order turns into a slow dictionary).
  let size = entries.length;
  for (const t of added0) {
    if (isObject(t) && Number.isInteger(t.id)) size = Math.max(size, (t.id as number) + 1);
  }
  const byId: (string | undefined)[] = new Array(size).fill(undefined);
  for (const [token, id] of entries) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= size) {
      fail(`vocab entry ${JSON.stringify(token)} has id ${JSON.stringify(id)}`);
    }
    if (byId[id as number] !== undefined) fail(`vocab id ${id} used twice`);
    byId[id as number] = token;
  }
  const added: AddedToken[] = [];
  for (const t of added0) {
    if (!isObject(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || typeof t.content !== "string") {
      fail("malformed added_tokens entry");
    }
    const { id, content } = t as { id: number; content: string };
    for (const flag of ["lstrip", "rstrip", "single_word"]) {
      if (t[flag] === true) fail(`added token ${JSON.stringify(content)}: ${flag} is not supported`);
    }
    if (byId[id] !== undefined && byId[id] !== content) {
      fail(
        `added token ${JSON.stringify(content)} has id ${id}, which the vocab gives to ${
          JSON.stringify(byId[id])
        }`,
      );
    }
    byId[id] = content;
    added.push({ id, content, special: t.special === true, normalized: t.normalized === true });
  }
  for (let id = 0; id < byId.length; id++) if (byId[id] === undefined) fail(`no token has id ${id}`);
  const tokens = byId as string[];

  const merges: [string, string][] = new Array(model.merges.length);
  for (let r = 0; r < model.merges.length; r++) {
    const m = model.merges[r];
    let pair: unknown[] = [];
    if (typeof m === "string") {
      const space = m.indexOf(" ");
      if (space > 0 && m.indexOf(" ", space + 1) < 0) pair = [m.slice(0, space), m.slice(space + 1)];
    } else if (Array.isArray(m)) pair = m;
    if (pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
      fail(`merge ${r} ${JSON.stringify(m)} is not two tokens`);
    }
    merges[r] = pair as [string, string];
  }

  const addedId = (names: string[]) => {
    for (const name of names) {
      const a = added.find((t) => t.content === name);
      if (a !== undefined) return a.id;
    }
    return -1;
  };
  return buildByteLevel({
    tokens,
    merges,
    added,
    normalizer: readNormalizer(root.normalizer, fail),
    preTokenizer: readPreTokenizer(root.pre_tokenizer as Json, fail),
    ignoreMerges: model.ignore_merges === true,
    bosId: addedId(BOS_NAMES),
    eosId: addedId(EOS_NAMES),
  }, fail);
}

function readNormalizer(n: unknown, fail: (msg: string) => never): "none" | "nfc" {
  const list: unknown[] = [];
  const flatten = (x: unknown) => {
    if (x === null || x === undefined) return;
    if (isObject(x) && x.type === "Sequence" && Array.isArray(x.normalizers)) x.normalizers.forEach(flatten);
    else list.push(x);
  };
  flatten(n);
  if (list.length === 0) return "none";
  if (list.length === 1 && isObject(list[0]) && list[0].type === "NFC") return "nfc";
  return fail(
    `normalizer ${JSON.stringify(list.map((x) => isObject(x) ? x.type : x))} is not supported with ByteLevel`,
  );
}

function readPreTokenizer(pre: Json, fail: (msg: string) => never): PreTokenizerStep[] {
  const list = pre.type === "Sequence" ? pre.pretokenizers as unknown[] : [pre];
  const steps: PreTokenizerStep[] = [];
  for (const p of list) {
    if (!isObject(p)) return fail("malformed pre_tokenizer");
    if (steps.at(-1)?.type === "byte_level") {
      fail(`a ${String(p.type)} pre-tokenizer after ByteLevel is not supported`);
    }
    switch (p.type) {
      case "ByteLevel":
        steps.push({
          type: "byte_level",
          addPrefixSpace: p.add_prefix_space === true,
          useRegex: p.use_regex !== false,
        });
        break;
      case "Digits":
        steps.push({ type: "digits", individual: p.individual_digits === true });
        break;
      case "Split": {
        if (p.behavior !== "Isolated" || p.invert === true) {
          fail(
            `Split with behavior ${JSON.stringify(p.behavior)}${
              p.invert ? " inverted" : ""
            } is not supported`,
          );
        }
        const pattern = p.pattern;
        if (isObject(pattern) && typeof pattern.Regex === "string") {
          steps.push({ type: "split", pattern: pattern.Regex });
        } else if (isObject(pattern) && typeof pattern.String === "string") {
          steps.push({ type: "split", pattern: pattern.String.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&") });
        } else {
          fail("Split pattern is neither Regex nor String");
        }
        break;
      }
      default:
        fail(`pre_tokenizer ${JSON.stringify(p.type)} is not supported with ByteLevel`);
    }
  }
  return steps;
}
