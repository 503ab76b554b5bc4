/**
 * Test helpers: a small deterministic corpus (two sources, natural text and code) and the CLI run that
 * the page's losses are compared with.
 *
 * @module
 */
import type { TextSource } from "./memory_data.ts";
import { Random } from "@tinyllama-ts/random";

/** A 512-piece SentencePiece model from the tokenizer fixtures (fits the `micro-4l-4k` vocabulary). */
export const TEST_TOKENIZER = new URL("../../tests/fixtures/tokenizer/tiny.model", import.meta.url).pathname;

const WORDS = ("the people of these united states have met in congress to consider the state of the union " +
  "and the duties of government toward its citizens in peace and war with commerce and industry growing " +
  "while the treasury reports a surplus of revenue over expenditure for the fiscal year now ended").split(
    " ",
  );
const CODE = [
  "const",
  "let",
  "function",
  "return",
  "if",
  "else",
  "for",
  "(",
  ")",
  "{",
  "}",
  ";",
  "=",
  "+",
  "x",
  "i",
];

/** Two sources of seeded pseudo-text: `natural` (40 documents) and `code` (20), weights 0.7 and 0.3. */
export function testSources(): TextSource[] {
  const random = new Random(12345);
  const next = () => random.nextUint32() >>> 8;
  const doc = (words: string[], n: number) => Array.from({ length: n }, () => words[next() % words.length]);
  return [
    {
      name: "natural",
      weight: 0.7,
      texts: Array.from({ length: 40 }, () => doc(WORDS, 80 + next() % 80).join(" ")),
    },
    {
      name: "code",
      weight: 0.3,
      texts: Array.from({ length: 20 }, () => doc(CODE, 60 + next() % 60).join(" ")),
    },
  ];
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs `deno ARGS` in the repository's root; returns its stderr (or stdout), throws when it fails. */
export async function runDeno(args: string[], want: "stdout" | "stderr" = "stderr"): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`deno ${args.join(" ")} failed:\n${err.slice(-3000)}`);
  return want === "stderr" ? err : new TextDecoder().decode(out.stdout);
}

/** `deno task prepare` on each source (written as JSONL, `text` field); returns the directories. */
export async function prepareSources(dir: string, sources: readonly TextSource[]): Promise<string[]> {
  const data: string[] = [];
  for (const s of sources) {
    const input = `${dir}/${s.name}.jsonl`;
    await Deno.writeTextFile(input, s.texts.map((text) => JSON.stringify({ text })).join("\n") + "\n");
    await runDeno([
      ...["run", "--allow-read", "--allow-write", "packages/data/prepare_cli.ts"],
      ...["--tokenizer", TEST_TOKENIZER, "--input", input, "--out", `${dir}/data-${s.name}`],
    ]);
    data.push(`${dir}/data-${s.name}`);
  }
  return data;
}

/** The arguments of `deno task pretrain`'s train stage on prepared `data` (weights from `sources`). */
export function pretrainArgs(
  out: string,
  sources: readonly TextSource[],
  data: string[],
  flags: string[],
): string[] {
  return [
    ...["run", "--allow-read", "--allow-write", "--allow-env", "packages/trainer/pretrain_cli.ts", "train"],
    ...["--config", "micro-4l-4k", "--tokenizer", TEST_TOKENIZER, "--out", out],
    ...sources.flatMap((s, i) => ["--data", `${data[i]}:${s.weight}`]),
    ...flags,
  ];
}

/** The step losses of a run's `metrics.jsonl`. */
export async function runLosses(out: string): Promise<(number | null)[]> {
  return (await Deno.readTextFile(`${out}/metrics.jsonl`)).split("\n").filter((l) => l !== "")
    .map((l) => JSON.parse(l)).filter((r) => "loss" in r).map((r) => r.loss as number | null);
}

/**
 * `deno task prepare` on each source and `deno task pretrain` (train stage) on their mixture; returns the
 * run directory, the prepared directories and the losses, step by step.
 */
export async function cliPretrain(
  dir: string,
  sources: readonly TextSource[],
  flags: string[],
): Promise<{ out: string; data: string[]; losses: (number | null)[] }> {
  const data = await prepareSources(dir, sources);
  const out = `${dir}/run`;
  await runDeno(pretrainArgs(out, sources, data, flags));
  return { out, data, losses: await runLosses(out) };
}

/** The repository's root (where the CLIs run). */
export { ROOT };
