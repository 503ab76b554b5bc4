import assert from "node:assert/strict";
import { buildReport, formatReport } from "./report.ts";
import { TASKS } from "./tasks.ts";

const task = (name: string) => TASKS.find((t) => t.name === name)!;

Deno.test("the report keeps acc_norm where lm-eval reports it, and averages as TinyLlama's table", () => {
  const order = [task("hellaswag"), task("winogrande"), task("piqa")];
  const report = buildReport([
    [order[0], { acc: 0.5, acc_norm: 0.625, acc_bytes: 0.5, n: 8 }],
    [order[1], { acc: 0.75, acc_norm: 0.25, acc_bytes: 0.25, n: 4 }],
    [order[2], { acc: 0.25, acc_norm: 0.5, acc_bytes: 0.5, n: 4 }],
  ]);
  assert.deepEqual(report.tasks.winogrande, { acc: 0.75, acc_norm: null, paper: 0.75, n: 4 });
  assert.deepEqual(report.tasks.hellaswag, { acc: 0.5, acc_norm: 0.625, paper: 0.625, n: 8 });
  assert.equal(report.average.acc, 0.5);
  assert.equal(report.average.acc_norm, 0.5625);
  assert.equal(report.average.paper, (0.625 + 0.75 + 0.5) / 3);
  const text = formatReport(order, report);
  assert.match(text, /^hellaswag +8 +50\.00 +62\.50$/m);
  assert.match(text, /^winogrande +4 +75\.00 +-$/m);
  assert.match(text, /^average +50\.00 +56\.25$/m);
  assert.ok(
    text.endsWith(["HellaSwag  WinoGrande   piqa    Avg", "    62.50       75.00  50.00  62.50"].join("\n")),
  );
  // No task with acc_norm: its average is null.
  assert.equal(
    buildReport([[task("boolq"), { acc: 1, acc_norm: 1, acc_bytes: 1, n: 1 }]]).average.acc_norm,
    null,
  );
});
