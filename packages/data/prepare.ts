import {
  checkOutputDir,
  fsyncDir,
  isUserError,
  lockRunDir,
  oneLine,
  Progress,
  type RunDirLock,
  UserError,
  writeFileAtomic,
} from "@tinyllama-ts/cli";
import { Deduplicator, type DedupMode, NUM_PERM } from "./dedup.ts";
import { listInputFiles } from "./input_files.ts";
import { type DatasetManifest, MANIFEST_FILE, type Split } from "./manifest.ts";
import { PIECE_BYTES, readPieces, type SkipReason } from "./read_documents.ts";
import { dtypeForVocab } from "./shard_format.ts";
import { ShardWriter } from "./shard_writer.ts";
import type { BatchResult } from "./_tokenize_batch.ts";
import { type ExcludeRule, type Piece, pieceSize, SKIP_REASONS } from "./_piece.ts";
import { TokenizerPool } from "./_tokenizer_pool.ts";
import { tokenizerFingerprint } from "./_fingerprint.ts";

/** TinyLlama's chunk: 1024 blocks of 2049 tokens per shard. */
export const DEFAULT_CHUNK_SIZE = 2049 * 1024;

/**
 * The largest `--chunk-size`: 2^27 tokens (64 times TinyLlama's), a shard of at most 512 MiB. Every shard,
 * the last one included, holds exactly this many tokens (the format has no shorter shard), so a larger
 * chunk only pads small data into huge files.
 */
export const MAX_CHUNK_SIZE = 2 ** 27;

/** The prefix of prepare's staging directory inside `--out`; a leftover one is removed by the next run. */
export const STAGING_PREFIX = ".prepare-";

/** Thrown by {@link prepareDataset} when `aborted` stopped it; the output was cleaned up. */
export class PrepareInterrupted extends UserError {
  constructor(readonly out: string) {
    super(`interrupted; removed the partial output, nothing was written to ${out}`);
  }
}

/** The name of the dedup report that prepare writes beside the shards when it removed documents. */
export const REMOVED_FILE = "removed.jsonl";

/** Options of {@link prepareDataset}. */
export interface PrepareOptions {
  /** A tokenizer file or directory, as `loadTokenizer` of `@tinyllama-ts/tokenizer` takes it. */
  tokenizer: string;
  /** Files and directories (walked recursively). */
  inputs: string[];
  /** Output directory; must not already hold a prepared dataset. */
  out: string;
  /** Tokens per shard (default {@link DEFAULT_CHUNK_SIZE}). */
  chunkSize?: number;
  /** Duplicate removal (default `none`). */
  dedup?: DedupMode;
  /** Fraction of documents held out for validation, chosen by a hash of each text (default 0). */
  valFraction?: number;
  /** Tokenizer workers (default: one per core); 0 tokenizes on the calling thread. */
  workers?: number;
  /** Draw a progress bar on stderr (when it is a terminal). Default true. */
  progress?: boolean;
  /** A module exporting `loadTokenizer(path)`; default `@tinyllama-ts/tokenizer`. For tests. */
  tokenizerModule?: string;
  /** Checked between batches; when it returns true, prepare stops and cleans up (Ctrl-C). */
  aborted?: () => boolean;
  /**
   * `FIELD=VALUE` rules: a JSON record whose field (dotted path) holds exactly VALUE is dropped and
   * counted, e.g. `meta.redpajama_set_name=RedPajamaGithub` (SlimPajama without its GitHub subset).
   */
  exclude?: string[];
  /**
   * Only files whose directory is named one of these (Starcoderdata's layout: one directory of
   * parquet files per language); the summary then counts files, documents and tokens per language.
   */
  languages?: string[];
}

/** Counts for one language of a `languages` filter. */
export interface LanguageSummary {
  files: number;
  documents: number;
  tokens: number;
}

/** Counts for one split. */
export interface SplitSummary {
  documents: number;
  /** Document tokens (ids plus EOS). */
  tokens: number;
  paddingTokens: number;
  shards: number;
}

