/**
 * The text the training page trains on by default: a sample of the built-in corpus, natural language
 * and code 7:3 as the built-in mixture weighs them, small enough to tokenize in a page in seconds.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { BUILTIN_MIXTURE } from "@tinyllama-ts/data";
import type { TextSource } from "./memory_data.ts";

/** Bytes of text in the default sample (both sources together). */
export const DEFAULT_SAMPLE_BYTES = 400_000;

/** The sample the server hands the page: a name and the mixture's sources. */
export interface CorpusSample {
  name: string;
  sources: TextSource[];
}

const FILES = {
  natural: { file: "natural/sotu.jsonl", field: "text" },
  code: { file: "code/code.jsonl", field: "content" },
};

/**
 * The first documents of each part of the built-in corpus in `dir` (as `deno task corpus` writes it),
 * up to its share of `bytes` (documents longer than the share are cut at a line end).
 *
 * @example
 * ```ts ignore
 * const sample = await builtinSample("runs/builtin-corpus");
 * console.log(sample.sources.map((s) => s.texts.length));
 * ```
 */
export async function builtinSample(
  dir: string,
  bytes: number = DEFAULT_SAMPLE_BYTES,
): Promise<CorpusSample> {
  const sources: TextSource[] = [];
  for (const { name, weight } of BUILTIN_MIXTURE) {
    const { file, field } = FILES[name];
    let body: string;
    try {
      body = await Deno.readTextFile(`${dir}/${file}`);
    } catch (e) {
      throw new UserError(
        `${dir}/${file}: cannot read the built-in corpus (${(e as Error).message}); run \`deno task corpus\``,
      );
    }
    const share = Math.round(bytes * weight);
    const texts: string[] = [];
    let used = 0;
    for (const line of body.split("\n")) {
      if (used >= share) break;
      if (line.trim() === "") continue;
      let doc = String(JSON.parse(line)[field] ?? "");
      if (used + doc.length > share) {
        const cut = doc.lastIndexOf("\n", share - used);
        doc = doc.slice(0, cut > 0 ? cut : share - used);
      }
      texts.push(doc);
      used += doc.length;
    }
    sources.push({ name, weight, texts });
  }
  return { name: "built-in corpus sample", sources };
}
