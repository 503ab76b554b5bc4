/**
 * Pre-tokenizers of byte-level BPE models (GPT-2, Llama 3, Qwen 2, SmolLM): the text is cut into
 * words by a sequence of steps, each step cutting every piece the previous one made, and BPE then runs
 * inside each word. The regexes are those of the models' `tokenizer.json` files, which Hugging Face
 * runs with Oniguruma; {@link compileOnigurumaPattern} turns them into JavaScript regexes that match
 * the same text (Oniguruma's `\s` is not JavaScript's).
 *
 * @module
 */

/** GPT-2's word regex, used by a ByteLevel pre-tokenizer with `use_regex` (GPT-2, SmolLM, StarCoder). */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Llama 3's Split regex: numbers in groups of up to three digits. */
export const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Qwen 2's Split regex: Llama 3's with every digit a word of its own. */
export const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** One step of a pre-tokenizer sequence, in the order the steps run. */
export type PreTokenizerStep =
  /** Hugging Face `Split` with behavior `Isolated`: every match and every gap between matches is a piece. */
  | { type: "split"; pattern: string }
  /** Hugging Face `Digits`: every numeric character (`individual`) or run of them is a piece. */
  | { type: "digits"; individual: boolean }
  /**
   * Hugging Face `ByteLevel`: optionally a space before each piece that lacks one, optionally a cut by
   * {@link GPT2_PATTERN}; then the bytes of each piece are what BPE sees.
   */
  | { type: "byte_level"; addPrefixSpace: boolean; useRegex: boolean };

// Oniguruma's \s (Unicode): U+0009–U+000D, U+0085 and the Zs, Zl, Zp characters. JavaScript's \s
// lacks U+0085 and has U+FEFF instead.
const ONIG_SPACE = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/**
 * A JavaScript regex (flags `gu`) that matches what Oniguruma matches with `pattern`, for the syntax the
 * byte-level models use: alternation, groups, `(?i:…)`, classes, `\p{…}`, `\s`, `\S`, lookahead.
 * Throws an Error for a pattern JavaScript cannot compile or a `\S` inside a class.
 *
 * @example
 * ```ts
 * import { compileOnigurumaPattern, GPT2_PATTERN } from "@tinyllama-ts/tokenizer";
 * const re = compileOnigurumaPattern(GPT2_PATTERN);
 * "Hello world's 42".match(re); // ["Hello", " world", "'s", " 42"]
 * ```
 */
export function compileOnigurumaPattern(pattern: string): RegExp {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) {
      const e = pattern[i + 1];
      i++;
      if (e === "s") out += inClass ? ONIG_SPACE : `[${ONIG_SPACE}]`;
      else if (e === "S") {
        if (inClass) throw new Error(`\\S inside a character class is not supported: ${pattern}`);
        out += `[^${ONIG_SPACE}]`;
      } else out += c + e;
      continue;
    }
    if (c === "[" && !inClass) inClass = true;
    else if (c === "]" && inClass) inClass = false;
    out += c;
  }
  return new RegExp(out, "gu");
}

/**
 * Cuts `text` into the words BPE encodes: runs `steps` in order, each on every piece the previous
 * one made, and calls `emit` with each final piece (with a ByteLevel step's prefix space added).
 *
 * @example
 * ```ts
 * import { PreTokenizer } from "@tinyllama-ts/tokenizer";
 * const pre = new PreTokenizer([
 *   { type: "digits", individual: true },
 *   { type: "byte_level", addPrefixSpace: false, useRegex: true },
 * ]);
 * const words: string[] = [];
 * pre.split("in 2024", (w) => words.push(w)); // words: ["in", " ", "2", "0", "2", "4"]
 * ```
 */
export class PreTokenizer {
  readonly steps: readonly PreTokenizerStep[];
  readonly #regexes: (RegExp | null)[];

  constructor(steps: readonly PreTokenizerStep[]) {
    this.steps = steps;
    this.#regexes = steps.map((s) => {
      if (s.type === "split") return compileOnigurumaPattern(s.pattern);
      if (s.type === "digits") return s.individual ? /\p{N}/gu : /\p{N}+/gu;
      return s.useRegex ? compileOnigurumaPattern(GPT2_PATTERN) : null;
    });
  }

  /** Calls `emit` with each word of `text`, in order. */
  split(text: string, emit: (word: string) => void): void {
    if (text.length > 0) this.#run(text, 0, emit);
  }

  #run(piece: string, step: number, emit: (word: string) => void): void {
    if (step === this.steps.length) {
      emit(piece);
      return;
    }
    const s = this.steps[step];
    if (s.type === "byte_level" && s.addPrefixSpace && piece.charCodeAt(0) !== 0x20) piece = " " + piece;
    const re = this.#regexes[step];
    if (re === null) {
      this.#run(piece, step + 1, emit);
      return;
    }
    // Isolated: each match is a piece, and so is each stretch between matches.
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(piece)) !== null) {
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        re.lastIndex++;
        continue;
      }
      if (start > last) this.#run(piece.slice(last, start), step + 1, emit);
      this.#run(m[0], step + 1, emit);
      last = end;
    }
    if (last < piece.length) this.#run(last === 0 ? piece : piece.slice(last), step + 1, emit);
  }
}
