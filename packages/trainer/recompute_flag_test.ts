import assert from "node:assert/strict";
import { parsePretrainFlags, trainOptionsFromFlags } from "./flags.ts";

Deno.test("flags: --recompute reaches the train options; without it, nothing is set", () => {
  const on = parsePretrainFlags(["--recompute", "--max-steps", "3"]);
  assert.equal(on.recompute, true);
  assert.equal(trainOptionsFromFlags(on).recompute, true);
  const off = parsePretrainFlags(["--max-steps", "3"]);
  assert.equal(off.recompute, undefined);
  assert.equal(trainOptionsFromFlags(off).recompute, undefined);
});
