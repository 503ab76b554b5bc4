/**
 * A training run that lives in memory: the loop of `deno task pretrain` on the same pieces (the model's
 * TinyLlama initialisation, AdamW with `paramSlots`, the cosine schedule, the trainer's
 * {@link optimizerStep}, the data package's mixture sampler) over texts tokenized and packed in memory,
 * one step at a time so that a page can pause between steps, sample, and save. Nothing here touches a
 * file: it runs in a page's worker as it runs in Deno.
 *
 * @module
 */
import type { Backend } from "@tinyllama-ts/backend";
import { generate, Model, type ModelConfig } from "@tinyllama-ts/model";
import { cosineLr, Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { parseTokenizerBytes, type Tokenizer } from "@tinyllama-ts/tokenizer";
import type { MixtureSampler } from "../data/sampler.ts";
import { accumulationSteps, checkHparams, DEFAULT_HPARAMS, type Hparams } from "../trainer/hparams.ts";
import { optimizerStep } from "../trainer/step.ts";
import { type CheckpointFile, checkpointFiles } from "./checkpoint_files.ts";
import { memorySampler, packDocuments, type TextSource } from "./memory_data.ts";
import type { StepRecord } from "../trainer/metrics.ts";

/** What a session trains on, and how. */
export interface SessionOptions {
  config: ModelConfig;
  /** Hyper-parameters over the trainer's defaults (`backend` is ignored: the backend is given). */
  hparams?: Partial<Hparams>;
  /** The bytes of a SentencePiece `tokenizer.model`. */
  tokenizerModel: Uint8Array;
  sources: readonly TextSource[];
}

/** One step's record: a `metrics.jsonl` step line, as the trainer writes it. */
export type SessionStep = StepRecord;

/**
 * Trains `config` on `backend`, step by step.
 *
 * @example
 * ```ts ignore
 * const session = TrainingSession.create(backend, { config, tokenizerModel, sources, hparams: { maxSteps: 20 } });
 * while (!session.done) console.log((await session.step()).loss);
 * ```
 */
export class TrainingSession {
  readonly backend: Backend;
  readonly model: Model;
  readonly optimizer: Optimizer;
  readonly sampler: MixtureSampler;
  readonly tokenizer: Tokenizer;
  readonly hparams: Hparams & { seqLen: number };
  /** Tokens per source after packing. */
  readonly sourceTokens: { name: string; tokens: number }[];
  readonly #tokenizerModel: Uint8Array;
  #step = 0;
  #tokens = 0;
  #seconds = 0;

  private constructor(backend: Backend, opts: SessionOptions) {
    this.backend = backend;
    this.hparams = checkHparams({ ...DEFAULT_HPARAMS, ...opts.hparams }, opts.config.block_size);
    this.tokenizer = parseTokenizerBytes(opts.tokenizerModel, "tokenizer.model");
    this.#tokenizerModel = opts.tokenizerModel;
    const streams = opts.sources.map((s) => ({
      name: s.name,
      weight: s.weight,
      stream: packDocuments(this.tokenizer, s.texts),
    }));
    this.sourceTokens = streams.map((s) => ({ name: s.name, tokens: s.stream.length }));
    this.sampler = memorySampler(streams, { seqLen: this.hparams.seqLen, seed: this.hparams.seed });
    this.model = new Model(backend, opts.config);
    this.model.init(this.hparams.seed, "tinyllama");
    this.optimizer = new Optimizer(backend, paramSlots(this.model), this.hparams);
  }

  /** A fresh run: tokenizes and packs the sources, initialises the model as `deno task pretrain` does. */
  static create(backend: Backend, opts: SessionOptions): TrainingSession {
    return new TrainingSession(backend, opts);
  }

  /** Steps done. */
  get stepsDone(): number {
    return this.#step;
  }

  /** Whether `maxSteps` are done. */
  get done(): boolean {
    return this.#step >= this.hparams.maxSteps;
  }

  /** Runs the next optimizer step. */
  async step(): Promise<SessionStep> {
    const hp = this.hparams;
    const t0 = performance.now();
    const lr = cosineLr(this.#step, {
      lr: hp.lr,
      minLr: hp.minLr,
      warmupSteps: hp.warmupSteps,
      maxSteps: hp.maxSteps,
    });
    const { loss, gradNorm, applied } = await optimizerStep(
      this.model,
      this.optimizer,
      () => this.sampler.nextBatch(hp.microBatchSize),
      accumulationSteps(hp),
      lr,
    );
    const seconds = (performance.now() - t0) / 1000;
    const stepTokens = hp.globalBatchSize * hp.seqLen;
    this.#tokens += stepTokens;
    this.#seconds += seconds;
    const record: SessionStep = {
      step: this.#step++,
      loss: Number.isFinite(loss) ? loss : null,
      lr,
      grad_norm: Number.isFinite(gradNorm) ? gradNorm : null,
      tokens: this.#tokens,
      tokens_per_sec: stepTokens / seconds,
      elapsed: this.#seconds,
    };
    if (!applied) record.skipped = true;
    return record;
  }

  /** A continuation of `prompt` (temperature 0.8, top-k 40, as the pretrain report samples). */
  async sample(prompt: string, opts: { maxNewTokens?: number; seed?: number } = {}): Promise<string> {
    const ids = this.tokenizer.encode(prompt, { bos: true });
    const room = this.model.config.block_size - ids.length;
    if (room <= 0) return prompt;
    const out = await generate(this.model, ids, {
      maxNewTokens: Math.min(opts.maxNewTokens ?? 64, room),
      temperature: 0.8,
      topK: 40,
      seed: opts.seed ?? this.hparams.seed,
      stopIds: this.tokenizer.eosId >= 0 ? [this.tokenizer.eosId] : [],
    });
    // A model's vocabulary may be larger than its tokenizer's (the presets round it up): ids past the
    // tokenizer's pieces have no text.
    return this.tokenizer.decode([...ids, ...out].filter((id) => id < this.tokenizer.vocabSize));
  }

  /** The model now as `config.json`, `model.safetensors` and `tokenizer.model`. */
  checkpoint(): Promise<CheckpointFile[]> {
    return checkpointFiles(this.model, this.#tokenizerModel, this.tokenizer);
  }

  /** Frees the model and optimizer (the backend is the caller's). */
  destroy(): void {
    this.optimizer.free();
    this.model.destroy();
  }
}