/** What a prepare run did. */
export interface PrepareSummary {
  /** Input files read, and files skipped inside input directories for their extension. */
  files: number;
  ignoredFiles: number;
  /** FIFOs, devices and sockets found in input directories and not read. */
  specialFiles: string[];
  /** Lines, rows and `.txt` files read. */
  records: number;
  /** Records that held a document. */
  documents: number;
  /** Records that held none, by reason. */
  skipped: Record<SkipReason, number>;
  /** Documents removed as duplicates. */
  duplicates: { exact: number; near: number };
  /** Records dropped by each `exclude` rule, keyed by the rule as given (`FIELD=VALUE`). */
  excluded: Record<string, number>;
  /** Per language, with a `languages` filter; files outside the languages are not read. */
  languages?: Record<string, LanguageSummary>;
  /** UTF-8 bytes of the documents' text (all of them, duplicates included). */
  textBytes: number;
  train: SplitSummary;
  val: SplitSummary;
  seconds: number;
}

type Location = { file: number; record: number };

/**
 * Turns corpora into packed shards in lit-gpt's format (TinyLlama's pipeline): each document becomes
 * its ids plus EOS, packed back to back into `chunkSize`-token shards; the last shard of each split is
 * padded with BOS, or EOS for a tokenizer without BOS (nothing is dropped). Writes
 * `OUT/train_NNNNNNNNNN.bin`, `OUT/val_NNNNNNNNNN.bin`, `OUT/removed.jsonl` (with dedup) and, last,
 * `OUT/manifest.json`. `OUT` must be new, empty, or hold only a staging directory an interrupted run left
 * (which is removed); it is locked for the run (one prepare per directory). Everything is staged in a
 * hidden directory inside `OUT` and moved into place only on success, so a failure leaves nothing behind
 * (not even `OUT`, if the run created it).
 * Bad input is a {@link UserError}.
 *
 * @example
 * ```ts ignore
 * import { prepareDataset } from "@tinyllama-ts/data";
 * const summary = await prepareDataset({
 *   tokenizer: "tokenizer.model",
 *   inputs: ["SlimPajama-627B/train"],
 *   out: "data/slimpajama",
 *   valFraction: 0.001,
 * });
 * console.log(summary.train.tokens);
 * ```
 */
