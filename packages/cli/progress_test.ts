import assert from "node:assert/strict";
import { formatSeconds, Progress } from "./progress.ts";

Deno.test("formatSeconds", () => {
  assert.equal(formatSeconds(5.2), "5s");
  assert.equal(formatSeconds(73), "1m13s");
  assert.equal(formatSeconds(3725), "1h02m");
  assert.equal(formatSeconds(NaN), "?");
});

Deno.test("Progress line shows count, bar, percentage and info", () => {
  const p = new Progress({ total: 4, label: "steps", forceTty: false });
  p.update(2, "loss 2.5");
  const line = p.line();
  assert.match(line, /^steps 2\/4 \[#{12}\.{12}\] 50% loss 2\.5 /);
});
