/**
 * `deno task eval --mc …` / `--tasks …`: zero-shot multiple-choice accuracy of a Hugging Face
 * checkpoint, scored as lm-evaluation-harness scores it, with the checkpoint's own tokenizer.
 *
 * ```sh
 * deno task eval --checkpoint out/hf --mc items.jsonl [--log-samples samples.jsonl] [--limit 100]
 * deno task eval --checkpoint out/hf --tasks hellaswag,obqa,winogrande,arc_easy,arc_challenge,boolq,piqa \
 *   --task-dir data/eval [--output results.json] [--log-samples samples.jsonl] [--limit 100]
 * ```
 *
 * The last stdout line is JSON: `{"acc", "acc_norm", "acc_bytes", "n"}` for `--mc`, the report of
 * {@link TasksReport} for `--tasks` (after a table like TinyLlama's).
 *
 * @example
 * ```ts
 * import { runMultipleChoice } from "./run_mc.ts";
 * await runMultipleChoice([
 *   "--checkpoint", "tests/fixtures/eval/model", "--mc", "tests/fixtures/eval/mc.jsonl", "--backend", "reference",
 * ]);
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { checkOutputFile, Progress, runMain, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import { BACKEND_NAMES, createBackend } from "@tinyllama-ts/backends";
import { positiveInt } from "../_cli_args.ts";
import { loadHfCheckpoint } from "@tinyllama-ts/checkpoint";
import { readJsonl } from "./_jsonl.ts";
import { type ItemResult, scoreItem, summarize } from "./metrics.ts";
import { nextTokenModel } from "./model_scorer.ts";
import { buildReport, formatReport, type TasksReport } from "./report.ts";
import { encodeRequest, type TokenizedRequest } from "./request.ts";
import { scoreRequests } from "./score.ts";
import { genericItem, type McItem, parseTaskList, type TaskFormat, TASKS } from "./tasks.ts";

export type { TasksReport };

const USAGE = [
  "usage: deno task eval --checkpoint DIR --mc FILE.jsonl [options]",
  "       deno task eval --checkpoint DIR --tasks LIST --task-dir DIR [options]",
  "",
  '  --mc FILE          items {"context": str, "choices": [str, …], "label": int}, one per line;',
  "                     context + choice is scored as written",
  `  --tasks LIST       comma-separated, of: ${TASKS.map((t) => t.name).join(", ")}`,
  "  --task-dir DIR     holds <task>.jsonl for each task, in the dataset's public format:",
  ...TASKS.map((t) => `                       ${t.name}: ${t.fields}`),
  "  --log-samples FILE one JSON line per item: loglikelihoods, pred, pred_norm, pred_bytes, label",
  "  --output FILE      also write the result JSON there",
  "  --limit N          only the first N items (of each task)",
  "  --batch-tokens N   most tokens per forward (default 2048)",
  `  --backend NAME     ${BACKEND_NAMES.join("|")} (default wasm)`,
].join("\n");

/** A group of items scored together: the `--mc` file, or one task. */
interface ItemGroup {
  task: TaskFormat | null;
  items: McItem[];
}

/**
 * Runs the multiple-choice evaluation for the given command-line arguments (its own flags; see the
 * module documentation).
 */
