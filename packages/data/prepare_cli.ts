/**
 * `deno task prepare`: corpora to packed shards.
 *
 * ```sh
 * deno task prepare --tokenizer PATH --input PATH... --out DIR [--chunk-size N]
 *   [--dedup none|exact|minhash] [--val-fraction F] [--workers N]
 *   [--exclude FIELD=VALUE]... [--languages NAME,NAME...]
 * ```
 *
 * @example
 * ```ts ignore
 * import { prepareMain } from "@tinyllama-ts/data/prepare";
 * await prepareMain(["--tokenizer", "t.model", "--input", "corpus/", "--out", "data/corpus"]);
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { runMain, UserError } from "@tinyllama-ts/cli";
import type { DedupMode } from "./dedup.ts";
import { DEFAULT_CHUNK_SIZE, formatPrepareSummary, prepareDataset } from "./prepare.ts";

const USAGE = `usage: deno task prepare --tokenizer PATH --input PATH [--input PATH]... --out DIR
  [--chunk-size N]                  tokens per shard (default ${DEFAULT_CHUNK_SIZE} = 2049 x 1024)
  [--dedup none|exact|minhash]      duplicate removal (default none)
  [--val-fraction F]                documents held out for validation (default 0)
  [--workers N]                     tokenizer workers (default: one per core)
  [--exclude FIELD=VALUE]           drop JSON records whose field holds VALUE (repeatable), e.g.
                                    meta.redpajama_set_name=RedPajamaGithub (SlimPajama without GitHub)
  [--languages NAME,NAME...]        only files in directories of these names (Starcoderdata: python,java)`;

/** Runs the prepare CLI on `args`; prints the summary to stderr. Errors are {@link UserError}s. */
export async function prepareMain(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      tokenizer: { type: "string" },
      input: { type: "string", multiple: true },
      out: { type: "string" },
      "chunk-size": { type: "string" },
      dedup: { type: "string" },
      "val-fraction": { type: "string" },
      workers: { type: "string" },
      exclude: { type: "string", multiple: true },
      languages: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const need = (name: string, v: unknown) => {
    if (v === undefined) {
      throw new UserError(
        `missing --${name} (usage: deno task prepare --tokenizer PATH --input PATH... --out DIR)`,
      );
    }
  };
  need("tokenizer", values.tokenizer);
  need("input", values.input);
  need("out", values.out);
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UserError(`--${name} ${v}: expected a non-negative integer`);
    return Number(v);
  };
  const frac = values["val-fraction"];
  if (frac !== undefined && !/^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(frac)) {
    throw new UserError(`--val-fraction ${frac}: expected a number from 0 to below 1`);
  }
  const dedup = values.dedup ?? "none";
  if (!["none", "exact", "minhash"].includes(dedup)) {
    throw new UserError(`--dedup ${dedup}: expected none, exact or minhash`);
  }
  // The first Ctrl-C stops at the next batch and cleans up; a second one exits at once.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const summary = await prepareDataset({
      tokenizer: values.tokenizer!,
      inputs: values.input!,
      out: values.out!,
      chunkSize: int("chunk-size", values["chunk-size"]),
      dedup: dedup as DedupMode,
      valFraction: frac === undefined ? undefined : Number(frac),
      workers: int("workers", values.workers),
      exclude: values.exclude,
      languages: values.languages?.split(",").map((l) => l.trim()).filter((l) => l !== ""),
      aborted: () => interrupted,
    });
    console.error(formatPrepareSummary(summary));
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

if (import.meta.main) await runMain(() => prepareMain(Deno.args));
