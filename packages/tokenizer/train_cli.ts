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
import { Progress, runMain, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
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
  const vocabSize = parseNumber(values["vocab-size"], "--vocab-size", true);
  const coverage = values["character-coverage"] === undefined
    ? undefined
    : parseNumber(values["character-coverage"], "--character-coverage", false);

  const texts: string[] = [];
  let bytes = 0;
  for (const path of inputs) {
    const data = await readInput(path);
    bytes += data.length;
    texts.push(...textsOf(path, data, values.field));
  }

  const start = performance.now();
  let bar: Progress | undefined;
  const tok = trainBpeTokenizer(texts, {
    vocabSize,
    characterCoverage: coverage,
    onProgress: (done, total) => (bar ??= new Progress({ total, label: "merges" })).update(done),
  });
  bar?.done();
  const model = tok.toModelBytes();
  try {
    await Deno.mkdir(values.out, { recursive: true });
  } catch (e) {
    throw new UserError(`${values.out}: cannot create the output directory (${(e as Error).message})`);
  }
  const file = `${values.out.replace(/\/+$/, "")}/tokenizer.model`;
  await writeFileAtomic(file, model);
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  console.log(`wrote ${file}: ${tok.vocabSize} pieces from ${bytes} bytes of text in ${seconds}s`);
}

function parseNumber(s: string | undefined, flag: string, integer: boolean): number {
  if (s === undefined) throw new UserError(`${flag} is required (${USAGE})`);
  const n = Number(s);
  if (s.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UserError(`${flag} must be ${integer ? "an integer" : "a number"}, got ${JSON.stringify(s)}`);
  }
  return n;
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    if ((await Deno.stat(path)).isDirectory) {
      throw new UserError(`${path}: is a directory; give the files in it`);
    }
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${path}: no such file`);
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
}

function textsOf(path: string, data: Uint8Array, field: string): string[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw new UserError(`${path}: not valid UTF-8 text`);
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

if (import.meta.main) await runMain(() => trainMain(Deno.args));
