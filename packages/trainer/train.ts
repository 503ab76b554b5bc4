/**
 * The training loop of `deno task pretrain`, TinyLlama's recipe, as a function a program calls:
 * {@link train} takes typed options (the CLI parses its flags into them) and reads as lit-gpt's pretrain
 * does, setup then fit.
 *
 * - {@link setup}: resolve the run (fresh, resumed or from a Hugging Face checkpoint), its model config
 *   and hyper-parameters, open the training and validation data, create the backend, the model and the
 *   optimizer. Every input is checked here, before anything is written.
 * - `fit`: per optimizer step, set the cosine learning rate, accumulate `global / micro` micro-batches of
 *   gradient, clip the global norm, step AdamW; validate and checkpoint at their intervals; stop after a
 *   step when `signal` aborts.
 *
 * Data-parallel training (`opts.parallel`, `deno task pretrain:mpi`) hooks in at marked places: the
 * global batch must split among the ranks, the optimizer may be sharded, every rank agrees that its
 * checks passed before anything is written, each rank trains its own micro-batches of the one sampler
 * stream, the gradients (and the loss) are summed between accumulation and the update, the ranks agree
 * when to stop, and only the writing rank (0) gets a {@link RunFiles} that writes and a log that prints.
 *
 * @module
 */
import { LOCK_FILE, lockRunDir, Progress, type RunDirLock, UserError } from "@tinyllama-ts/cli";
import { checkBlocks, type DataSpec, type MixtureSampler, openDataset } from "@tinyllama-ts/data";
import type { Backend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import {
  checkConfigFits,
  configFromHf,
  type HfExtras,
  loadHfCheckpoint,
  readGgufConfig,
  saveHfCheckpoint,
  TOKENIZER_FILES,
} from "@tinyllama-ts/checkpoint";
import { mixtureValidationLoss, validationSources } from "@tinyllama-ts/eval";
import { Model, type ModelConfig, parseConfig, resolveConfig } from "@tinyllama-ts/model";
import { cosineLr, Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import {
  latestCheckpoint,
  listCheckpoints,
  OPTIMIZER_FILE,
  readCheckpoint,
  removeTemporaries,
  saveCheckpoint,
  TRAINER_STATE_FILE,
  type TrainerState,
} from "./checkpoint.ts";
import {
  accumulationSteps,
  checkHparams,
  DEFAULT_HPARAMS,
  type Hparams,
  type ResolvedHparams,
} from "./hparams.ts";
import { MetricsLog, readMetrics, type StepRecord, type ValRecord } from "./metrics.ts";
import { loadOptimizerState, saveOptimizerState } from "./optimizer_state.ts";
import { accumulateGradients, applyGradients } from "./step.ts";
import { fp32PeakFlops, trainingFlopsPerToken } from "./mfu.ts";
import { type DataParallel, type ParallelOptimizer, ShardedOptimizer } from "./distributed.ts";

/** The run directory when `--out` is not given. */
export const DEFAULT_OUT = "runs/pretrain";
/** The model when neither `--config` nor `--init-from` is given. */
export const DEFAULT_CONFIG = "micro-4l-4k";
/** Non-finite steps in a row that stop the run. */
export const MAX_NON_FINITE_STREAK = 5;

/**
 * Options of {@link train}: the hyper-parameters ({@link Hparams}; those not given default to a resumed
 * checkpoint's, then to {@link DEFAULT_HPARAMS}), where the model and data come from, and hooks.
 */
export interface TrainOptions extends Partial<Hparams> {
  /** The run directory; must be empty unless resuming. */
  out: string;
  /**
   * The model: a preset name, a lit-gpt-style config JSON file, or a config. Default: the resumed
   * checkpoint's, else `initFrom`'s, else {@link DEFAULT_CONFIG}.
   */
  config?: string | ModelConfig;
  /** A Hugging Face checkpoint directory to start from (its config is the model's). */
  initFrom?: string;
  /** The training mixture. Default: the resumed checkpoint's, else `defaultData`. */
  data?: readonly DataSpec[];
  /** The tokenizer the data was made with (checked against the vocabulary; copied into checkpoints). */
  tokenizer?: string;
  /** `"auto"`: continue the newest whole checkpoint in `out` (or start fresh); a path: that checkpoint. */
  resume?: "auto" | string;
  /** The data and tokenizer when neither `data` nor a resumed checkpoint gives them. */
  defaultData?: () => Promise<{ data: DataSpec[]; tokenizer: string }>;
  /** Aborting saves a checkpoint after the current step and returns `interrupted: true`. */
  signal?: AbortSignal;
  /** Called with each step's metrics record, after it is logged. */
  onStep?: (record: StepRecord) => void | Promise<void>;
  /** Called with each validation's record, after it is logged. */
  onValidation?: (record: ValRecord) => void | Promise<void>;
  /**
   * Called while a checkpoint is written: its tensors are in the temporary directory `dir`, its state
   * file and rename are still to come. For tests of what a crash at that moment leaves.
   */
  onCheckpointWrite?: (dir: string, step: number) => void | Promise<void>;
  /** Messages for the user (default: stderr). */
  log?: (line: string) => void;
  /** Show the progress bar even when stderr is not a terminal. */
  forceProgress?: boolean;
  /** Data parallelism over MPI ranks (`deno task pretrain:mpi`); only its writer (rank 0) writes. */
  parallel?: DataParallel;
  /**
   * Activation recomputation (`Model.recompute`): each block's input kept, the block recomputed in
   * the backward; the same gradients bit for bit, less activation memory (default false).
   */
  recompute?: boolean;
}

/** What a run did. */
export interface TrainResult {
  out: string;
  /** The newest checkpoint. */
  checkpoint: string;
  /** Optimizer steps done in total, and in this invocation. */
  steps: number;
  stepsThisRun: number;
  tokens: number;
  /** Training wall-clock seconds in total (across resumptions). */
  seconds: number;
  /** The first and last training losses of the whole run (from metrics.jsonl). */
  firstLoss: number | null;
  lastLoss: number | null;
  valLoss: number | null;
  /** Present (true) when `signal` stopped the run early, after saving. */
  interrupted?: true;
}

/**
 * Trains as `opts` say. Every input is checked before the first write; a bad one is a one-line
 * {@link UserError}.
 *
 * @example
 * ```ts ignore
 * import { train } from "@tinyllama-ts/trainer";
 * const r = await train({ out: "runs/a", config: "micro-4l-4k", data: [{ dir: "data/corpus", weight: 1 }],
 *   maxSteps: 100, microBatchSize: 8, globalBatchSize: 32, lr: 3e-3 });
 * console.log(r.checkpoint, r.lastLoss);
 * ```
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const run = await setup(opts);
  try {
    return await fit(run, opts);
  } finally {
    run.release();
  }
}

/** Everything {@link setup} resolved and opened: what the loop needs. */
export interface Run {
  out: string;
  config: ModelConfig;
  hp: ResolvedHparams;
  data: DataSpec[];
  tokenizer: string | null;
  initFrom: string | null;
  /** The checkpoint continued, if any. */
  resumed: { path: string; state: TrainerState } | null;
  backend: Backend;
  model: Model;
  /** The plain optimizer, or under data parallelism with `shardOptimizer` this rank's shard of it. */
  optimizer: ParallelOptimizer;
  sampler: MixtureSampler;
  /** The sources with validation shards (checked readable), weights renormalised. */
  valSources: DataSpec[];
  /** BOS/EOS ids of the checkpoint the model came from, kept in every checkpoint written. */
  tokenIds: Pick<HfExtras, "bosTokenId" | "eosTokenId"> | null;
  /** Releases the backend, model, optimizer and data, in reverse order of creation. */
  release(): void;
}

/**
 * Resolves and checks the run, opens its data and builds its model and optimizer. Writes nothing.
 *
 * @example
 * ```ts ignore
 * const run = await setup({ out: "runs/a", config: "micro-4l-4k", data: [{ dir: "data/corpus", weight: 1 }] });
 * run.release();
 * ```
 */
export async function setup(opts: TrainOptions): Promise<Run> {
  const par = opts.parallel;
  const log = logger(opts);
  const out = opts.out;

  // ---- the run: fresh, or continuing a checkpoint ----
  let resumed: Run["resumed"] = null;
  if (opts.resume === "auto") {
    resumed = await latestCheckpoint(out, (w) => log(`warning: ${w}`));
  } else if (opts.resume !== undefined) {
    resumed = { path: opts.resume, state: await readCheckpoint(opts.resume) };
  } else if (await isNonEmptyDir(out)) {
    throw new UserError(`${out} is not empty: pass --resume auto to continue that run, or another --out`);
  }
  if (resumed && opts.initFrom) throw new UserError("--init-from and --resume exclude each other");
  const saved = resumed?.state;

  // ---- the model's configuration and the hyper-parameters ----
  const config = await modelConfig(opts, saved);
  const hp = checkHparams(
    { ...DEFAULT_HPARAMS, ...saved?.hparams, ...givenHparams(opts) },
    config.block_size,
  );
  par?.microBatchesPerRank(hp.globalBatchSize, hp.microBatchSize); // a batch that does not split

  // ---- data (training and validation) and tokenizer ----
  let data = opts.data?.length ? [...opts.data] : saved?.data ?? [];
  let tokenizer = opts.tokenizer ?? saved?.tokenizer ?? null;
  if (data.length === 0) {
    if (!opts.defaultData) throw new UserError("no --data given");
    const d = await opts.defaultData();
    data = d.data;
    tokenizer ??= d.tokenizer;
  }
  const release: (() => void)[] = [];
  const releaseAll = () => {
    for (const r of release.reverse()) r();
  };
  try {
    const sampler = openDataset(data, {
      seqLen: hp.seqLen,
      seed: hp.seed,
      state: saved?.sampler,
      vocabSize: config.vocab_size, // ids are checked as they are read, naming the data
    });
    release.push(() => sampler.close());
    const valSources = validationSources(data);
    // The validation blocks are read now (headers, ids against the model), not first after training.
    for (const src of valSources) {
      checkBlocks(src, {
        seqLen: hp.seqLen,
        maxBlocks: hp.evalIters * hp.microBatchSize,
        vocabSize: config.vocab_size,
      });
    }
    await checkVocabulary(config, sampler.vocabSize, tokenizer);

    // ---- the model and optimizer on the backend ----
    const backend = await createBackend(hp.backend);
    release.push(() => backend.destroy());
    const { model, extras, tokenizerPath } = await loadModel(
      backend,
      config,
      hp,
      opts.initFrom,
      resumed,
      opts.config,
    );
    release.push(() => model.destroy());
    model.recompute = opts.recompute ?? false;
    tokenizer ??= tokenizerPath;
    const optimizer = par
      ? par.createOptimizer(backend, model, hp)
      : new Optimizer(backend, paramSlots(model), hp);
    release.push(() => optimizer.free());
    if (resumed) {
      const path = `${resumed.path}/${OPTIMIZER_FILE}`;
      if (optimizer instanceof ShardedOptimizer) await optimizer.loadState(path); // its slice, from any file
      else await loadOptimizerState(optimizer, path);
    }
    // Everything checked. Data-parallel: every rank gets here, or every rank throws the first failure
    // (naming its rank), before any rank writes.
    par?.ready();
    return {
      out,
      config,
      hp,
      data,
      tokenizer,
      initFrom: saved?.initFrom ?? opts.initFrom ?? null,
      resumed,
      backend,
      model,
      optimizer,
      sampler,
      valSources,
      tokenIds: extras ? { bosTokenId: extras.bosTokenId, eosTokenId: extras.eosTokenId } : null,
      release: releaseAll,
    };
  } catch (e) {
    releaseAll();
    throw e;
  }
}

/** The loop: from the run's step to `maxSteps`, then the result. */
async function fit(run: Run, opts: TrainOptions): Promise<TrainResult> {
  const par = opts.parallel, writer = par?.writer ?? true;
  const log = logger(opts);
  const { out, config, hp, model, optimizer, sampler } = run;
  const saved = run.resumed?.state;
  const startStep = saved?.step ?? 0;
  const accum = accumulationSteps(hp);
  const stepTokens = hp.globalBatchSize * hp.seqLen;
  const flopsPerToken = trainingFlopsPerToken(config, model.numParams, hp.seqLen);
  const peak = run.backend.info.gpu ? fp32PeakFlops(run.backend.info.device) : undefined;
  const schedule = { lr: hp.lr, minLr: hp.minLr, warmupSteps: hp.warmupSteps, maxSteps: hp.maxSteps };
  let tokens = saved?.tokens ?? 0;
  let streak = saved?.nonFiniteStreak ?? 0;
  const t0 = performance.now();
  const elapsed = () => (saved?.elapsed ?? 0) + (performance.now() - t0) / 1000;

  // A data-parallel run gives every rank but the writing one a RunFiles that writes nothing.
  const files = writer ? await RunFiles.open(run, opts.onCheckpointWrite) : RunFiles.inert(run);
  const state = (step: number): Omit<TrainerState, "files"> => ({
    step,
    tokens,
    elapsed: elapsed(),
    nonFiniteStreak: streak,
    sampler: sampler.state(),
    rng: { seed: hp.seed },
    config,
    hparams: hp,
    data: run.data,
    tokenizer: run.tokenizer,
    initFrom: run.initFrom,
  });

  log(
    startStep < hp.maxSteps
      ? `training ${config.name} (${
        (model.numParams / 1e6).toFixed(2)
      }M parameters) on ${run.backend.info.name}: ` +
        `steps ${startStep}..${hp.maxSteps - 1}, ${hp.globalBatchSize}×${hp.seqLen} tokens a step` +
        `${accum > 1 ? ` (${accum} micro-batches of ${hp.microBatchSize})` : ""} → ${out}`
      : `${out}: already trained to step ${startStep} of ${hp.maxSteps}`,
  );
  if (par && startStep < hp.maxSteps) {
    const mib = (par.optimizerBytes(model) / 2 ** 20).toFixed(2);
    log(`${par.size} ranks; optimizer state ${mib} MiB a rank${par.shardOptimizer ? " (sharded)" : ""}`);
  }
  const bar = writer
    ? new Progress({ total: hp.maxSteps - startStep, label: "step", forceTty: opts.forceProgress })
    : null;
  let step = startStep, stopped = false;
  try {
    for (; step < hp.maxSteps; step++) {
      // ---- one optimizer step ----
      const stepStart = performance.now();
      const lr = cosineLr(step, schedule);
      // Data-parallel: every rank draws every micro-batch and trains those it owns.
      const owns = par && ((i: number) => par.owns(i, accum));
      const ownLoss = await accumulateGradients(
        model,
        () => sampler.nextBatch(hp.microBatchSize),
        accum,
        owns,
      );
      // Data-parallel: the gradients and the loss are summed across ranks here; every rank updates alike.
      const { loss, gradNorm, applied } = par
        ? await par.syncAndUpdate(model, optimizer, ownLoss, lr)
        : await applyGradients(optimizer as Optimizer, ownLoss, lr); // one process: never sharded
      const seconds = (performance.now() - stepStart) / 1000;
      tokens += stepTokens;
      streak = applied ? 0 : streak + 1;
      const record: StepRecord = {
        step,
        loss: Number.isFinite(loss) ? loss : null,
        lr,
        grad_norm: Number.isFinite(gradNorm) ? gradNorm : null,
        tokens,
        tokens_per_sec: stepTokens / seconds,
        elapsed: elapsed(),
      };
      if (peak !== undefined) record.mfu = (flopsPerToken * stepTokens) / seconds / peak;
      if (!applied) {
        record.skipped = true;
        log(
          `\nwarning: step ${step}: non-finite ${
            Number.isFinite(loss) ? "gradient norm" : "loss"
          }; step skipped`,
        );
      }
      files.append(record);
      await opts.onStep?.(record);
      bar?.update(
        step + 1 - startStep,
        `${step + 1}/${hp.maxSteps} loss ${fmt(loss)} ${fmtRate(record.tokens_per_sec)} tok/s`,
      );
      if (streak >= MAX_NON_FINITE_STREAK) {
        throw new UserError(
          `stopping: ${streak} non-finite steps in a row (steps ${step - streak + 1}–${step}); the run ` +
            `diverged, resume from ${files.lastCheckpoint || "a fresh start"} with a lower --lr`,
        );
      }

      // ---- validation and checkpoints ----
      const last = step === hp.maxSteps - 1;
      if (writer && run.valSources.length > 0 && (last || every(hp.evalInterval, step))) {
        const { loss: valLoss } = await mixtureValidationLoss(model, run.valSources, {
          seqLen: hp.seqLen,
          batchSize: hp.microBatchSize,
          maxBatches: hp.evalIters,
        });
        const v: ValRecord = { step, val_loss: valLoss, val_ppl: Math.exp(valLoss), elapsed: elapsed() };
        files.append(v);
        await opts.onValidation?.(v);
      }
      // A macrotask turn, so that signal listeners (and an AbortController's callers) run: on a CPU
      // backend every await above resolves as a microtask and would keep them waiting to the end.
      await new Promise((resolve) => setTimeout(resolve, 0));
      // Data-parallel: every rank stops after the same step, whichever got the signal.
      const stop = stopped = par
        ? par.agreeStop(opts.signal?.aborted ?? false)
        : opts.signal?.aborted ?? false;
      if (last || every(hp.saveInterval, step) || stop) {
        await par?.beforeSave(optimizer); // every rank: a sharded optimizer gathers its moments to rank 0
        await files.save(model, optimizer, state(step + 1));
      }
      if (stop) {
        step++;
        break;
      }
    }
  } finally {
    if (step > startStep) bar?.done();
    files.close();
  }
  const summary = await files.summary();
  return {
    out,
    checkpoint: files.lastCheckpoint,
    steps: files.savedStep,
    stepsThisRun: files.savedStep - startStep,
    tokens,
    seconds: elapsed(),
    ...summary,
    ...(stopped ? { interrupted: true as const } : {}),
  };
}

/**
 * What a run writes into its directory: the metrics file and the checkpoints (the Deno file I/O of the
 * loop, at its edge). Opening it is the point after which the run directory is written. The ranks of a
 * data-parallel run other than the writer get an {@link RunFiles.inert} one, which writes nothing.
 */
class RunFiles {
  lastCheckpoint: string;
  savedStep: number;
  readonly #run: Run;
  /** Null when inert (and then so is the lock). */
  readonly #metrics: MetricsLog | null;
  readonly #onWrite?: (dir: string, step: number) => void | Promise<void>;
  readonly #tokenizerFrom?: string;
  readonly #lock: RunDirLock | null;

  private constructor(
    run: Run,
    lock: RunDirLock | null,
    metrics: MetricsLog | null,
    onWrite?: (dir: string, step: number) => void | Promise<void>,
  ) {
    this.#run = run;
    this.#lock = lock;
    this.#metrics = metrics;
    this.#onWrite = onWrite;
    this.lastCheckpoint = run.resumed?.path ?? "";
    this.savedStep = run.resumed?.state.step ?? 0;
    const t = run.tokenizer;
    this.#tokenizerFrom = t !== null && TOKENIZER_FILES.includes(basename(t)) ? dirname(t) : undefined;
  }

  static async open(
    run: Run,
    onWrite?: (dir: string, step: number) => void | Promise<void>,
  ): Promise<RunFiles> {
    const lock = await lockRunDir(run.out, "--out"); // one writer per run directory
    try {
      await removeTemporaries(run.out);
      const metrics = await MetricsLog.open(`${run.out}/metrics.jsonl`, run.resumed?.state.step ?? 0);
      return new RunFiles(run, lock, metrics, onWrite);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** Run files that write nothing: those of a data-parallel rank other than the writer. */
  static inert(run: Run): RunFiles {
    return new RunFiles(run, null, null);
  }

  append(record: StepRecord | ValRecord): void {
    this.#metrics?.append(record);
  }

  /**
   * Writes the checkpoint of `state.step` (the metrics synced first, so they cover it). A sharded
   * optimizer writes the moments it gathered ({@link DataParallel.beforeSave}) in the plain format.
   */
  async save(model: Model, optimizer: ParallelOptimizer, state: Omit<TrainerState, "files">): Promise<void> {
    if (!this.#metrics) return void (this.savedStep = state.step);
    await this.#metrics.sync();
    this.lastCheckpoint = await saveCheckpoint(
      this.#run.out,
      state,
      this.#run.hp.keepCheckpoints,
      async (dir) => {
        await saveHfCheckpoint(model, dir, { tokenizerFrom: this.#tokenizerFrom, ...this.#run.tokenIds });
        const path = `${dir}/${OPTIMIZER_FILE}`;
        if (optimizer instanceof ShardedOptimizer) await optimizer.saveState(path);
        else await saveOptimizerState(optimizer, path);
        await this.#onWrite?.(dir, state.step);
      },
    );
    this.savedStep = state.step;
  }

  close(): void {
    this.#metrics?.close();
    this.#lock?.release();
  }

  /** The first and last training losses and the last validation loss of the whole run (inert: none). */
  async summary(): Promise<Pick<TrainResult, "firstLoss" | "lastLoss" | "valLoss">> {
    const all = this.#metrics ? await readMetrics(`${this.#run.out}/metrics.jsonl`) : [];
    const losses = all.filter((r): r is StepRecord => "loss" in r && r.loss !== null);
    const vals = all.filter((r): r is ValRecord => "val_loss" in r);
    return {
      firstLoss: losses[0]?.loss ?? null,
      lastLoss: losses.at(-1)?.loss ?? null,
      valLoss: vals.at(-1)?.val_loss ?? null,
    };
  }
}

/** Where messages go: `opts.log` or stderr; nowhere on a data-parallel rank other than the writer. */
function logger(opts: TrainOptions): (line: string) => void {
  if (opts.parallel && !opts.parallel.writer) return () => {};
  return opts.log ?? ((s: string) => console.error(s));
}

/** The hyper-parameters among `opts` (those given, not undefined). */
function givenHparams(opts: TrainOptions): Partial<Hparams> {
  const given: Record<string, unknown> = {};
  for (const k of Object.keys(DEFAULT_HPARAMS) as (keyof Hparams)[]) {
    if (opts[k] !== undefined) given[k] = opts[k];
  }
  return given as Partial<Hparams>;
}

/** The model's config: the resumed checkpoint's (a given one must agree), `initFrom`'s, or the given one. */
async function modelConfig(opts: TrainOptions, saved: TrainerState | undefined): Promise<ModelConfig> {
  const given = opts.config === undefined
    ? undefined
    : typeof opts.config === "string"
    ? await resolveConfig(opts.config)
    : parseConfig(opts.config, "config");
  if (saved) {
    if (given && !sameArchitecture(given, saved.config)) {
      throw new UserError(
        `--config ${
          typeof opts.config === "string" ? opts.config : given.name
        } differs from the checkpoint's model (${describe(saved.config)})`,
      );
    }
    return saved.config;
  }
  if (opts.initFrom) {
    if (given) {
      throw new UserError("--config and --init-from exclude each other (a checkpoint brings its config)");
    }
    return await readHfConfig(opts.initFrom);
  }
  return given ?? await resolveConfig(DEFAULT_CONFIG);
}

/** The data's and the tokenizer's vocabularies fit the model's. */
async function checkVocabulary(config: ModelConfig, dataVocab: number | undefined, tokenizer: string | null) {
  if (dataVocab !== undefined && dataVocab > config.vocab_size) {
    throw new UserError(
      `the data was tokenized with ${dataVocab} pieces, more than the model's vocab_size ${config.vocab_size}`,
    );
  }
  if (tokenizer !== null) {
    const tok = await loadTokenizer(tokenizer);
    if (tok.vocabSize > config.vocab_size) {
      throw new UserError(
        `${tokenizer} has ${tok.vocabSize} pieces, more than the model's vocab_size ${config.vocab_size}`,
      );
    }
  }
}

/** The model: the resumed checkpoint's, `initFrom`'s, or a fresh TinyLlama initialisation. */
async function loadModel(
  backend: Backend,
  config: ModelConfig,
  hp: ResolvedHparams,
  initFrom: string | undefined,
  resumed: Run["resumed"],
  configSource: TrainOptions["config"],
): Promise<{ model: Model; extras: HfExtras | null; tokenizerPath: string | null }> {
  if (resumed || initFrom) {
    const dir = resumed?.path ?? initFrom!;
    const loaded = await loadHfCheckpoint(dir, backend);
    if (resumed && !sameArchitecture(loaded.model.config, config)) {
      loaded.model.destroy();
      throw new UserError(
        `${dir}/config.json disagrees with its ${TRAINER_STATE_FILE} (${describe(config)})`,
      );
    }
    return {
      model: loaded.model,
      extras: loaded.extras,
      tokenizerPath: resumed ? null : loaded.tokenizerPath,
    };
  }
  // Before any allocation; a fresh model's config came from a preset or file named by `--config`.
  checkConfigFits(config, backend.info, typeof configSource === "string" ? configSource : config.name);
  const model = new Model(backend, config);
  model.init(hp.seed, "tinyllama");
  return { model, extras: null, tokenizerPath: null };
}

/** Whether an interval of `n` steps (0: never) ends at `step`. */
function every(n: number, step: number): boolean {
  return n > 0 && (step + 1) % n === 0;
}

/** The numeric fields that make two configs the same network (the name aside). */
function sameArchitecture(a: ModelConfig, b: ModelConfig): boolean {
  const keys = [
    "vocab_size",
    "n_embd",
    "n_layer",
    "n_head",
    "n_query_groups",
    "intermediate_size",
    "block_size",
  ] as const;
  return keys.every((k) => a[k] === b[k]) && a.norm_eps === b.norm_eps && a.rope_base === b.rope_base;
}

function describe(c: ModelConfig): string {
  return `${c.name}: n_layer ${c.n_layer}, n_embd ${c.n_embd}, n_head ${c.n_head}, vocab ${c.vocab_size}`;
}

/** `--init-from`'s config, read before the backend exists (the hyper-parameters are checked against it). */
async function readHfConfig(dir: string): Promise<ModelConfig> {
  if (/\.gguf$/i.test(dir)) return await readGgufConfig(dir); // a GGUF file is a checkpoint too
  const path = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(`--init-from ${dir}: no config.json (not a Hugging Face checkpoint?)`);
    }
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return configFromHf(json, path, basename(dir.replace(/\/+$/, "")) || "hf").config;
}

/**
 * Whether `path` holds a run. What a fresh run that failed before its first checkpoint leaves (its
 * metrics.jsonl, a checkpoints directory without a checkpoint, its lock file) does not count: the next
 * fresh run starts over there instead of refusing it.
 */
async function isNonEmptyDir(path: string): Promise<boolean> {
  try {
    for await (const e of Deno.readDir(path)) {
      if (e.name === "metrics.jsonl" || e.name === LOCK_FILE) continue;
      if (e.name === "checkpoints" && (await listCheckpoints(path)).length === 0) continue;
      return true;
    }
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    if (e instanceof Deno.errors.NotADirectory) {
      throw new UserError(`--out ${path} is a file, not a directory`);
    }
    throw e;
  }
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

function fmtRate(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}
