/**
 * The training loop of `deno task pretrain`, TinyLlama's recipe: per optimizer step, set the cosine
 * learning rate, accumulate `global / micro` micro-batches of gradient (each scaled by 1/accumulation),
 * clip the global norm, step AdamW; validate and checkpoint at their intervals. It reads top to bottom:
 * resolve the run (fresh, resumed or from a Hugging Face checkpoint), check every input before anything
 * is written, then loop.
 *
 * @module
 */
import { Progress, UserError } from "@tinyllama-ts/cli";
import { type DataSpec, openDataset } from "@tinyllama-ts/data";
import type { Backend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import { configFromHf, loadHfCheckpoint, saveHfCheckpoint, TOKENIZER_FILES } from "@tinyllama-ts/checkpoint";
import { Model, type ModelConfig, resolveConfig } from "@tinyllama-ts/model";
import { cosineLr, Optimizer, paramSlots } from "@tinyllama-ts/optim";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import {
  latestCheckpoint,
  OPTIMIZER_FILE,
  readCheckpoint,
  removeTemporaries,
  saveCheckpoint,
  TRAINER_STATE_FILE,
  type TrainerState,
} from "./checkpoint.ts";
import type { PretrainFlags } from "./flags.ts";
import { accumulationSteps, checkHparams, DEFAULT_HPARAMS, type Hparams } from "./hparams.ts";
import { MetricsLog, readMetrics, type StepRecord, type ValRecord } from "./metrics.ts";
import { optimizerStep } from "./step.ts";
import { fp32PeakFlops, trainingFlopsPerToken } from "./mfu.ts";
import { validationLoss, validationSources } from "./validation.ts";
import type { DataParallel } from "./distributed.ts";

/** The run directory when `--out` is not given. */
export const DEFAULT_OUT = "runs/pretrain";
/** The model when neither `--config` nor `--init-from` is given. */
export const DEFAULT_CONFIG = "micro-4l-4k";
/** Non-finite steps in a row that stop the run. */
export const MAX_NON_FINITE_STREAK = 5;

/** Options of {@link train}. */
export interface TrainOptions {
  flags: PretrainFlags;
  /** The data and tokenizer when `--data` is not given (the built-in corpus). */
  defaultData?: () => Promise<{ data: DataSpec[]; tokenizer: string }>;
  /** Messages for the user (default: stderr). */
  log?: (line: string) => void;
  /** Show the progress bar even when stderr is not a terminal. */
  forceProgress?: boolean;
  /** Data parallelism over MPI ranks (`deno task pretrain:mpi`); only rank 0 writes. */
  parallel?: DataParallel;
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
  /** The signal that stopped the run early, after saving. */
  interrupted?: "SIGINT" | "SIGTERM";
}

/**
 * Trains as the flags say. Every input is checked before the first write; a bad one is a one-line
 * {@link UserError}. SIGINT/SIGTERM save a checkpoint after the current step and return `interrupted`.
 *
 * @example
 * ```ts ignore
 * import { parsePretrainFlags, train } from "@tinyllama-ts/trainer";
 * const result = await train({ flags: parsePretrainFlags(["--data", "data/corpus", "--max-steps", "20"]) });
 * ```
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const flags = opts.flags;
  const par = opts.parallel, writer = par?.writer ?? true;
  const log = writer ? opts.log ?? ((s: string) => console.error(s)) : () => {};
  const out = flags.out ?? DEFAULT_OUT;

  // ---- the run: fresh, or continuing a checkpoint ----
  let resume: { path: string; state: TrainerState } | null = null;
  if (flags.resume === "auto") {
    resume = await latestCheckpoint(out, (w) => log(`warning: ${w}`));
  } else if (flags.resume !== undefined) {
    resume = { path: flags.resume, state: await readCheckpoint(flags.resume) };
  } else if (await isNonEmptyDir(out)) {
    throw new UserError(`${out} is not empty: pass --resume auto to continue that run, or another --out`);
  }
  if (resume && flags.initFrom) throw new UserError("--init-from and --resume exclude each other");
  const saved = resume?.state;
  const hpGiven: Hparams = { ...DEFAULT_HPARAMS, ...saved?.hparams, ...flags.hparams };

  // ---- the model's configuration ----
  let config: ModelConfig;
  if (saved) {
    config = saved.config;
    if (flags.config) {
      const given = await resolveConfig(flags.config);
      if (!sameArchitecture(given, config)) {
        throw new UserError(
          `--config ${flags.config} differs from the checkpoint's model (${describe(config)})`,
        );
      }
    }
  } else if (flags.initFrom) {
    config = await readHfConfig(flags.initFrom);
  } else {
    config = await resolveConfig(flags.config ?? DEFAULT_CONFIG);
  }
  const hp = checkHparams(hpGiven, config.block_size);
  par?.microBatchesPerRank(hp.globalBatchSize, hp.microBatchSize);

  // ---- data and tokenizer ----
  let data = flags.data.length > 0 ? flags.data : saved?.data ?? [];
  let tokenizer = flags.tokenizer ?? saved?.tokenizer ?? null;
  if (data.length === 0) {
    if (!opts.defaultData) throw new UserError("no --data given");
    const d = await opts.defaultData();
    data = d.data;
    tokenizer ??= d.tokenizer;
  }
  const sampler = openDataset(data, { seqLen: hp.seqLen, seed: hp.seed, state: saved?.sampler });
  // Released in reverse order when the run ends, however it ends.
  const cleanup: (() => void)[] = [() => sampler.close()];
  try {
    if (sampler.vocabSize !== undefined && sampler.vocabSize > config.vocab_size) {
      throw new UserError(
        `the data was tokenized with ${sampler.vocabSize} pieces, more than the model's vocab_size ${config.vocab_size}`,
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
    const valSources = validationSources(data);

    // ---- the model and optimizer on the backend ----
    const backend = await createBackend(hp.backend);
    cleanup.push(() => backend.destroy());
    let model: Model;
    if (resume) {
      model = (await loadHfCheckpoint(resume.path, backend)).model;
      if (!sameArchitecture(model.config, config)) {
        throw new UserError(
          `${resume.path}/config.json disagrees with its ${TRAINER_STATE_FILE} (${describe(config)})`,
        );
      }
    } else if (flags.initFrom) {
      const loaded = await loadHfCheckpoint(flags.initFrom, backend);
      model = loaded.model;
      tokenizer ??= loaded.tokenizerPath;
    } else {
      model = new Model(backend, config);
      model.init(hp.seed, "tinyllama");
    }
    cleanup.push(() => model.destroy());
    const optimizer = par
      ? par.createOptimizer(backend, model, hp)
      : new Optimizer(backend, paramSlots(model), hp);
    cleanup.push(() => optimizer.free());
    if (resume) await optimizer.loadState(`${resume.path}/${OPTIMIZER_FILE}`);

    // ---- everything checked: from here on the run directory is written ----
    par?.ready();
    const startStep = saved?.step ?? 0;
    if (writer) await Deno.mkdir(out, { recursive: true });
    if (writer) await removeTemporaries(out);
    const metrics = writer ? await MetricsLog.open(`${out}/metrics.jsonl`, startStep) : null;
    const accum = accumulationSteps(hp);
    const stepTokens = hp.globalBatchSize * hp.seqLen;
    const flopsPerToken = trainingFlopsPerToken(config, model.numParams, hp.seqLen);
    const peak = fp32PeakFlops(deviceDescription(backend));
    const schedule = { lr: hp.lr, minLr: hp.minLr, warmupSteps: hp.warmupSteps, maxSteps: hp.maxSteps };
    const tokenizerFrom = tokenizer !== null && TOKENIZER_FILES.includes(basename(tokenizer))
      ? dirname(tokenizer)
      : undefined;
    let tokens = saved?.tokens ?? 0;
    let streak = saved?.nonFiniteStreak ?? 0;
    let lastCheckpoint = resume?.path ?? "";
    let savedStep = startStep;
    const t0 = performance.now();
    const elapsed = () => (saved?.elapsed ?? 0) + (performance.now() - t0) / 1000;

    const save = async (step: number) => {
      await par?.beforeSave(optimizer);
      if (!metrics) return void (savedStep = step);
      await metrics.sync();
      lastCheckpoint = await saveCheckpoint(
        out,
        {
          format: "tinyllama-ts/trainer-state",
          version: 1,
          step,
          tokens,
          elapsed: elapsed(),
          nonFiniteStreak: streak,
          sampler: sampler.state(),
          rng: { seed: hp.seed },
          config,
          hparams: hp,
          data,
          tokenizer,
          initFrom: saved?.initFrom ?? flags.initFrom ?? null,
        },
        hp.keepCheckpoints,
        async (dir) => {
          await saveHfCheckpoint(model, dir, { tokenizerFrom });
          await optimizer.saveState(`${dir}/${OPTIMIZER_FILE}`);
        },
      );
      savedStep = step;
    };

    let stop: "SIGINT" | "SIGTERM" | undefined;
    const onInt = () => stop = "SIGINT", onTerm = () => stop = "SIGTERM";
    Deno.addSignalListener("SIGINT", onInt);
    Deno.addSignalListener("SIGTERM", onTerm);
    if (startStep < hp.maxSteps) {
      const size = `${(model.numParams / 1e6).toFixed(2)}M parameters`;
      const micro = accum > 1 ? ` (${accum} micro-batches of ${hp.microBatchSize})` : "";
      log(
        `training ${config.name} (${size}) on ${backend.info.name}: steps ${startStep}..${
          hp.maxSteps - 1
        }, ` +
          `${hp.globalBatchSize}×${hp.seqLen} tokens a step${micro} → ${out}`,
      );
      if (par) {
        const mb = (par.optimizerBytes(model) / 2 ** 20).toFixed(2);
        log(`${par.size} ranks; optimizer state ${mb} MiB a rank${par.shardOptimizer ? " (sharded)" : ""}`);
      }
    } else {
      log(`${out}: already trained to step ${startStep} of ${hp.maxSteps}`);
    }
    const bar = new Progress({ total: hp.maxSteps - startStep, label: "step", forceTty: opts.forceProgress });
    try {
      for (let step = startStep; step < hp.maxSteps; step++) {
        // ---- one optimizer step ----
        const stepStart = performance.now();
        const lr = cosineLr(step, schedule);
        const { loss, gradNorm, applied } = par
          ? await par.step(model, optimizer, sampler, hp.microBatchSize, accum, lr)
          : await optimizerStep(
            model,
            optimizer as Optimizer,
            () => sampler.nextBatch(hp.microBatchSize),
            accum,
            lr,
          );
        const seconds = (performance.now() - stepStart) / 1000;
        tokens += stepTokens;
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
        if (applied) {
          streak = 0;
        } else {
          record.skipped = true;
          streak++;
          const what = Number.isFinite(loss) ? "gradient norm" : "loss";
          log(`\nwarning: step ${step}: non-finite ${what}; step skipped`);
        }
        metrics?.append(record);
        bar.update(
          step + 1 - startStep,
          `${step + 1}/${hp.maxSteps} loss ${fmt(loss)} ${fmtRate(record.tokens_per_sec)} tok/s`,
        );
        if (streak >= MAX_NON_FINITE_STREAK) {
          const from = lastCheckpoint || "a fresh start";
          throw new UserError(
            `stopping: ${streak} non-finite steps in a row (steps ${step - streak + 1}–${step}); the run ` +
              `diverged, resume from ${from} with a lower --lr`,
          );
        }

        // ---- validation and checkpoints ----
        const last = step === hp.maxSteps - 1;
        if (
          writer && valSources.length > 0 &&
          (last || (hp.evalInterval > 0 && (step + 1) % hp.evalInterval === 0))
        ) {
          const valLoss = await validationLoss(model, valSources, {
            seqLen: hp.seqLen,
            batchSize: hp.microBatchSize,
            iters: hp.evalIters,
          });
          const v: ValRecord = { step, val_loss: valLoss, val_ppl: Math.exp(valLoss), elapsed: elapsed() };
          metrics?.append(v);
        }
        // A macrotask turn, so that the signal listeners run: on a CPU backend every await above resolves
        // as a microtask and would keep them waiting until the end of the run.
        await new Promise((resolve) => setTimeout(resolve, 0));
        // Under MPI every rank stops after the same step, whichever got the signal.
        const halt = par ? par.agreeStop(stop !== undefined) : stop !== undefined;
        if (halt) stop ??= "SIGTERM";
        if (last || (hp.saveInterval > 0 && (step + 1) % hp.saveInterval === 0) || halt) await save(step + 1);
        if (halt) break;
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
      if (writer && tokens > (saved?.tokens ?? 0)) bar.done();
      metrics?.close();
    }

    const all = writer ? await readMetrics(`${out}/metrics.jsonl`) : [];
    const losses = all.filter((r): r is StepRecord => "loss" in r && r.loss !== null);
    const vals = all.filter((r): r is ValRecord => "val_loss" in r);
    return {
      out,
      checkpoint: lastCheckpoint,
      steps: savedStep,
      stepsThisRun: savedStep - startStep,
      tokens,
      seconds: elapsed(),
      firstLoss: losses[0]?.loss ?? null,
      lastLoss: losses.at(-1)?.loss ?? null,
      valLoss: vals.at(-1)?.val_loss ?? null,
      ...(stop ? { interrupted: stop } : {}),
    };
  } finally {
    for (const release of cleanup.reverse()) release();
  }
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

/** A WebGPU backend's adapter name, if it has one (a CPU backend has no known peak). */
function deviceDescription(backend: Backend): string | undefined {
  return backend.info.gpu ? backend.info.device : undefined;
}

async function isNonEmptyDir(path: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(path)) return true;
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
