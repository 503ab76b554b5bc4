/**
 * Multiple-choice items: the generic `{"context", "choices", "label"}` format and the seven zero-shot
 * tasks of TinyLlama's evaluation table, each read from its public dataset format and turned into
 * requests with lm-evaluation-harness's prompt format (its `doc_to_text`, `doc_to_choice`, target
 * delimiter `" "` and preprocessing).
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { JsonlRecord } from "./_jsonl.ts";
import { pyCapitalize, pyLstrip, pyStrip } from "./_python_str.ts";
import type { LoglikelihoodRequest } from "./request.ts";

/** One question: a request per choice, the texts that normalise `acc_norm`, and the right choice. */
export interface McItem {
  /** `file:line` of the item. */
  where: string;
  /** One per choice. */
  requests: LoglikelihoodRequest[];
  /** lm-eval's `doc_to_choice`: one per choice, their lengths divide the log-likelihoods for `acc_norm`. */
  normTexts: string[];
  /** Index of the right choice. */
  label: number;
}

/**
 * The generic format: `context + choices[i]` is scored as written (no separator is added, so a choice
 * usually starts with a space), and `acc_norm` divides by the length of `choices[i]`.
 *
 * @example
 * ```ts
 * import { JsonlRecord } from "./_jsonl.ts";
 * import { genericItem } from "./tasks.ts";
 * const item = genericItem(new JsonlRecord("x.jsonl", 1, { context: "2+2 =", choices: [" 4", " 5"], label: 0 }));
 * item.requests[0]; // { context: "2+2 =", continuation: " 4" }
 * ```
 */
export function genericItem(r: JsonlRecord): McItem {
  const context = r.string("context");
  const choices = r.strings("choices");
  if (choices.length < 2) r.fail("choices", `needs at least 2 choices, got ${choices.length}`);
  choices.forEach((c, i) => {
    if (c === "") r.fail(`choices[${i}]`, "is empty (nothing to score)");
  });
  const label = r.checkLabel("label", r.index("label"), choices.length);
  return {
    where: r.where,
    requests: choices.map((continuation) => ({ context, continuation })),
    normTexts: choices,
    label,
  };
}

/** A task of the table: how to read its dataset format, and whether lm-eval reports `acc_norm` for it. */
export interface TaskFormat {
  /** The name `--tasks` takes; the file is `<task-dir>/<name>.jsonl`. */
  name: string;
  /** lm-evaluation-harness's task name. */
  lmEvalName: string;
  /** The column title in TinyLlama's table. */
  title: string;
  /** lm-eval's task reports `acc_norm` (all but WinoGrande and BoolQ, which report `acc` only). */
  hasAccNorm: boolean;
  /** The fields of one line, for `--help`. */
  fields: string;
  item(r: JsonlRecord): McItem;
}

/** Questions whose choices are scored after the same context, joined by lm-eval's `" "`. */
function sharedContext(r: JsonlRecord, context: string, choices: string[], label: number): McItem {
  return {
    where: r.where,
    requests: choices.map((c) => ({ context, continuation: ` ${c}` })),
    normTexts: choices,
    label,
  };
}

/**
 * lm-eval's HellaSwag `preprocess`: strip, `" [title]"` → `". "`, drop every `[...]` on one line (the
 * WikiHow markup), then one pass replacing double spaces by single ones.
 *
 * @example
 * ```ts
 * import { hellaswagPreprocess } from "./tasks.ts";
 * hellaswagPreprocess("Clean a jar [title] Fill a bowl. [step] Add  soap."); // "Clean a jar. Fill a bowl. Add soap."
 * ```
 */
export function hellaswagPreprocess(text: string): string {
  // Python's `.` matches anything but "\n", JavaScript's also stops at "\r", U+2028 and U+2029.
  return pyStrip(text).replaceAll(" [title]", ". ").replace(/\[[^\n]*?\]/g, "").replaceAll("  ", " ");
}

/** Choices `{"text": [...], "label": [...]}` and an answer key that must be one of the labels. */
function keyedChoices(r: JsonlRecord, answerKey: string): { texts: string[]; label: number } {
  const choices = r.object("choices");
  const texts = choices.strings("text");
  const labels = choices.strings("label");
  if (labels.length !== texts.length) {
    r.fail("choices.label", `${labels.length} labels for ${texts.length} texts`);
  }
  const label = labels.indexOf(answerKey);
  if (label < 0) {
    r.fail("answerKey", `${JSON.stringify(answerKey)} is not one of the labels ${labels.join(", ")}`);
  }
  return { texts, label };
}

function arcItem(r: JsonlRecord): McItem {
  const { texts, label } = keyedChoices(r, r.string("answerKey"));
  return sharedContext(r, `Question: ${r.string("question")}\nAnswer:`, texts, label);
}

