import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { loadTokenizer } from "@tinyllama-ts/tokenizer";
import { JsonlRecord, readJsonl } from "./_jsonl.ts";
import { encodeRequest } from "./request.ts";
import { genericItem, hellaswagPreprocess, parseTaskList, TASKS } from "./tasks.ts";

const FIXTURES = new URL("../../../tests/fixtures/eval/", import.meta.url).pathname;

interface ExpectedTaskItem {
  requests: { context: string; continuation: string }[];
  norm_texts: string[];
  label: number;
  tokens: { context_ids: number[]; continuation_ids: number[] }[];
}

interface ExpectedTasks {
  tasks: Record<string, { lm_eval_task: string; items: ExpectedTaskItem[] }>;
}

async function expectedTasks(): Promise<ExpectedTasks> {
  return JSON.parse(await Deno.readTextFile(`${FIXTURES}tasks_expected.json`));
}

Deno.test("each task's sample file gives the requests, norm texts and gold that lm-eval built from it", async () => {
  const expected = await expectedTasks();
  assert.deepEqual(Object.keys(expected.tasks).sort(), TASKS.map((t) => t.name).sort());
  for (const task of TASKS) {
    const want = expected.tasks[task.name];
    assert.equal(task.lmEvalName, want.lm_eval_task);
    const records = await readJsonl(`${FIXTURES}tasks/${task.name}.jsonl`);
    assert.equal(records.length, 5, task.name);
    assert.equal(want.items.length, 5, task.name);
    records.forEach((r, i) => {
      const item = task.item(r);
      const w = want.items[i];
      assert.deepEqual(item.requests, w.requests, `${task.name} item ${i}: requests`);
      assert.deepEqual(item.normTexts, w.norm_texts, `${task.name} item ${i}: norm texts`);
      assert.equal(item.label, w.label, `${task.name} item ${i}: label`);
      assert.equal(item.where, `${FIXTURES}tasks/${task.name}.jsonl:${i + 1}`);
    });
  }
});

Deno.test("our tokenizer and encodeRequest give the token ids of the Python reference", async () => {
  const tok = await loadTokenizer(`${FIXTURES}model/tokenizer.model`);
  const expected = await expectedTasks();
  let n = 0;
  for (const task of TASKS) {
    for (const item of expected.tasks[task.name].items) {
      item.requests.forEach((req, j) => {
        const t = encodeRequest(tok, tok.bosId, req);
        assert.deepEqual(
          t.context,
          item.tokens[j].context_ids,
          `${task.name}: ${JSON.stringify(req.context)}`,
        );
        assert.deepEqual(
          t.continuation,
          item.tokens[j].continuation_ids,
          `${task.name}: ${JSON.stringify(req)}`,
        );
        n++;
      });
    }
  }
  const mc = JSON.parse(await Deno.readTextFile(`${FIXTURES}mc_expected.json`)) as {
    items: { requests: { context_ids: number[]; continuation_ids: number[] }[] }[];
  };
  const records = await readJsonl(`${FIXTURES}mc.jsonl`);
  records.forEach((r, i) => {
    const item = genericItem(r);
    item.requests.forEach((req, j) => {
      const t = encodeRequest(tok, tok.bosId, req);
      assert.deepEqual(t.context, mc.items[i].requests[j].context_ids, `mc item ${i} choice ${j}`);
      assert.deepEqual(t.continuation, mc.items[i].requests[j].continuation_ids, `mc item ${i} choice ${j}`);
      n++;
    });
  });
  assert.equal(n, 110 + 42);
});

