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
import { parseIntFlag, parseNumberFlag, runMain, UserError } from "@tinyllama-ts/cli";
import type { DedupMode } from "./dedup.ts";
import {
  DEFAULT_CHUNK_SIZE,
  formatPrepareSummary,
  MAX_CHUNK_SIZE,
  prepareDataset,
  PrepareInterrupted,
  STAGING_PREFIX,
} from "./prepare.ts";

const USAGE = `usage: deno task prepare --tokenizer PATH --input PATH [--input PATH]... --out DIR
  [--chunk-size N]                  tokens per shard (default ${DEFAULT_CHUNK_SIZE} = 2049 x 1024, at most ${MAX_CHUNK_SIZE})
  [--dedup none|exact|minhash]      duplicate removal (default none)
  [--val-fraction F]                documents held out for validation (default 0)
  [--workers N]                     tokenizer workers (default: one per core)
  [--exclude FIELD=VALUE]           drop JSON records whose field holds VALUE (repeatable), e.g.
                                    meta.redpajama_set_name=RedPajamaGithub (SlimPajama without GitHub)
  [--languages NAME,NAME...]        only files in directories of these names (Starcoderdata: python,java)`;

/**
 * Runs the prepare CLI on `args`; prints the summary to stderr. Errors are {@link UserError}s. SIGINT or
 * SIGTERM stop it at the next piece read: the partial output is removed, one line says so, and the
 * process exits with 130/143; a second signal (not the same one delivered twice) removes the partial
 * output and exits at once. A SIGKILL leaves a staging directory that the next prepare into `--out`
 * removes.
 */
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
  const chunkSize = values["chunk-size"] === undefined
    ? undefined
    : parseIntFlag("--chunk-size", values["chunk-size"], { min: 1, max: MAX_CHUNK_SIZE });
  const workers = values.workers === undefined
    ? undefined
    : parseIntFlag("--workers", values.workers, { max: 256 });
  const frac = values["val-fraction"] === undefined
    ? undefined
    : parseNumberFlag("--val-fraction", values["val-fraction"], { min: 0, max: 1, belowMax: true });
  const dedup = values.dedup ?? "none";
  if (!["none", "exact", "minhash"].includes(dedup)) {
    throw new UserError(`--dedup ${dedup}: expected none, exact or minhash`);
  }
  // The first signal stops at the next piece and cleans up; a second one exits at once, after removing
  // the staging directories (this process holds --out's lock, so every one there is its own or stale).
  // A repeat within REPEAT_MS is the same Ctrl-C delivered twice (`deno task` forwards the terminal's
  // SIGINT to a child that has already received it) and is ignored.
  let interrupted: Deno.Signal | undefined;
  let interruptedAt = 0;
  const code = (s: Deno.Signal) => s === "SIGINT" ? 130 : 143;
  const out = values.out!;
  const listeners = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const listener = () => {
      if (interrupted === undefined) {
        interrupted = signal;
        interruptedAt = performance.now();
        return;
      }
      if (performance.now() - interruptedAt < REPEAT_MS) return;
      removeStagingSync(out);
      console.error(`prepare: ${signal} again: stopped at once; removed the partial output`);
      Deno.exit(code(signal));
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  try {
    const summary = await prepareDataset({
      tokenizer: values.tokenizer!,
      inputs: values.input!,
      out: values.out!,
      chunkSize,
      dedup: dedup as DedupMode,
      valFraction: frac,
      workers,
      exclude: values.exclude,
      languages: values.languages?.split(",").map((l) => l.trim()).filter((l) => l !== ""),
      aborted: () => interrupted !== undefined,
    });
    console.error(formatPrepareSummary(summary));
  } catch (e) {
    if (!(e instanceof PrepareInterrupted) || interrupted === undefined) throw e;
    console.error(`prepare: ${interrupted}: ${e.message}`);
    Deno.exit(code(interrupted));
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** Signals closer together than this are one interruption delivered twice. */
const REPEAT_MS = 500;

function removeStagingSync(out: string): void {
  try {
    for (const e of Deno.readDirSync(out)) {
      if (e.name.startsWith(STAGING_PREFIX)) Deno.removeSync(`${out}/${e.name}`, { recursive: true });
    }
  } catch {
    // nothing there (yet): the next prepare into --out sweeps whatever is left
  }
}

if (import.meta.main) await runMain(() => prepareMain(Deno.args));