export async function runMultipleChoice(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      checkpoint: { type: "string" },
      mc: { type: "string" },
      tasks: { type: "string" },
      "task-dir": { type: "string" },
      "log-samples": { type: "string" },
      output: { type: "string" },
      limit: { type: "string" },
      "batch-tokens": { type: "string", default: "2048" },
      backend: { type: "string", default: "wasm" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.checkpoint) throw new UserError("--checkpoint is required (see --help)");
  if ((values.mc === undefined) === (values.tasks === undefined)) {
    throw new UserError("give either --mc FILE or --tasks LIST (see --help)");
  }
  if (values.tasks !== undefined && values["task-dir"] === undefined) {
    throw new UserError("--tasks needs --task-dir DIR, the directory of the tasks' .jsonl files");
  }
  if (values.mc !== undefined && values["task-dir"] !== undefined) {
    throw new UserError("--task-dir goes with --tasks, not --mc");
  }
  const limit = values.limit === undefined ? Infinity : positiveInt("--limit", values.limit);
  const batchTokens = positiveInt("--batch-tokens", values["batch-tokens"]);
  // Output paths are checked before anything is scored (and written only after).
  if (values["log-samples"] !== undefined) await checkOutputFile("--log-samples", values["log-samples"]);
  if (values.output !== undefined) await checkOutputFile("--output", values.output);

  // Every input is read and checked before the model loads.
  const groups: ItemGroup[] = [];
  if (values.mc !== undefined) {
    const records = (await readJsonl(values.mc)).slice(0, limit);
    groups.push({ task: null, items: records.map(genericItem) });
  } else {
    for (const task of parseTaskList(values.tasks!)) {
      const records = (await readJsonl(`${values["task-dir"]}/${task.name}.jsonl`)).slice(0, limit);
      groups.push({ task, items: records.map((r) => task.item(r)) });
    }
  }
  const dir = values.checkpoint.replace(/\/+$/, "") || "/";
  const tokenizerPath = await findTokenizer(dir);
  const tokenizer = await loadTokenizer(tokenizerPath);
  const prefixId = tokenizer.bosId >= 0 ? tokenizer.bosId : tokenizer.eosId;
  if (prefixId < 0) {
    throw new UserError(`${tokenizerPath}: the tokenizer has neither <s> nor </s> to condition on`);
  }

  const backend = await createBackend(values.backend);
  try {
    const { model, config } = await loadHfCheckpoint(dir, backend);
    if (tokenizer.vocabSize > config.vocab_size) {
      throw new UserError(
        `${tokenizerPath}: ${tokenizer.vocabSize} pieces, more than the model's vocabulary ${config.vocab_size}`,
      );
    }
    const items = groups.flatMap((g) => g.items);
    const requests: TokenizedRequest[] = [];
    for (const item of items) {
      for (const req of item.requests) {
        const t = encodeRequest(tokenizer, prefixId, req);
        if (t.continuation.length > config.block_size) {
          throw new UserError(
            `${item.where}: a choice of ${t.continuation.length} tokens does not fit the model's context ` +
              `of ${config.block_size}`,
          );
        }
        requests.push(t);
      }
    }
    const bar = new Progress({ total: requests.length, label: "choices" });
    const lls = await scoreRequests(requests, nextTokenModel(model), {
      batchTokens,
      onProgress: (done) => bar.update(done),
    });
    bar.done();

    let next = 0;
    const results = groups.map((g) =>
      g.items.map((item) => {
        const n = item.requests.length;
        const r = scoreItem(lls.subarray(next, next + n), item.normTexts, item.label);
        next += n;
        return r;
      })
    );
    if (values["log-samples"] !== undefined) {
      await writeFileAtomic(values["log-samples"], new TextEncoder().encode(sampleLines(groups, results)));
    }

    let json: string;
    if (values.mc !== undefined) {
      const s = summarize(results[0]);
      console.log(
        `${values.mc}: ${s.n} items, acc ${s.acc.toFixed(4)}, acc_norm ${s.acc_norm.toFixed(4)} ` +
          `(acc_bytes ${s.acc_bytes.toFixed(4)})`,
      );
      json = JSON.stringify(s);
    } else {
      const order = groups.map((g) => g.task!);
      const report = buildReport(groups.map((g, i) => [g.task!, summarize(results[i])] as const));
      console.log(formatReport(order, report));
      json = JSON.stringify(report);
    }
    if (values.output !== undefined) {
      await writeFileAtomic(values.output, new TextEncoder().encode(json + "\n"));
    }
    console.log(json);
  } finally {
    backend.destroy();
  }
}

/** One JSON line per item for `--log-samples`. */
function sampleLines(groups: readonly ItemGroup[], results: readonly ItemResult[][]): string {
  const lines: string[] = [];
  groups.forEach((g, i) =>
    g.items.forEach((item, j) => {
      const r = results[i][j];
      lines.push(JSON.stringify({
        ...(g.task ? { task: g.task.name } : {}),
        where: item.where,
        loglikelihoods: r.loglikelihoods,
        pred: r.pred,
        pred_norm: r.pred_norm,
        pred_bytes: r.pred_bytes,
        label: r.label,
      }));
    })
  );
  return lines.map((l) => l + "\n").join("");
}

/** The checkpoint's tokenizer file; its absence is an error, since another tokenizer would mis-score. */
async function findTokenizer(dir: string): Promise<string> {
  for (const name of ["tokenizer.model", "tokenizer.json"]) {
    try {
      if ((await Deno.stat(`${dir}/${name}`)).isFile) return `${dir}/${name}`;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new UserError(`${dir}/${name}: cannot read (${(e as Error).message})`);
      }
    }
  }
  try {
    await Deno.stat(dir);
  } catch {
    throw new UserError(`${dir}: not found (--checkpoint)`);
  }
  throw new UserError(
    `${dir}: no tokenizer.model or tokenizer.json (scoring needs the checkpoint's own tokenizer)`,
  );
}

if (import.meta.main) await runMain(() => runMultipleChoice(Deno.args));
