import { parseNumberFlag, UserError } from "@tinyllama-ts/cli";

/** One data source of a mixture: a prepared directory and its sampling weight. */
export interface DataSpec {
  /** A directory written by `deno task prepare` (or by TinyLlama / lit-gpt). */
  dir: string;
  /** Relative weight; weights are normalised over the mixture. */
  weight: number;
  /**
   * Only shards whose names start with this prefix (for a TinyLlama directory holding both corpora,
   * e.g. `train_slim` and `train_star`). Without it the split decides: `train*` or `val*`.
   */
  prefix?: string;
}

/**
 * Parses the value of a `--data DIR[:WEIGHT]` flag. The weight defaults to 1; a last path component
 * ending in `*` is a file-name prefix (`/data/slim_star/train_slim*:0.693584`), as in TinyLlama's
 * `train_data_config`.
 *
 * @example
 * ```ts
 * import { parseDataSpec } from "@tinyllama-ts/data";
 * console.log(parseDataSpec("out/slimpajama:0.693584")); // { dir: "out/slimpajama", weight: 0.693584 }
 * ```
 */
export function parseDataSpec(text: string): DataSpec {
  let path = text;
  let weight = 1;
  const colon = text.lastIndexOf(":");
  if (colon >= 0) {
    const w = text.slice(colon + 1);
    if (/^\s*[+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(w)) {
      // A number after the last colon is the weight (else the colon is part of the path).
      weight = parseNumberFlag(`--data ${text}: weight`, w.trim(), { min: 0, aboveMin: true });
      path = text.slice(0, colon);
    } else if (!/^[A-Za-z]:[\\/]/.test(text) || colon > 1) {
      throw new UserError(`--data ${text}: weight "${w}" is not a number (expected DIR[:WEIGHT])`);
    }
  }
  if (path === "") throw new UserError(`--data ${text}: missing directory (expected DIR[:WEIGHT])`);
  const slash = path.lastIndexOf("/");
  const last = path.slice(slash + 1);
  if (last.endsWith("*")) {
    const prefix = last.slice(0, -1);
    if (prefix.includes("*")) throw new UserError(`--data ${text}: only a trailing * is supported`);
    return { dir: slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash), weight, prefix };
  }
  if (path.includes("*")) throw new UserError(`--data ${text}: only a trailing * is supported`);
  return { dir: path.length > 1 ? path.replace(/\/+$/, "") : path, weight };
}

/**
 * Weights divided by their sum.
 *
 * @example
 * ```ts
 * import { normalizeWeights } from "@tinyllama-ts/data";
 * console.log(normalizeWeights([7, 3])); // [0.7, 0.3]
 * ```
 */
export function normalizeWeights(weights: readonly number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0) || weights.some((w) => !(w > 0) || !Number.isFinite(w))) {
    throw new UserError(`data weights must be positive numbers, got ${weights.join(", ")}`);
  }
  return weights.map((w) => w / total);
}
