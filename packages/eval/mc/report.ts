/**
 * The results of a `--tasks` run: per task `acc` and `acc_norm` (null where lm-eval does not report
 * it), the averages, and TinyLlama's table, which shows `acc_norm` where a task has it and `acc`
 * otherwise.
 *
 * @module
 */
import type { Summary } from "./metrics.ts";
import type { TaskFormat } from "./tasks.ts";

/** One task's line of the report. */
export interface TaskScore {
  acc: number;
  /** Null for tasks whose lm-eval config reports `acc` only (WinoGrande, BoolQ). */
  acc_norm: number | null;
  /** The number TinyLlama's table shows: `acc_norm` where reported, else `acc`. */
  paper: number;
  n: number;
}

/** The JSON a `--tasks` run prints and writes. */
export interface TasksReport {
  tasks: Record<string, TaskScore>;
  average: {
    /** Mean `acc` over the tasks. */
    acc: number;
    /** Mean `acc_norm` over the tasks that report it (null if none does). */
    acc_norm: number | null;
    /** Mean of the `paper` column: the "Avg" of TinyLlama's table. */
    paper: number;
  };
}

/**
 * Builds the report from each task's summary, in the order given.
 *
 * @example
 * ```ts
 * import { buildReport } from "./report.ts";
 * import { TASKS } from "./tasks.ts";
 * const boolq = TASKS.find((t) => t.name === "boolq")!;
 * buildReport([[boolq, { acc: 0.5, acc_norm: 0.25, acc_bytes: 0.25, n: 4 }]]).tasks.boolq.acc_norm; // null
 * ```
 */
export function buildReport(results: readonly (readonly [TaskFormat, Summary])[]): TasksReport {
  const tasks: Record<string, TaskScore> = {};
  for (const [t, s] of results) {
    const accNorm = t.hasAccNorm ? s.acc_norm : null;
    tasks[t.name] = { acc: s.acc, acc_norm: accNorm, paper: accNorm ?? s.acc, n: s.n };
  }
  const scores = Object.values(tasks);
  const mean = (xs: number[]) => xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
  const norms = scores.flatMap((s) => s.acc_norm === null ? [] : [s.acc_norm]);
  return {
    tasks,
    average: {
      acc: mean(scores.map((s) => s.acc)),
      acc_norm: norms.length === 0 ? null : mean(norms),
      paper: mean(scores.map((s) => s.paper)),
    },
  };
}

const pct = (x: number | null) => x === null ? "-" : (100 * x).toFixed(2);

/**
 * The report as text: a line per task (n, acc, acc_norm in percent), the averages, then the row of
 * TinyLlama's table (its task titles as columns, and Avg).
 *
 * @example
 * ```ts
 * import { buildReport, formatReport } from "./report.ts";
 * import { TASKS } from "./tasks.ts";
 * const piqa = TASKS.find((t) => t.name === "piqa")!;
 * console.log(formatReport([piqa], buildReport([[piqa, { acc: 0.5, acc_norm: 0.75, acc_bytes: 0.75, n: 4 }]])));
 * ```
 */
export function formatReport(order: readonly TaskFormat[], report: TasksReport): string {
  const w = Math.max(7, ...order.map((t) => t.name.length));
  const lines = [`${"task".padEnd(w)} ${"n".padStart(7)} ${"acc".padStart(7)} ${"acc_norm".padStart(8)}`];
  for (const t of order) {
    const s = report.tasks[t.name];
    lines.push(
      `${t.name.padEnd(w)} ${String(s.n).padStart(7)} ${pct(s.acc).padStart(7)} ${
        pct(s.acc_norm).padStart(8)
      }`,
    );
  }
  lines.push(
    `${"average".padEnd(w)} ${"".padStart(7)} ${pct(report.average.acc).padStart(7)} ${
      pct(report.average.acc_norm).padStart(8)
    }`,
  );
  lines.push("");
  lines.push("TinyLlama's table (acc_norm where the task reports it, acc for the others):");
  const titles = [...order.map((t) => t.title), "Avg"];
  const cells = [...order.map((t) => pct(report.tasks[t.name].paper)), pct(report.average.paper)];
  const widths = titles.map((title, i) => Math.max(title.length, cells[i].length));
  lines.push(titles.map((title, i) => title.padStart(widths[i])).join("  "));
  lines.push(cells.map((c, i) => c.padStart(widths[i])).join("  "));
  return lines.join("\n");
}
