/**
 * `deno task tokenize`: encodes text to token ids (or decodes ids back) with a tokenizer.model or
 * tokenizer.json.
 *
 *     deno task tokenize --tokenizer PATH (--jsonl FILE | --text STRING) [--bos] [--eos] [--decode]
 *
 * With `--jsonl`, each line's field `text` is encoded and one JSON array of ids is printed per line
 * (blank lines are skipped), nothing else. With `--decode`, the input is ids instead: `--text` takes
 * a JSON array and prints the text; `--jsonl` takes one JSON array (or an object with an `ids`
 * array) per line and prints `{"text": ...}` per line. `--jsonl -` reads standard input.
 *
 * @example
 * ```sh
 * deno task tokenize --tokenizer tests/fixtures/tokenizer/tiny.model --text "Hello world" --bos
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { checkInputFile, readLines, runMain, UserError } from "@tinyllama-ts/cli";
import { loadTokenizer } from "./load.ts";
import type { Tokenizer } from "./tokenizer.ts";

const USAGE =
  "usage: deno task tokenize --tokenizer PATH (--jsonl FILE | --text STRING) [--bos] [--eos] [--decode]";

/** Runs the command with `args` (the part after the task name). */
export async function tokenizeMain(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      tokenizer: { type: "string" },
      jsonl: { type: "string" },
      text: { type: "string" },
      bos: { type: "boolean", default: false },
      eos: { type: "boolean", default: false },
      decode: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.tokenizer === undefined) throw new UserError(`--tokenizer is required (${USAGE})`);
  if ((values.jsonl === undefined) === (values.text === undefined)) {
    throw new UserError(`give exactly one of --jsonl and --text (${USAGE})`);
  }
  if (values.decode && (values.bos || values.eos)) {
    throw new UserError("--bos and --eos only apply when encoding");
  }
  const tok = await loadTokenizer(values.tokenizer);
  const out = new StdoutBuffer();
  try {
    if (values.text !== undefined) {
      if (values.decode) out.write(tok.decode(parseIds(values.text, "--text", tok)) + "\n");
      else out.write(JSON.stringify(tok.encode(values.text, { bos: values.bos, eos: values.eos })) + "\n");
    } else {
      const file = values.jsonl!;
      for await (const [line, lineNo] of readLines(await openInput(file), file === "-" ? "<stdin>" : file)) {
        if (line.trim() === "") continue;
        const where = `${file}:${lineNo}`;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (e) {
          throw new UserError(`${where}: invalid JSON (${(e as Error).message})`);
        }
        if (values.decode) {
          const ids = Array.isArray(value) ? value : (value as { ids?: unknown })?.ids;
          out.write(JSON.stringify({ text: tok.decode(checkIds(ids, where, tok)) }) + "\n");
        } else {
          const text = (value as { text?: unknown })?.text;
          if (typeof text !== "string") throw new UserError(`${where}: no string field "text"`);
          out.write(JSON.stringify(tok.encode(text, { bos: values.bos, eos: values.eos })) + "\n");
        }
      }
    }
    out.flush();
  } catch (e) {
    // A reader that stopped early (`| head`) is not an error.
    if (e instanceof Deno.errors.BrokenPipe) return;
    throw e;
  }
}

function parseIds(s: string, where: string, tok: Tokenizer): number[] {
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch {
    throw new UserError(`${where}: with --decode, give a JSON array of token ids`);
  }
  return checkIds(value, where, tok);
}

function checkIds(value: unknown, where: string, tok: Tokenizer): number[] {
  if (!Array.isArray(value)) throw new UserError(`${where}: expected a JSON array of token ids`);
  for (const id of value) {
    if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize) {
      throw new UserError(`${where}: ${JSON.stringify(id)} is not a token id (0..${tok.vocabSize - 1})`);
    }
  }
  return value as number[];
}

// The bytes of `--jsonl` (standard input for "-"): a regular file only, since a FIFO or a device could
// block or never end. The lines are cut by the shared reader, linear in the line length.
async function openInput(path: string): Promise<AsyncIterable<Uint8Array>> {
  if (path === "-") return Deno.stdin.readable;
  await checkInputFile("--jsonl", path);
  try {
    return (await Deno.open(path)).readable;
  } catch (e) {
    throw new UserError(`--jsonl ${path}: cannot read (${(e as Error).message})`);
  }
}

// Collects output and writes it in large blocks: one write per line would dominate the run time.
class StdoutBuffer {
  #parts: string[] = [];
  #size = 0;
  readonly #encoder = new TextEncoder();
  write(s: string): void {
    this.#parts.push(s);
    this.#size += s.length;
    if (this.#size >= 1 << 16) this.flush();
  }
  flush(): void {
    const bytes = this.#encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  }
}

if (import.meta.main) await runMain(() => tokenizeMain(Deno.args));