export async function prepareDataset(opts: PrepareOptions): Promise<PrepareSummary> {
  const start = performance.now();
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0 || chunkSize > MAX_CHUNK_SIZE) {
    throw new UserError(`--chunk-size must be an integer from 1 to ${MAX_CHUNK_SIZE}, got ${chunkSize}`);
  }
  const dedup = opts.dedup ?? "none";
  if (!["none", "exact", "minhash"].includes(dedup)) {
    throw new UserError(`--dedup ${dedup}: expected none, exact or minhash`);
  }
  const valFraction = opts.valFraction ?? 0;
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new UserError(`--val-fraction ${valFraction}: must be at least 0 and below 1`);
  }
  const workers = opts.workers ?? navigator.hardwareConcurrency ?? 1;
  if (!Number.isSafeInteger(workers) || workers < 0 || workers > 256) {
    throw new UserError(`--workers ${workers}: must be an integer from 0 to 256`);
  }
  await checkOutputDir("--out", opts.out, { ours: preparedDirVerdict });
  const excludes = (opts.exclude ?? []).map(parseExcludeRule);
  const tokenizerSha = await tokenizerFingerprint(opts.tokenizer);
  const listed = await listInputFiles(opts.inputs);
  const { ignored, special } = listed;
  let files = listed.files;
  let languages: Record<string, LanguageSummary> | undefined;
  if (opts.languages !== undefined) {
    languages = {};
    for (const l of opts.languages) languages[l] = { files: 0, documents: 0, tokens: 0 };
    files = files.filter((f) => languageOf(f.path) in languages!);
    for (const f of files) languages[languageOf(f.path)].files++;
    const missing = opts.languages.filter((l) => languages![l].files === 0);
    if (missing.length > 0) {
      throw new UserError(
        `--languages ${missing.join(",")}: no input file in a directory of that name under ${
          opts.inputs.join(" ")
        }`,
      );
    }
  }
  if (files.length === 0) {
    throw new UserError(
      `--input ${opts.inputs.join(" ")}: no .txt, .jsonl, .jsonl.gz, .jsonl.zst or .parquet files`,
    );
  }
  const lock: RunDirLock = await lockRunDir(opts.out, "--out");
  const staging = `${opts.out}/${STAGING_PREFIX}${crypto.randomUUID().slice(0, 8)}`;
  let pool: TokenizerPool | undefined;
  try {
    // Under the lock: checked again (another process may have written since), and any staging directory
    // left here is an interrupted run's.
    await checkOutputDir("--out", opts.out, { ours: preparedDirVerdict });
    await sweepStaging(opts.out);
    await Deno.mkdir(staging);
    pool = await TokenizerPool.start({
      workers,
      tokenizerModule: opts.tokenizerModule ?? import.meta.resolve("@tinyllama-ts/tokenizer"),
      tokenizerPath: opts.tokenizer,
      dedup,
      excludes,
    }).catch((e) => {
      if (isUserError(e)) throw e;
      throw new UserError(`--tokenizer ${opts.tokenizer}: cannot load (${oneLine(e)})`);
    });
    const { vocabSize, bosId, eosId } = pool.info;
    if (eosId < 0) {
      throw new UserError(`--tokenizer ${opts.tokenizer}: has no end-of-text token to end documents with`);
    }
    // Models without a start token (Qwen 2, GPT-2 as tokenizer.json has it) pad with the end token.
    const padToken = bosId >= 0 ? bosId : eosId;
    // Vocabularies of 65500 and more (Llama 3, Qwen 2) get int32 tokens, lit-gpt's dtype code 4.
    const dtype = dtypeForVocab(vocabSize);
    const writers: Record<Split, ShardWriter> = {
      train: new ShardWriter({ dir: staging, prefix: "train", chunkSize, dtype, padToken }),
      val: new ShardWriter({ dir: staging, prefix: "val", chunkSize, dtype, padToken }),
    };
    const summary: PrepareSummary = {
      files: files.length,
      ignoredFiles: ignored.length,
      specialFiles: special,
      records: 0,
      documents: 0,
      skipped: { missing_field: 0, invalid_json: 0, empty: 0, blank_line: 0, invalid_utf8: 0 },
      duplicates: { exact: 0, near: 0 },
      excluded: Object.fromEntries((opts.exclude ?? []).map((r) => [r, 0])),
      ...(languages ? { languages } : {}),
      textBytes: 0,
      train: { documents: 0, tokens: 0, paddingTokens: 0, shards: 0 },
      val: { documents: 0, tokens: 0, paddingTokens: 0, shards: 0 },
      seconds: 0,
    };
    const dedupper = new Deduplicator(dedup);
    const kept = new Map<number, Location>();
    const removed: string[] = [];
    const totalBytes = files.reduce((a, f) => a + f.bytes, 0);
    let bytesRead = 0;
    const bar = new Progress({
      total: Math.max(1, Math.ceil(totalBytes / 1e6)),
      label: "prepare MB",
      forceTty: opts.progress === false ? false : undefined,
    });
    const showProgress = () => {
      const secs = (performance.now() - start) / 1000;
      const tokens = summary.train.tokens + summary.val.tokens;
      bar.update(
        Math.ceil(bytesRead / 1e6),
        `docs ${summary.documents} tokens ${tokens} ${
          (summary.textBytes / 1e6 / Math.max(secs, 1e-3)).toFixed(1)
        } MB/s`,
      );
    };

    // Records are numbered per file, from 1; pieces arrive in file order.
    let docId = 0;
    let recordFile = -1;
    let record = 0;
    const consume = async (r: BatchResult, pieceFiles: number[]) => {
      let rec = 0;
      let doc = 0;
      let off = 0;
      for (let p = 0; p < pieceFiles.length; p++) {
        if (pieceFiles[p] !== recordFile) {
          recordFile = pieceFiles[p];
          record = 0;
        }
        const end = rec + r.records[p];
        for (; rec < end; rec++) {
          record++;
          summary.records++;
          const skip = r.skips[rec];
          if (skip > SKIP_REASONS.length) {
            summary.excluded[opts.exclude![skip - 1 - SKIP_REASONS.length]]++;
            continue;
          }
          if (skip !== 0) {
            summary.skipped[SKIP_REASONS[skip - 1]]++;
            continue;
          }
          summary.documents++;
          const i = doc++;
          const n = r.lengths[i];
          const ids = r.ids.subarray(off, off + n);
          off += n;
          summary.textBytes += r.textBytes[i];
          const id = docId++;
          const verdict = dedupper.check(id, {
            exact: r.exactKeys?.[i],
            signature: r.signatures?.subarray(i * NUM_PERM, (i + 1) * NUM_PERM),
          });
          if (verdict.duplicate) {
            summary.duplicates[verdict.kind]++;
            const of = kept.get(verdict.of)!;
            removed.push(JSON.stringify({
              file: files[recordFile].path,
              record,
              kind: verdict.kind,
              duplicateOf: { file: files[of.file].path, record: of.record },
            }));
            continue;
          }
          if (dedup !== "none") kept.set(id, { file: recordFile, record });
          const split: Split = r.splitHashes[i] / 4294967296 < valFraction ? "val" : "train";
          await writers[split].add(ids);
          summary[split].documents++;
          summary[split].tokens += n;
          if (languages) {
            const l = languages[languageOf(files[recordFile].path)];
            l.documents++;
            l.tokens += n;
          }
        }
      }
      showProgress();
    };

    // The main thread only reads, cuts pieces and packs; decoding, parsing, tokenizing and hashing happen
    // in the workers, a batch each, while this thread reads ahead by a few batches.
    const inFlight: { result: Promise<BatchResult>; pieceFiles: number[] }[] = [];
    const maxInFlight = Math.max(2, 3 * workers);
    const consumeOldest = async () => {
      const next = inFlight.shift()!;
      await consume(await untilAborted(next.result, opts.aborted, opts.out), next.pieceFiles);
    };
    let pieces: Piece[] = [];
    let pieceFiles: number[] = [];
    let batchSize = 0;
    const submit = async () => {
      if (pieces.length === 0) return;
      const result = pool!.submit(pieces);
      result.catch(() => {}); // awaited below in order; this keeps an abandoned batch from being "unhandled"
      inFlight.push({ result, pieceFiles });
      pieces = [];
      pieceFiles = [];
      batchSize = 0;
      while (inFlight.length >= maxInFlight) await consumeOldest();
    };
    for (let f = 0; f < files.length; f++) {
      for await (const piece of readPieces(files[f], (n) => bytesRead += n)) {
        if (opts.aborted?.()) throw new PrepareInterrupted(opts.out);
        pieces.push(piece);
        pieceFiles.push(f);
        batchSize += pieceSize(piece);
        if (batchSize >= PIECE_BYTES) await submit();
      }
    }
    await submit();
    while (inFlight.length > 0) await consumeOldest();
    if (summary.train.documents + summary.val.documents === 0) {
      throw new UserError(
        `empty corpus: no documents in ${opts.inputs.join(" ")} (${describeSkipped(summary)})`,
      );
    }
    for (const split of ["train", "val"] as const) {
      summary[split].shards = (await writers[split].finish()).length;
      summary[split].paddingTokens = writers[split].paddingTokens;
    }
    bytesRead = totalBytes; // compressed sizes of parquet row groups do not add up to the file size
    showProgress();
    if (opts.progress !== false) bar.done();
    summary.seconds = (performance.now() - start) / 1000;

    if (opts.aborted?.()) throw new PrepareInterrupted(opts.out);
    // Move into place: shards, then the dedup report, then the manifest, which marks a complete dataset.
    for (const split of ["train", "val"] as const) {
      for (const name of writers[split].files) await Deno.rename(`${staging}/${name}`, `${opts.out}/${name}`);
    }
    if (removed.length > 0) {
      await writeFileAtomic(
        `${opts.out}/${REMOVED_FILE}`,
        new TextEncoder().encode(removed.join("\n") + "\n"),
      );
    }
    const manifest: DatasetManifest = {
      format: "tinyllama-ts/packed-dataset",
      version: 1,
      tokenizer: {
        file: opts.tokenizer.split("/").pop()!,
        sha256: tokenizerSha,
        vocabSize,
        bosId,
        eosId,
      },
      chunkSize,
      dtype,
      padToken,
      dedup,
      valFraction,
      splits: {
        train: { files: [...writers.train.files], ...pick(summary.train) },
        val: { files: [...writers.val.files], ...pick(summary.val) },
      },
      summary: { ...summary },
    };
    await writeFileAtomic(
      `${opts.out}/${MANIFEST_FILE}`,
      new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"),
    );
    await Deno.remove(staging, { recursive: true });
    await fsyncDir(opts.out);
    return summary;
  } catch (e) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (opts.aborted?.() && !(e instanceof PrepareInterrupted)) throw new PrepareInterrupted(opts.out);
    throw e;
  } finally {
    pool?.close();
    lock.release(); // and removes OUT if this run created it and it is still empty
  }
}

