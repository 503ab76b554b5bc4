/**
 * The stages of `deno task pretrain` beyond training: preparing the built-in corpus and tokenizer
 * (cached), evaluating the newest checkpoint (validation loss and a sample) and writing the report.
 * Each is a Deno task of its own (`pretrain:prepare`, `pretrain:eval`, `pretrain:report`); without
 * arguments `deno task pretrain` runs them all in one process, with training between.
 *
 * @module
 */
import { exists, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import { type DataSpec, materializeBuiltinCorpus, prepareBuiltinCorpus } from "@tinyllama-ts/data";
import { createBackend } from "@tinyllama-ts/backends";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { mixtureValidationLoss, validationSources } from "@tinyllama-ts/eval";
import { generate } from "@tinyllama-ts/model";
import { loadTokenizer, trainBpeTokenizer } from "@tinyllama-ts/tokenizer";
import { latestCheckpoint } from "./checkpoint.ts";
import { readMetrics, type StepRecord, type ValRecord } from "./metrics.ts";
import { renderReport } from "./report.ts";

/** Where the built-in corpus, its tokenizer and its prepared shards are cached. */
export const BUILTIN = Object.freeze({
  corpus: "runs/builtin-corpus",
  tokenizer: "runs/builtin-tokenizer/tokenizer.model",
  data: "runs/builtin-data",
});

/** Pieces of the built-in tokenizer (the `-4k` presets' vocabulary). */
export const BUILTIN_VOCAB = 4096;
/** Text the built-in tokenizer is trained on, at most (a sample of the corpus, 7:3 like the mixture). */
const TOKENIZER_TRAIN_BYTES = 3_000_000;
/** Validation batches of the final evaluation (at most; the built-in split has fewer). */
export const FINAL_EVAL_BATCHES = 32;

/**
 * Materialises the built-in corpus, trains its 4096-piece tokenizer and prepares the 7:3 mixture, each
 * step skipped when its cached result is there.
 *
 * @example
 * ```ts ignore
 * const { data, tokenizer } = await prepareBuiltin(console.error);
 * ```
 */
export async function prepareBuiltin(
  log: (s: string) => void,
): Promise<{ data: DataSpec[]; tokenizer: string }> {
  const corpus = await materializeBuiltinCorpus(BUILTIN.corpus);
  if (!(await exists(BUILTIN.tokenizer))) {
    const t0 = performance.now();
    const texts = [
      ...await sampleTexts(`${corpus.natural}/sotu.jsonl`, "text", TOKENIZER_TRAIN_BYTES * 0.7),
      ...await sampleTexts(`${corpus.code}/code.jsonl`, "content", TOKENIZER_TRAIN_BYTES * 0.3),
    ];
    const trained = trainBpeTokenizer(texts, { vocabSize: BUILTIN_VOCAB });
    await Deno.mkdir(BUILTIN.tokenizer.slice(0, BUILTIN.tokenizer.lastIndexOf("/")), { recursive: true });
    await writeFileAtomic(BUILTIN.tokenizer, trained.toModelBytes());
    log(
      `trained the built-in ${BUILTIN_VOCAB}-piece tokenizer in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      }s`,
    );
  }
  const data = await prepareBuiltinCorpus({
    tokenizer: BUILTIN.tokenizer,
    out: BUILTIN.data,
    corpusDir: BUILTIN.corpus,
    onPrepared: (part, s) => log(`prepared the built-in corpus (${part}): ${s.documents} documents`),
  });
  return { data, tokenizer: BUILTIN.tokenizer };
}

/** Every k-th document of a JSONL file (field `field`), k chosen to give about `bytes` of text. */
async function sampleTexts(path: string, field: string, bytes: number): Promise<string[]> {
  const docs = (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "").map((l) =>
    JSON.parse(l)[field] as string
  );
  const total = docs.reduce((a, d) => a + d.length, 0);
  const every = Math.max(1, Math.round(total / bytes));
  return docs.filter((_, i) => i % every === 0);
}

/** `OUT/eval.json`: the final evaluation of a checkpoint. */
export interface EvalResult {
  checkpoint: string;
  step: number;
  val_loss: number | null;
  val_ppl: number | null;
  /** Validation tokens the loss averages over. */
  val_tokens: number;
  sample: { prompt: string; completion: string; settings: string } | null;
  seconds: number;
}

/** The prompt of the report's sample. */
export const SAMPLE_PROMPT = "The";

/**
 * Evaluates the newest checkpoint in `out`: the validation loss over up to {@link FINAL_EVAL_BATCHES}
 * batches of each source's validation split, and a sample from {@link SAMPLE_PROMPT} (temperature 0.8,
 * top-k 40, the run's seed) when the run has a tokenizer. Writes `OUT/eval.json`.
 */
export async function evaluate(out: string, log: (s: string) => void): Promise<EvalResult> {
  const t0 = performance.now();
  const ckpt = await latestCheckpoint(out, (w) => log(`warning: ${w}`));
  if (!ckpt) throw new UserError(`${out}: no checkpoint to evaluate (train first)`);
  const s = ckpt.state;
  const backend = await createBackend(s.hparams.backend);
  const { model } = await loadHfCheckpoint(ckpt.path, backend);
  try {
    const sources = validationSources(s.data);
    let valLoss: number | null = null, valTokens = 0;
    if (sources.length > 0) {
      const r = await mixtureValidationLoss(model, sources, {
        seqLen: s.hparams.seqLen,
        batchSize: s.hparams.microBatchSize,
        maxBatches: FINAL_EVAL_BATCHES,
      });
      valLoss = r.loss;
      valTokens = r.tokens;
    } else {
      log(`warning: ${s.data.map((d) => d.dir).join(", ")}: no validation shards, no validation loss`);
    }
    let sample: EvalResult["sample"] = null;
    if (s.tokenizer !== null) {
      const tok = await loadTokenizer(s.tokenizer);
      const prompt = tok.encode(SAMPLE_PROMPT, { bos: true });
      const maxNewTokens = Math.min(96, s.config.block_size - prompt.length);
      const ids = await generate(model, prompt, {
        maxNewTokens,
        temperature: 0.8,
        topK: 40,
        seed: s.hparams.seed,
        stopIds: tok.eosId >= 0 ? [tok.eosId] : [],
      });
      const text = tok.decode([...prompt, ...ids]);
      sample = {
        prompt: SAMPLE_PROMPT,
        completion: text.startsWith(SAMPLE_PROMPT) ? text.slice(SAMPLE_PROMPT.length) : text,
        settings: `${ids.length} tokens, temperature 0.8, top-k 40, seed ${s.hparams.seed}`,
      };
    }
    const result: EvalResult = {
      checkpoint: ckpt.path,
      step: s.step,
      val_loss: valLoss,
      val_ppl: valLoss === null ? null : Math.exp(valLoss),
      val_tokens: valTokens,
      sample,
      seconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomic(
      `${out}/eval.json`,
      new TextEncoder().encode(JSON.stringify(result, null, 2) + "\n"),
    );
    return result;
  } finally {
    model.destroy();
    backend.destroy();
  }
}

/** The one-line JSON summary that `deno task pretrain` prints last. */
export interface Summary {
  out: string;
  checkpoint: string;
  val_loss: number | null;
  tokens: number;
  seconds: number;
}

/**
 * Writes `OUT/report.html` from the run's metrics, its newest checkpoint's state and `eval.json` (when it
 * evaluated that checkpoint), and returns the summary. `seconds` is the pipeline's wall clock when the
 * caller ran it; null (the report stage alone) takes the training and evaluation times recorded.
 */
export async function writeReport(
  out: string,
  seconds: number | null,
  log: (s: string) => void,
): Promise<Summary> {
  const ckpt = await latestCheckpoint(out, (w) => log(`warning: ${w}`));
  if (!ckpt) throw new UserError(`${out}: no checkpoint to report on (train first)`);
  const s = ckpt.state;
  const metrics = (await readMetrics(`${out}/metrics.jsonl`)).filter((r) => r.step < s.step);
  let ev: EvalResult | null = null;
  try {
    ev = JSON.parse(await Deno.readTextFile(`${out}/eval.json`));
    if (ev?.checkpoint !== ckpt.path) ev = null;
  } catch {
    ev = null;
  }
  const steps = metrics.filter((r): r is StepRecord => "loss" in r);
  const losses = steps.filter((r) => r.loss !== null);
  const lastVal = metrics.filter((r): r is ValRecord => "val_loss" in r).at(-1);
  const valLoss = ev?.val_loss ?? lastVal?.val_loss ?? null;
  const first = losses[0]?.loss ?? null, last = losses.at(-1)?.loss ?? null;
  const meanRate = steps.length > 0 ? steps.reduce((a, r) => a + r.tokens_per_sec, 0) / steps.length : null;
  const html = renderReport({
    title: `tinyllama-ts pretraining: ${s.config.name}, ${s.step} steps`,
    metrics,
    config: { ...s.config },
    hparams: {
      ...s.hparams,
      data: s.data.map((d) => `${d.dir}:${d.weight}`).join(" "),
      tokenizer: s.tokenizer,
    },
    final: {
      "optimizer steps": s.step,
      "tokens": s.tokens,
      "training time (s)": round(s.elapsed, 1),
      "first training loss": first,
      "final training loss": last,
      "loss drop": first !== null && last !== null ? `${(100 * (1 - last / first)).toFixed(1)}%` : null,
      [
        ev
          ? `validation loss (final evaluation, ${ev.val_tokens} tokens)`
          : "validation loss (last in training)"
      ]: valLoss,
      "validation perplexity": valLoss === null ? null : Math.exp(valLoss),
      "mean throughput (tokens/s)": meanRate === null ? null : round(meanRate, 0),
      "checkpoint": ckpt.path,
    },
    sample: ev?.sample ?? null,
  });
  await writeFileAtomic(`${out}/report.html`, new TextEncoder().encode(html));
  const total = seconds ?? s.elapsed + (ev?.seconds ?? 0);
  return { out, checkpoint: ckpt.path, val_loss: valLoss, tokens: s.tokens, seconds: round(total, 1) };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