/** The seven tasks, in the column order of TinyLlama's table. */
export const TASKS: readonly TaskFormat[] = [
  {
    name: "hellaswag",
    lmEvalName: "hellaswag",
    title: "HellaSwag",
    hasAccNorm: true,
    fields: "activity_label, ctx_a, ctx_b, endings, label",
    item(r) {
      const ctx = `${r.string("ctx_a")} ${pyCapitalize(r.string("ctx_b"))}`;
      const query = hellaswagPreprocess(`${r.string("activity_label")}: ${ctx}`);
      const endings = r.strings("endings").map(hellaswagPreprocess);
      return sharedContext(r, query, endings, r.checkLabel("label", r.index("label"), endings.length));
    },
  },
  {
    name: "obqa",
    lmEvalName: "openbookqa",
    title: "Obqa",
    hasAccNorm: true,
    fields: "question_stem, choices {text, label}, answerKey",
    item(r) {
      const { texts, label } = keyedChoices(r, pyLstrip(r.string("answerKey")));
      return sharedContext(r, r.string("question_stem"), texts, label);
    },
  },
  {
    name: "winogrande",
    lmEvalName: "winogrande",
    title: "WinoGrande",
    hasAccNorm: false,
    fields: "sentence, option1, option2, answer",
    item(r) {
      // Partial evaluation: each option fills the blank in its own context, and the part of the
      // sentence after the blank is the one continuation scored under both.
      const sentence = r.string("sentence");
      const blank = sentence.indexOf("_");
      if (blank < 0) r.fail("sentence", 'has no "_" blank');
      const options = [r.string("option1"), r.string("option2")];
      const answer = r.get("answer");
      if (answer !== "1" && answer !== "2" && answer !== 1 && answer !== 2) {
        r.fail("answer", `expected "1" or "2", got ${JSON.stringify(answer)}`);
      }
      const continuation = ` ${pyStrip(sentence.slice(blank + 1))}`;
      const contexts = options.map((o) => sentence.slice(0, blank) + o);
      return {
        where: r.where,
        requests: contexts.map((context) => ({ context, continuation })),
        normTexts: contexts,
        label: Number(answer) - 1,
      };
    },
  },
  {
    name: "arc_easy",
    lmEvalName: "arc_easy",
    title: "ARC-E",
    hasAccNorm: true,
    fields: "question, choices {text, label}, answerKey",
    item: arcItem,
  },
  {
    name: "arc_challenge",
    lmEvalName: "arc_challenge",
    title: "ARC-C",
    hasAccNorm: true,
    fields: "question, choices {text, label}, answerKey",
    item: arcItem,
  },
  {
    name: "boolq",
    lmEvalName: "boolq",
    title: "boolq",
    hasAccNorm: false,
    fields: "passage, question, answer (true/false; or SuperGLUE's label 0/1)",
    item(r) {
      const context = `${r.string("passage")}\nQuestion: ${r.string("question")}?\nAnswer:`;
      let label: number;
      if (!r.has("answer") && r.has("label")) {
        label = r.checkLabel("label", r.index("label"), 2);
      } else {
        const answer = r.get("answer");
        if (typeof answer !== "boolean") {
          r.fail("answer", `expected true or false, got ${JSON.stringify(answer)}`);
        }
        label = answer ? 1 : 0;
      }
      return sharedContext(r, context, ["no", "yes"], label);
    },
  },
  {
    name: "piqa",
    lmEvalName: "piqa",
    title: "piqa",
    hasAccNorm: true,
    fields: "goal, sol1, sol2, label",
    item(r) {
      const choices = [r.string("sol1"), r.string("sol2")];
      const context = `Question: ${r.string("goal")}\nAnswer:`;
      return sharedContext(r, context, choices, r.checkLabel("label", r.index("label"), 2));
    },
  },
];

/** Other names a task is known by (lm-eval's). */
const ALIASES: Readonly<Record<string, string>> = { openbookqa: "obqa" };

/**
 * Resolves a `--tasks` list (comma-separated) to task formats; an unknown or repeated name is a
 * {@link UserError}.
 *
 * @example
 * ```ts
 * import { parseTaskList } from "./tasks.ts";
 * parseTaskList("hellaswag,piqa").map((t) => t.title); // ["HellaSwag", "piqa"]
 * ```
 */
export function parseTaskList(list: string): TaskFormat[] {
  const out: TaskFormat[] = [];
  for (const raw of list.split(",")) {
    const name = raw.trim();
    if (name === "") continue;
    const task = TASKS.find((t) => t.name === (ALIASES[name] ?? name));
    if (!task) {
      throw new UserError(`--tasks: unknown task "${name}" (known: ${TASKS.map((t) => t.name).join(", ")})`);
    }
    if (out.includes(task)) throw new UserError(`--tasks: "${name}" is listed twice`);
    out.push(task);
  }
  if (out.length === 0) throw new UserError("--tasks: no task named");
  return out;
}