/**
 * `result`, or a {@link PrepareInterrupted} as soon as `aborted` says so (polled): a batch of one huge
 * document can keep a worker busy for many seconds, and Ctrl-C should not wait for it.
 */
async function untilAborted<T>(
  result: Promise<T>,
  aborted: (() => boolean) | undefined,
  out: string,
): Promise<T> {
  if (aborted === undefined) return await result;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = new Promise<never>((_, reject) => {
    const check = () => {
      if (aborted()) reject(new PrepareInterrupted(out));
      else timer = setTimeout(check, 50);
    };
    check();
  });
  try {
    return await Promise.race([result, poll]);
  } finally {
    clearTimeout(timer);
  }
}

/** `--out` of prepare is ours when it holds nothing but staging directories of interrupted runs. */
function preparedDirVerdict(names: string[]): true | string {
  const dataset = names.find((n) => n === MANIFEST_FILE || /^(train|val)_.*\.bin$/.test(n));
  if (dataset !== undefined) return `already holds a prepared dataset (${dataset}); remove it`;
  const other = names.filter((n) => !n.startsWith(STAGING_PREFIX));
  if (other.length === 0) return true;
  return `not empty and not a prepared dataset (holds ${other.slice(0, 3).join(", ")}${
    other.length > 3 ? ", …" : ""
  })`;
}

