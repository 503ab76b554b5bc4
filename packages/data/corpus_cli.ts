/**
 * `deno task corpus`: writes the built-in corpus (cached), and with `--tokenizer` also prepares it.
 *
 * ```sh
 * deno task corpus [--out runs/builtin-corpus] [--tokenizer PATH --data-out runs/builtin-data]
 * ```
 *
 * @example
 * ```ts ignore
 * import { corpusMain } from "@tinyllama-ts/data/corpus";
 * await corpusMain(["--out", "runs/builtin-corpus"]);
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { checkOutputDir, parseIntFlag, runMain } from "@tinyllama-ts/cli";
import { materializeBuiltinCorpus, prepareBuiltinCorpus } from "./builtin_corpus.ts";
import { formatPrepareSummary } from "./prepare.ts";

/** Runs the corpus CLI on `args`. */
export async function corpusMain(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      out: { type: "string", default: "runs/builtin-corpus" },
      tokenizer: { type: "string" },
      "data-out": { type: "string", default: "runs/builtin-data" },
      workers: { type: "string" },
    },
  });
  // Every flag and output path is checked before the corpus is written.
  const workers = values.workers === undefined
    ? undefined
    : parseIntFlag("--workers", values.workers, { max: 256 });
  if (values.tokenizer !== undefined) {
    await checkOutputDir("--data-out", values["data-out"], {
      ours: (names) =>
        names.every((n) => n === "natural" || n === "code") ||
        `not empty and not prepared built-in data (holds ${names.slice(0, 3).join(", ")})`,
    });
  }
  const corpus = await materializeBuiltinCorpus(values.out);
  console.error(
    `built-in corpus in ${corpus.dir}: natural ${corpus.documents.natural} documents (${
      (corpus.bytes.natural / 1e6).toFixed(1)
    } MB), code ${corpus.documents.code} documents (${(corpus.bytes.code / 1e6).toFixed(1)} MB)`,
  );
  if (values.tokenizer === undefined) return;
  const specs = await prepareBuiltinCorpus({
    tokenizer: values.tokenizer,
    out: values["data-out"],
    corpusDir: values.out,
    workers,
    onPrepared: (part, s) => console.error(`${part}:\n${formatPrepareSummary(s)}`),
  });
  console.log(specs.map((s) => `--data ${s.dir}:${s.weight}`).join(" "));
}

if (import.meta.main) await runMain(() => corpusMain(Deno.args));
