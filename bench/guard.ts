/**
 * Guards the benchmarks against regressions: compares a run's ratios (ours ÷ peer, from `deno task bench
 * --json FILE`) with the previous run's in a history file of JSON lines, prints a table, raises a GitHub
 * Actions error annotation for every ratio whose median fell by more than the noise band, and appends
 * the run to the history. Exit code 1 when a ratio regressed, so the workflow run goes red.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env bench/guard.ts --result bench-results.json \
 *   --history history/bench.jsonl [--band 0.15] [--commit SHA]
 * ```
 *
 * The band is 15 % by default: on the two-core machines these run on, repeated runs of the same commit
 * moved the medians of paired ratios by up to about ±8 %, the unpaired absolute figures by far more.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runMain, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import type { RatioSummary } from "./ratios.ts";

/** One line of the history: a run's median ratios. */
export interface HistoryEntry {
  date: string;
  commit: string;
  ratios: Record<string, number>;
}

/** How one ratio moved against the previous run. */
export interface RatioChange {
  name: string;
  previous: number | null;
  current: number;
  /** `current / previous − 1`, or null without a previous value. */
  change: number | null;
  verdict: "new" | "steady" | "better" | "regressed";
}

/**
 * Each ratio of `current` against `previous` (medians), judged against a relative noise band.
 *
 * @example
 * ```ts
 * import { compareRatios } from "./guard.ts";
 * const changes = compareRatios({ "cpu.matmul": 0.5 }, { "cpu.matmul": 0.4 }, 0.15);
 * console.log(changes[0].verdict); // "regressed"
 * ```
 */
export function compareRatios(
  previous: Record<string, number> | null,
  current: Record<string, number>,
  band: number,
): RatioChange[] {
  return Object.entries(current).map(([name, value]) => {
    const before = previous?.[name] ?? null;
    if (before === null) return { name, previous: null, current: value, change: null, verdict: "new" };
    const change = value / before - 1;
    const verdict = change < -band ? "regressed" : change > band ? "better" : "steady";
    return { name, previous: before, current: value, change, verdict };
  });
}

/** The changes as a Markdown table (for the job summary and the log). */
export function formatChanges(changes: readonly RatioChange[], band: number): string {
  const pct = (x: number | null) => x === null ? "-" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
  const lines = [
    `Ratios ours ÷ peer (medians over the run's rounds), noise band ±${(band * 100).toFixed(0)} %`,
    "",
    "| ratio | previous | current | change | verdict |",
    "| --- | ---: | ---: | ---: | --- |",
    ...changes.map((c) =>
      `| ${c.name} | ${c.previous?.toFixed(3) ?? "-"} | ${c.current.toFixed(3)} | ${
        pct(c.change)
      } | ${c.verdict} |`
    ),
  ];
  return lines.join("\n");
}

async function readHistory(path: string): Promise<HistoryEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").filter((l) => l.trim() !== "").map((line, i) => {
    try {
      return JSON.parse(line) as HistoryEntry;
    } catch {
      throw new UserError(`${path}:${i + 1}: not a JSON line`);
    }
  });
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      result: { type: "string" },
      history: { type: "string" },
      band: { type: "string", default: "0.15" },
      commit: { type: "string", default: "" },
    },
    strict: true,
  });
  if (!values.result || !values.history) throw new UserError("--result FILE and --history FILE are required");
  const band = Number(values.band);
  if (!(band > 0 && band < 1)) {
    throw new UserError(`--band must be a fraction in (0, 1), got "${values.band}"`);
  }
  let result: { date?: string; ratios?: Record<string, RatioSummary> };
  try {
    result = JSON.parse(await Deno.readTextFile(values.result));
  } catch (e) {
    throw new UserError(`${values.result}: ${e instanceof SyntaxError ? "not JSON" : (e as Error).message}`);
  }
  if (!result.ratios || typeof result.ratios !== "object") {
    throw new UserError(`${values.result}: no "ratios" (made by deno task bench --json?)`);
  }
  const current = Object.fromEntries(Object.entries(result.ratios).map(([k, r]) => [k, r.median]));
  const history = await readHistory(values.history);
  const changes = compareRatios(history.at(-1)?.ratios ?? null, current, band);
  const table = formatChanges(changes, band);
  console.log(table);
  const summary = Deno.env.get("GITHUB_STEP_SUMMARY");
  if (summary) await Deno.writeTextFile(summary, table + "\n", { append: true });
  for (const c of changes.filter((c) => c.verdict === "regressed")) {
    // GitHub renders this line as an error annotation on the run.
    console.log(
      `::error title=benchmark regression::${c.name} fell from ${c.previous!.toFixed(3)} to ` +
        `${c.current.toFixed(3)} (${((c.change ?? 0) * 100).toFixed(1)} %), past the ±${band * 100} % band`,
    );
  }
  const entry: HistoryEntry = {
    date: result.date ?? new Date().toISOString(),
    commit: values.commit,
    ratios: current,
  };
  const lines = [...history, entry].map((e) => JSON.stringify(e)).join("\n") + "\n";
  await writeFileAtomic(values.history, new TextEncoder().encode(lines));
  return changes.some((c) => c.verdict === "regressed") ? 1 : 0;
}

if (import.meta.main) {
  let code = 0;
  await runMain(async () => {
    code = await main(Deno.args);
  });
  Deno.exit(code);
}