/** Removes staging directories that interrupted runs left in `out` (the caller holds its lock). */
async function sweepStaging(out: string): Promise<void> {
  for await (const e of Deno.readDir(out)) {
    if (e.name.startsWith(STAGING_PREFIX)) await Deno.remove(`${out}/${e.name}`, { recursive: true });
  }
}

function pick(s: SplitSummary) {
  return { documents: s.documents, tokens: s.tokens, paddingTokens: s.paddingTokens };
}

/** The non-zero skip counts, `reason n` joined by commas; "" when nothing was skipped. */
function skippedReasons(s: PrepareSummary): string {
  return Object.entries(s.skipped).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ");
}

function describeSkipped(s: PrepareSummary): string {
  const reasons = skippedReasons(s);
  return `${s.records} records read${reasons ? `, skipped: ${reasons}` : ""}`;
}

/**
 * The end-of-run report of a prepare: documents read, skipped (by reason), removed as duplicates,
 * tokens written and shards.
 *
 * @example
 * ```ts ignore
 * import { formatPrepareSummary, prepareDataset } from "@tinyllama-ts/data";
 * console.error(formatPrepareSummary(await prepareDataset({ tokenizer: "t.model", inputs: ["a.txt"], out: "o" })));
 * ```
 */
export function formatPrepareSummary(s: PrepareSummary): string {
  const skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0);
  const reasons = skippedReasons(s);
  const split = (name: string, x: SplitSummary) =>
    `${name}: ${x.documents} documents, ${x.tokens} tokens (+${x.paddingTokens} BOS padding), ${x.shards} shards`;
  return [
    `files: ${s.files} read${s.ignoredFiles ? `, ${s.ignoredFiles} ignored (unsupported extension)` : ""}${
      s.specialFiles.length
        ? `, ${s.specialFiles.length} not regular files skipped (${s.specialFiles.slice(0, 3).join(", ")}${
          s.specialFiles.length > 3 ? ", …" : ""
        })`
        : ""
    }`,
    `documents read: ${s.documents} of ${s.records} records (${(s.textBytes / 1e6).toFixed(1)} MB of text)`,
    `skipped: ${skipped}${reasons ? ` (${reasons})` : ""}`,
    ...Object.entries(s.excluded).map(([rule, n]) => `excluded by ${rule}: ${n} records`),
    ...Object.entries(s.languages ?? {}).map(([l, x]) =>
      `language ${l}: ${x.files} files, ${x.documents} documents, ${x.tokens} tokens`
    ),
    `removed as duplicates: ${
      s.duplicates.exact + s.duplicates.near
    } (exact ${s.duplicates.exact}, near ${s.duplicates.near})`,
    split("train", s.train),
    split("val", s.val),
    `tokens written: ${s.train.tokens + s.val.tokens} in ${s.train.shards + s.val.shards} shards, ${
      s.seconds.toFixed(1)
    }s (${(s.textBytes / 1e6 / Math.max(s.seconds, 1e-3)).toFixed(2)} MB/s of text)`,
  ].join("\n");
}

/** The language of a Starcoderdata file: the name of the directory holding it. */
function languageOf(path: string): string {
  const parts = path.split("/");
  return parts.length >= 2 ? parts[parts.length - 2] : "";
}

function parseExcludeRule(rule: string): ExcludeRule {
  const eq = rule.indexOf("=");
  const path = eq > 0 ? rule.slice(0, eq).split(".") : [];
  if (eq <= 0 || path.some((k) => k === "")) {
    throw new UserError(
      `--exclude ${rule}: expected FIELD=VALUE, e.g. meta.redpajama_set_name=RedPajamaGithub`,
    );
  }
  return { path, value: rule.slice(eq + 1) };
}
