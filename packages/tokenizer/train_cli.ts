/**
 * `deno task tokenize:train`: trains a BPE tokenizer and writes `DIR/tokenizer.model`.
 *
 *     deno task tokenize:train --input PATH... --vocab-size N --out DIR
 *         [--character-coverage X] [--field NAME]
 *
 * Inputs are plain text files (each line a sentence) or `.jsonl` files (the string field `text` of
 * each line, or the field `--field` names). Several paths may follow one `--input`, or `--input` may
 * repeat. Progress goes to stderr; one summary line to stdout.
 *
 * @example
 * ```sh
 * deno task tokenize:train --input corpus.txt --vocab-size 4096 --out runs/tok
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import {
  checkInputFile,
  checkOutputDir,
  lockRunDir,
  parseIntFlag,
  parseNumberFlag,
  Progress,
  runMain,
  UserError,
  writeFileAtomic,
} from "@tinyllama-ts/cli";
import { trainBpeTokenizer } from "./train.ts";

const USAGE =
  "usage: deno task tokenize:train --input PATH... --vocab-size N --out DIR [--character-coverage X] [--field NAME]";

/** Runs the command with `args` (the part after the task name). */
export async function trainMain(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      input: { type: "string", multiple: true },
      "vocab-size": { type: "string" },
      out: { type: "string" },
      "character-coverage": { type: "string" },
      field: { type: "string", default: "text" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const inputs = [...(values.input ?? []), ...positionals];
  if (values.input === undefined || inputs.length === 0) {
    throw new UserError(`--input is required (${USAGE})`);
  }
  if (values.out === undefined) throw new UserError(`--out is required (${USAGE})`);
  if (values["vocab-size"] === undefined) throw new UserError(`--vocab-size is required (${USAGE})`);
  const vocabSize = parseIntFlag("--vocab-size", values["vocab-size"], { min: 1, max: (1 << 20) - 1 });
  const coverage = values["character-coverage"] === undefined
    ? undefined
    : parseNumberFlag("--character-coverage", values["character-coverage"], {
      min: 0,
      aboveMin: true,
      max: 1,
    });
  // The output is checked before any input is read or any merge learnt: a new or empty directory, never
  // one with a model in it (nor one of unrelated files).
  const out = values.out.length > 1 ? values.out.replace(/\/+$/, "") : values.out;
  await checkOutputDir("--out", out, { ours: outDirVerdict });
  for (const path of inputs) await checkInputFile("--input", path);

  const texts: string[] = [];
  let bytes = 0;
  for (const path of inputs) {
    const data = await readInput(path);
    bytes += data.length;
    texts.push(...textsOf(path, data, values.field));
  }

  // Locked (and created) for the training, so that two runs never write one model; a failure removes
  // the directory again if this run created it.
  const lock = await lockRunDir(out, "--out");
  try {
    await checkOutputDir("--out", out, { ours: outDirVerdict }); // again, under the lock
    const start = performance.now();
    let bar: Progress | undefined;
    const tok = trainBpeTokenizer(texts, {
      vocabSize,
      characterCoverage: coverage,
      onProgress: (done, total) => (bar ??= new Progress({ total, label: "merges" })).update(done),
    });
    bar?.done();
    const file = `${out === "/" ? "" : out}/${MODEL_FILE}`;
    await writeFileAtomic(file, tok.toModelBytes());
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    console.log(`wrote ${file}: ${tok.vocabSize} pieces from ${bytes} bytes of text in ${seconds}s`);
  } finally {
    lock.release();
  }
}

const MODEL_FILE = "tokenizer.model";

/** Only a temporary of an interrupted write may be there already; a model is never overwritten. */
function outDirVerdict(names: string[]): true | string {
  if (names.includes(MODEL_FILE)) return `already holds ${MODEL_FILE} (not overwritten)`;
  if (names.every((n) => n.startsWith(`${MODEL_FILE}.tmp-`))) return true;
  return `not empty (holds ${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""})`;
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`--input ${path}: cannot read (${(e as Error).message})`);
  }
}

function textsOf(path: string, data: Uint8Array, field: string): string[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw new UserError(`${path}:${firstInvalidLine(data)}: not valid UTF-8`);
  }
  if (!path.endsWith(".jsonl")) return [text];
  const out: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch (e) {
      throw new UserError(`${path}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    const t = (value as Record<string, unknown>)?.[field];
    if (typeof t !== "string") {
      throw new UserError(`${path}:${i + 1}: no string field ${JSON.stringify(field)}`);
    }
    out.push(t);
  }
  return out;
}

/** The 1-based number of the first line of `data` that is not valid UTF-8 (lines cut at "\n" bytes). */
function firstInvalidLine(data: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let start = 0, line = 1;; line++) {
    const nl = data.indexOf(0x0a, start);
    try {
      decoder.decode(data.subarray(start, nl < 0 ? data.length : nl));
    } catch {
      return line;
    }
    if (nl < 0) return line;
    start = nl + 1;
  }
}

if (import.meta.main) await runMain(() => trainMain(Deno.args));
