import { oneLine, UserError } from "@tinyllama-ts/cli";

/** The name of the file that `deno task prepare` writes last into its `--out` directory. */
export const MANIFEST_FILE = "manifest.json";

/** A split of a prepared directory: train or validation. */
export type Split = "train" | "val";

/** What one split of a prepared directory holds. */
export interface SplitManifest {
  /** Shard file names, relative to the directory, in stream order. */
  files: string[];
  /** Documents packed. */
  documents: number;
  /** Document tokens written: every document's ids plus its EOS. */
  tokens: number;
  /** BOS tokens that fill the end of the last shard. */
  paddingTokens: number;
}

/**
 * `manifest.json` of a prepared directory: how it was made and what it holds. Shards are
 * `train_NNNNNNNNNN.bin` and `val_NNNNNNNNNN.bin` beside it.
 */
export interface DatasetManifest {
  format: "tinyllama-ts/packed-dataset";
  version: 1;
  tokenizer: { file: string; sha256: string; vocabSize: number; bosId: number; eosId: number };
  /** Tokens per shard. */
  chunkSize: number;
  dtype: "uint16" | "int32";
  /** The token that pads the last shard of each split (the BOS id). */
  padToken: number;
  dedup: "none" | "exact" | "minhash";
  valFraction: number;
  splits: Record<Split, SplitManifest>;
  /** The prepare run's counts (documents read, skipped by reason, removed as duplicates, ...). */
  summary: Record<string, unknown>;
}

/**
 * Reads `DIR/manifest.json`; `undefined` when there is none (a directory that TinyLlama or lit-gpt
 * wrote). A manifest that does not parse is a {@link UserError}.
 *
 * @example
 * ```ts
 * import { readManifest } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * console.log(readManifest(dir)); // undefined
 * ```
 */
export function readManifest(dir: string): DatasetManifest | undefined {
  const path = `${dir}/${MANIFEST_FILE}`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new UserError(`${path}: cannot read (${oneLine(e)})`);
  }
  let m: DatasetManifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: invalid JSON (${oneLine(e)})`);
  }
  if (
    m?.format !== "tinyllama-ts/packed-dataset" || m.version !== 1 ||
    !Array.isArray(m.splits?.train?.files) ||
    !Array.isArray(m.splits?.val?.files)
  ) {
    throw new UserError(`${path}: not a tinyllama-ts dataset manifest (format/version/splits missing)`);
  }
  checkManifestFields(m, path);
  return m;
}

/** Largest vocabulary an int32 shard can index. */
const MAX_VOCAB = 2 ** 31;

/**
 * Every field that feeds a loop, an allocation or a path is checked as the shard headers are: counts
 * are non-negative safe integers, ids lie in the vocabulary, shard names are plain names inside the
 * directory. The first bad field is a {@link UserError} naming it.
 */
function checkManifestFields(m: DatasetManifest, path: string): void {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new UserError(`${path}: field "${field}" must be ${want}, got ${JSON.stringify(got)}`);
  };
  const count = (field: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      bad(field, `an integer from ${min} to ${max}`, v);
    }
  };
  const t = m.tokenizer;
  if (typeof t !== "object" || t === null) bad("tokenizer", "an object", t);
  count("tokenizer.vocabSize", t.vocabSize, 1, MAX_VOCAB);
  for (const k of ["bosId", "eosId"] as const) count(`tokenizer.${k}`, t[k], -1, t.vocabSize - 1);
  count("chunkSize", m.chunkSize, 1);
  if (m.dtype !== "uint16" && m.dtype !== "int32") bad("dtype", `"uint16" or "int32"`, m.dtype);
  count("padToken", m.padToken, 0, t.vocabSize - 1);
  for (const split of ["train", "val"] as const) {
    const s = m.splits[split];
    for (const f of s.files) {
      if (typeof f !== "string" || !/^[^/\\]+\.bin$/.test(f) || f.startsWith(".")) {
        bad(`splits.${split}.files`, "shard names (NAME.bin, inside the directory)", f);
      }
    }
    for (const k of ["documents", "tokens"] as const) count(`splits.${split}.${k}`, s[k]);
    count(`splits.${split}.paddingTokens`, s.paddingTokens, 0, s.files.length > 0 ? m.chunkSize : 0);
  }
}

/**
 * The shard paths of one split of a directory, in stream order: the manifest's list when there is one,
 * else the sorted `.bin` files whose names start with `prefix` (default: the split name, so `val` also
 * finds TinyLlama's `validation_*` shards).
 *
 * @example
 * ```ts
 * import { splitShardPaths } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * console.log(splitShardPaths(dir, "val")); // []
 * ```
 */
export function splitShardPaths(dir: string, split: Split, prefix?: string): string[] {
  return shardPathsOf(dir, split, prefix, prefix === undefined ? readManifest(dir) : undefined);
}

/** {@link splitShardPaths} with the directory's manifest already read (undefined: list the files). */
export function shardPathsOf(
  dir: string,
  split: Split,
  prefix: string | undefined,
  manifest: DatasetManifest | undefined,
): string[] {
  if (manifest !== undefined) return manifest.splits[split].files.map((f) => `${dir}/${f}`);
  const want = prefix ?? split;
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${dir}: no such directory`);
    throw new UserError(`${dir}: cannot read directory (${oneLine(e)})`);
  }
  return names.filter((n) => n.startsWith(want) && n.endsWith(".bin")).sort().map((n) => `${dir}/${n}`);
}