Deno.test("HellaSwag preprocessing: brackets on one line only, one pass over double spaces", () => {
  assert.equal(hellaswagPreprocess("  a [title] b [step] c  "), "a. b c");
  assert.equal(hellaswagPreprocess("x [a\nb] y"), "x [a\nb] y");
  // Python's "." crosses "\r", JavaScript's would not.
  assert.equal(hellaswagPreprocess("x [a\rb] y"), "x y");
  assert.equal(hellaswagPreprocess("a    b"), "a  b");
  const hs = TASKS.find((t) => t.name === "hellaswag")!;
  const item = hs.item(
    new JsonlRecord("h.jsonl", 1, {
      activity_label: "Cooking",
      ctx_a: "A chef.",
      ctx_b: "she CRACKS AN egg",
      endings: ["x", "y"],
      label: "1",
    }),
  );
  assert.equal(item.requests[0].context, "Cooking: A chef. She cracks an egg");
  assert.equal(item.label, 1);
});

/** The one-line message of the UserError `f` throws. */
function userError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(isUserError(e), `not a UserError: ${e}`);
    assert.ok(!(e as Error).message.includes("\n"), "the message is one line");
    return (e as Error).message;
  }
  assert.fail("no error thrown");
}

Deno.test("bad items: each error names the file, line and field", () => {
  const rec = (v: Record<string, unknown>) => new JsonlRecord("in.jsonl", 7, v);
  const task = (name: string) => TASKS.find((t) => t.name === name)!;
  const cases: [() => unknown, RegExp][] = [
    [() => genericItem(rec({ choices: ["a", "b"], label: 0 })), /^in\.jsonl:7: missing field "context"$/],
    [
      () => genericItem(rec({ context: "c", choices: ["a", "b"], label: 2 })),
      /^in\.jsonl:7: field "label": 2 is out of range for 2 choices$/,
    ],
    [
      () => genericItem(rec({ context: "c", choices: ["a", "b"], label: -1 })),
      /field "label": -1 is out of range/,
    ],
    [
      () => genericItem(rec({ context: "c", choices: ["a", "b"], label: 0.5 })),
      /field "label": expected an integer/,
    ],
    [
      () => genericItem(rec({ context: "c", choices: ["a", 3], label: 0 })),
      /^in\.jsonl:7: field "choices\[1\]": expected a string, got number 3$/,
    ],
    [
      () => genericItem(rec({ context: "c", choices: "ab", label: 0 })),
      /field "choices": expected an array of strings/,
    ],
    [
      () => genericItem(rec({ context: "c", choices: ["a"], label: 0 })),
      /field "choices": needs at least 2 choices/,
    ],
    [
      () => genericItem(rec({ context: "c", choices: ["a", ""], label: 0 })),
      /field "choices\[1\]": is empty/,
    ],
    [
      () => genericItem(rec({ context: 5, choices: ["a", "b"], label: 0 })),
      /field "context": expected a string/,
    ],
    [
      () =>
        task("hellaswag").item(
          rec({ activity_label: "a", ctx_a: "b", ctx_b: "c", endings: ["x"], label: "" }),
        ),
      /^in\.jsonl:7: field "label": expected an integer, got string ""$/,
    ],
    [
      () => task("hellaswag").item(rec({ activity_label: "a", ctx_a: "b", endings: ["x"], label: 0 })),
      /missing field "ctx_b"/,
    ],
    [
      () =>
        task("arc_easy").item(
          rec({ question: "q", choices: { text: ["a", "b"], label: ["A", "B"] }, answerKey: "C" }),
        ),
      /^in\.jsonl:7: field "answerKey": "C" is not one of the labels A, B$/,
    ],
    [
      () => task("arc_easy").item(rec({ question: "q", choices: { text: ["a", "b"] }, answerKey: "A" })),
      /^in\.jsonl:7: missing field "choices\.label"$/,
    ],
    [
      () =>
        task("arc_challenge").item(
          rec({ question: "q", choices: { text: ["a"], label: ["A", "B"] }, answerKey: "A" }),
        ),
      /field "choices\.label": 2 labels for 1 texts/,
    ],
    [
      () => task("obqa").item(rec({ question_stem: "q", choices: [], answerKey: "A" })),
      /field "choices": expected an object/,
    ],
    [
      () => task("winogrande").item(rec({ sentence: "no blank", option1: "a", option2: "b", answer: "1" })),
      /field "sentence": has no "_" blank/,
    ],
    [
      () => task("winogrande").item(rec({ sentence: "a _ b", option1: "a", option2: "b", answer: "3" })),
      /^in\.jsonl:7: field "answer": expected "1" or "2", got "3"$/,
    ],
    [
      () => task("boolq").item(rec({ passage: "p", question: "q", answer: "yes" })),
      /field "answer": expected true or false/,
    ],
    [() => task("boolq").item(rec({ passage: "p", question: "q" })), /missing field "answer"/],
    [
      () => task("boolq").item(rec({ passage: "p", question: "q", label: 2 })),
      /field "label": 2 is out of range for 2 choices/,
    ],
    [
      () => task("piqa").item(rec({ goal: "g", sol1: "a", sol2: "b", label: 2 })),
      /field "label": 2 is out of range for 2 choices/,
    ],
    [() => task("piqa").item(rec({ goal: "g", sol1: "a", label: 0 })), /missing field "sol2"/],
    [() => parseTaskList("hellaswag,mmlu"), /^--tasks: unknown task "mmlu" \(known: hellaswag, obqa, /],
    [() => parseTaskList("piqa,piqa"), /listed twice/],
  ];
  for (const [f, re] of cases) assert.match(userError(f), re);
});

Deno.test("task formats accept the other spellings of their datasets", () => {
  const rec = (v: Record<string, unknown>) => new JsonlRecord("in.jsonl", 1, v);
  const task = (name: string) => TASKS.find((t) => t.name === name)!;
  // SuperGLUE's BoolQ has label 0/1 instead of answer; WinoGrande's answer may be a number.
  assert.equal(task("boolq").item(rec({ passage: "p", question: "q", label: 1 })).label, 1);
  assert.equal(
    task("winogrande").item(rec({ sentence: "a _ b", option1: "x", option2: "y", answer: 2 })).label,
    1,
  );
  // OBQA's answer key may carry a space (lm-eval strips it); ARC's may not.
  const choices = { text: ["a", "b"], label: ["A", "B"] };
  assert.equal(task("obqa").item(rec({ question_stem: "q", choices, answerKey: " B" })).label, 1);
  assert.equal(parseTaskList("openbookqa, piqa")[0].name, "obqa");
});

Deno.test("readJsonl: bad lines and files are one-line errors naming file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string | Uint8Array, RegExp][] = [
      ['{"a": 1}\n\n{"a": 2,}\n', /^.*bad\.jsonl:3: not valid JSON \(/],
      ['{"a": 1}\n[1, 2]\n', /^.*bad\.jsonl:2: expected a JSON object, got an array$/],
      ["\n  \n", /^.*bad\.jsonl: no items$/],
      [new Uint8Array([0x7b, 0xff, 0x7d]), /^.*bad\.jsonl: not valid UTF-8$/],
    ];
    for (const [content, re] of cases) {
      const path = `${dir}/bad.jsonl`;
      if (typeof content === "string") await Deno.writeTextFile(path, content);
      else await Deno.writeFile(path, content);
      await assert.rejects(() => readJsonl(path), (e: Error) => {
        assert.ok(isUserError(e));
        assert.match(e.message, re);
        return true;
      });
    }
    await assert.rejects(() => readJsonl(`${dir}/none.jsonl`), /none\.jsonl: not found/);
    // CRLF line ends and blank lines are fine; line numbers count them.
    await Deno.writeTextFile(`${dir}/ok.jsonl`, '\r\n{"a": 1}\r\n\r\n{"a": 2}\r\n');
    const records = await readJsonl(`${dir}/ok.jsonl`);
    assert.deepEqual(records.map((r) => [r.line, r.value.a]), [[2, 1], [4, 2]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
