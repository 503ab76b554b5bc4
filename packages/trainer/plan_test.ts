import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { maxMicroBatch, memoryPlan, PRESETS } from "@tinyllama-ts/model";
import { parsePretrainFlags } from "./flags.ts";
import { planLines } from "./plan.ts";

Deno.test("--plan: the plan's parts for the flags, and the micro-batches that fit --memory-gb", async () => {
  const flags = parsePretrainFlags([
    "--config",
    "tinyllama-1.1b",
    "--seq-len",
    "2048",
    "--micro-batch-size",
    "4",
    "--plan",
    "--memory-gb",
    "80",
  ]);
  const lines = await planLines(flags);
  const c = PRESETS["tinyllama-1.1b"], plan = memoryPlan(c, { microBatch: 4, seqLen: 2048 });
  assert.match(lines[0], /tinyllama-1\.1b, micro-batch 4 × seq 2048, backend wasm, recompute off/);
  assert.ok(lines.some((l) => l.includes(`total`) && l.includes((plan.total / 1e9).toFixed(3))));
  assert.ok(lines.some((l) => l.includes("does not fit the wasm backend")));
  for (const recompute of [false, true]) {
    const b = maxMicroBatch(c, { seqLen: 2048, memoryBytes: 80e9, recompute });
    const want = `in 80 GB at seq 2048${recompute ? " with --recompute" : ""}: micro-batch ${b} fits`;
    assert.ok(lines.some((l) => l.includes(want)), want);
  }
});

Deno.test("--plan: --memory-gb alone, or a bad value, is a one-line error", () => {
  assert.throws(() => parsePretrainFlags(["--memory-gb", "80"]), isUserError);
  assert.throws(() => parsePretrainFlags(["--plan", "--memory-gb", "-1"]), isUserError);
  assert.throws(() => parsePretrainFlags(["--plan", "--memory-gb", "lots"]), isUserError);
});
